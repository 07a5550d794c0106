#include "model_image_feed.h"

#include <QDir>
#include <QFileInfo>
#include <QStringList>

namespace cxr::app {

using cxr::viewer::RadiographImage;
using cxr::viewer::VoiSelection;

QString describeVoi(const RadiographImage& image, const VoiSelection& voi, const QString& origin) {
  QString what;
  if (voi.voiLutIndex)
    what = QStringLiteral("VOI LUT %1").arg(*voi.voiLutIndex + 1);
  else {
    const cxr::viewer::VoiWindow w = voi.window ? *voi.window : cxr::viewer::fullRangeWindow(image);
    what = QStringLiteral("center %1, width %2").arg(w.center, 0, 'g', 6).arg(w.width, 0, 'g', 6);
  }
  return origin.isEmpty() ? what : QStringLiteral("%1 (%2)").arg(what, origin);
}

QString describeImage(const RadiographImage& image) {
  // Only the non-identifying fields: never the name, ID, dates, institution or the file name.
  const auto& f = image.fields;
  QStringList parts;
  for (const QString& s : {f.modality, f.viewPosition, f.bodyPart, f.laterality})
    if (!s.trimmed().isEmpty())
      parts << s.trimmed();
  if (parts.isEmpty())
    parts << image.formatName;
  parts << QStringLiteral("%1 x %2").arg(image.width).arg(image.height);
  return parts.join(QStringLiteral(" · "));
}

cxr::assistant::ModelImageSource makeModelImageSource(const RadiographImage& image, int frame,
                                                      const std::optional<VoiSelection>& onScreen) {
  cxr::assistant::ModelImageSource s;
  const VoiSelection fileDefault = cxr::viewer::defaultVoi(image);
  s.defaultWindow = cxr::viewer::renderForModel(image, frame);
  s.defaultWindowText = describeVoi(image, fileDefault,
                                    image.fileWindows.isEmpty() && image.voiLuts.empty()
                                        ? QStringLiteral("full range, the file's default")
                                        : QStringLiteral("the file's default"));
  if (onScreen) {
    s.currentWindow = cxr::viewer::renderForModel(image, frame, *onScreen);
    s.currentWindowText = describeVoi(image, *onScreen, QStringLiteral("on screen"));
  }
  s.filePath = QFileInfo(image.path).absoluteFilePath();
  s.sha256 = image.sha256;
  s.frame = frame;
  s.description = describeImage(image);
  s.patient.name = image.fields.patientName;
  s.patient.id = image.fields.patientId;
  s.patient.birthDate = image.fields.patientBirthDate;
  s.patient.studyDate = image.fields.studyDate;
  return s;
}

cxr::assistant::DatasetImage readDatasetImage(const QString& path, const QString& window,
                                              const cxr::viewer::LoadOptions& budget) {
  cxr::assistant::DatasetImage out;
  const auto loaded = cxr::viewer::loadRadiograph(path, budget);
  if (!loaded.ok()) {
    out.error = loaded.error;
    return out;
  }
  std::optional<VoiSelection> voi;
  if (window == QLatin1String("full")) voi = VoiSelection{cxr::viewer::fullRangeWindow(*loaded.image), std::nullopt, false};
  const QImage rendered = cxr::viewer::renderForModel(*loaded.image, 0, voi);
  if (rendered.isNull()) {
    out.error = QStringLiteral("%1: the image could not be rendered to 8-bit gray").arg(QDir::toNativeSeparators(path));
    return out;
  }
  out.pixels = cxr::assistant::toImageInput(rendered);
  out.sha256 = loaded.image->sha256;
  return out;
}

}  // namespace cxr::app
