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
  // 127.5 stays 127.5, 40 stays 40, 0.0125 keeps its digits.
  return QString::number(v, 'g', 6);
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
    // Without patient data, say which file this is (unless a description already does).
    if (out.topLeft.isEmpty() && s.fileName != f.seriesDescription.trimmed() &&
        s.fileName != f.studyDescription.trimmed())
      addIfSet(out.topLeft, s.fileName);
  } else {
    out.topLeft << QStringLiteral("Anonymised");
  }

  // Top right: what study. A file name such as "Doe_John_chest.png" can identify a patient, and a
  // description may repeat it (our loaders never put it there, but other writers might), so
  // anonymised mode drops any description that contains it.
  for (const QString& description : {f.studyDescription, f.seriesDescription}) {
    const bool namesTheFile = !s.fileName.isEmpty() && description.contains(s.fileName);
    if (!(s.anonymised && namesTheFile))
      addIfSet(out.topRight, description);
  }
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
    // Same convention as ViewTransform: a mirrored view is the file flipped horizontally, then
    // rotated clockwise.
    QStringList orient;
    if (s.mirrored)
      orient << QStringLiteral("Flip H");
    if (s.rotationDegrees != 0)
      orient << u"Rot " + QString::number(s.rotationDegrees) + u'°';
    out.bottomRight << orient.join(QStringLiteral(" + "));
  }
  if (s.frames > 1)
    out.bottomRight << u"Frame " + QString::number(s.frame + 1) + u'/' + QString::number(s.frames);
  if (s.width > 0)
    out.bottomRight << QString::number(s.width) + u" x " + QString::number(s.height);
  addIfSet(out.bottomRight, s.formatName);
  return out;
}

}  // namespace cxr::viewer
