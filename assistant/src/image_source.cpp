#include "cxr/assistant/image_source.h"

#include <QRectF>
#include <cstring>

namespace cxr::assistant {

ImageInput toImageInput(const QImage& image) {
  ImageInput in;
  if (image.isNull()) return in;
  const bool gray = image.isGrayscale();
  const QImage converted = image.convertToFormat(gray ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
  in.width = converted.width();
  in.height = converted.height();
  in.channels = gray ? 1 : 3;
  const size_t rowBytes = size_t(in.width) * in.channels;
  in.pixels.resize(rowBytes * in.height);
  for (int y = 0; y < in.height; ++y)
    std::memcpy(in.pixels.data() + rowBytes * y, converted.constScanLine(y), rowBytes);
  return in;
}

QRectF cropRectInSource(const PreprocessInfo& info, int sourceWidth, int sourceHeight) {
  if (info.resizedWidth <= 0 || info.resizedHeight <= 0) return {};
  const double sx = double(sourceWidth) / info.resizedWidth;
  const double sy = double(sourceHeight) / info.resizedHeight;
  return QRectF(info.cropLeft * sx, info.cropTop * sy, info.cropSize * sx, info.cropSize * sy);
}

}  // namespace cxr::assistant
