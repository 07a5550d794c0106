#include "cxr/assistant/image_source.h"

#include <QRectF>

namespace cxr::assistant {

QString ModelImageSource::windowText(ModelImageChoice choice) const {
  return choice == ModelImageChoice::CurrentWindow && !currentWindow.isNull() ? currentWindowText : defaultWindowText;
}

QString ModelImageSource::identity(ModelImageChoice choice) const {
  if (sha256.isEmpty()) return {};
  return QStringLiteral("sha256:%1 frame:%2 window:%3").arg(sha256).arg(frame).arg(windowText(choice));
}

QRectF cropRectInSource(const PreprocessInfo& info, int sourceWidth, int sourceHeight) {
  if (info.resizedWidth <= 0 || info.resizedHeight <= 0) return {};
  const double sx = double(sourceWidth) / info.resizedWidth;
  const double sy = double(sourceHeight) / info.resizedHeight;
  return QRectF(info.cropLeft * sx, info.cropTop * sy, info.cropSize * sx, info.cropSize * sy);
}

}  // namespace cxr::assistant
