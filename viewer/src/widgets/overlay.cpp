#include "cxr/viewer/overlay.h"

namespace cxr::viewer {

namespace {

void addIfSet(QStringList& lines, const QString& value) {
  if (!value.trimmed().isEmpty())
    lines << value.trimmed();
}

// DICOM dates are YYYYMMDD; show them as ISO dates, which read the same in every country.
QString isoDate(const QString& dicomDate) {
  const QString d = dicomDate.trimmed();
  if (d.size() == 8 && d.at(0).isDigit())
    return d.left(4) + u'-' + d.mid(4, 2) + u'-' + d.mid(6, 2);
  return d;
}

QString windowNumber(double v) {
  return QString::number(v, 'f', std::abs(v) < 10 ? 2 : 0);
}

}  // namespace

QString OverlayText::joined() const {
  return (topLeft + topRight + bottomLeft + bottomRight).join(u'\n');
}

OverlayText buildOverlay(const DisplayFields& f, const OverlayState& s) {
  OverlayText out;
  // Top left: who. Only ever filled from identifying fields, so anonymised mode skips it whole.
  if (!s.anonymised) {
    addIfSet(out.topLeft, f.patientName);
    if (!f.patientId.trimmed().isEmpty())
      out.topLeft << u"ID " + f.patientId.trimmed();
    if (!f.patientBirthDate.trimmed().isEmpty())
      out.topLeft << u"Born " + isoDate(f.patientBirthDate);
    addIfSet(out.topLeft, f.institution);
    if (!f.accessionNumber.trimmed().isEmpty())
      out.topLeft << u"Acc " + f.accessionNumber.trimmed();
    // A file name such as "Doe_John_chest.png" can identify a patient too.
    if (out.topLeft.isEmpty())
      addIfSet(out.topLeft, s.fileName);
  } else {
    out.topLeft << QStringLiteral("Anonymised");
  }

  // Top right: what study.
  addIfSet(out.topRight, f.studyDescription);
  addIfSet(out.topRight, f.seriesDescription);
  if (!s.anonymised) {
    const QString date = !f.studyDate.trimmed().isEmpty()  ? f.studyDate
                         : !f.seriesDate.trimmed().isEmpty() ? f.seriesDate
                                                             : f.acquisitionDate;
    if (!date.trimmed().isEmpty())
      out.topRight << isoDate(date);
  }
  QStringList modalityLine;
  for (const QString& v : {f.modality, f.bodyPart, f.viewPosition, f.laterality})
    if (!v.trimmed().isEmpty())
      modalityLine << v.trimmed();
  if (!modalityLine.isEmpty())
    out.topRight << modalityLine.join(u' ');

  // Bottom left: how it is displayed.
  if (s.windowFromLut)
    out.bottomLeft << QStringLiteral("VOI LUT");
  else
    out.bottomLeft << u"C " + windowNumber(s.windowCenter) + u"  W " + windowNumber(s.windowWidth);
  if (s.inverted)
    out.bottomLeft << QStringLiteral("Inverted");
  if (!s.calibrationLabel.isEmpty())
    out.bottomLeft << u"Calibration: " + s.calibrationLabel;

  // Bottom right: where in the image.
  out.bottomRight << u"Zoom " + QString::number(s.zoom * 100.0, 'f', s.zoom < 0.1 ? 1 : 0) + u'%';
  if (s.rotationDegrees != 0 || s.mirrored) {
    QString orient = u"Rot " + QString::number(s.rotationDegrees) + u'°';
    if (s.mirrored)
      orient += u" mirrored";
    out.bottomRight << orient;
  }
  if (s.frames > 1)
    out.bottomRight << u"Frame " + QString::number(s.frame + 1) + u'/' + QString::number(s.frames);
  if (s.width > 0)
    out.bottomRight << QString::number(s.width) + u" x " + QString::number(s.height);
  addIfSet(out.bottomRight, s.formatName);
  return out;
}

}  // namespace cxr::viewer
