#include "cxr/assistant/image_input.h"

#include <QImage>

#include <cstring>

namespace cxr::assistant {

bool isGrayImage(const QImage& image) {
  switch (image.format()) {
    case QImage::Format_Grayscale8:
    case QImage::Format_Grayscale16:
    case QImage::Format_Mono:
    case QImage::Format_MonoLSB:
      return true;
    case QImage::Format_Indexed8:
      return image.isGrayscale();  // looks at the palette only
    default:
      // A 32-bit image is RGB even when every pixel is gray: asking would scan every pixel, and the
      // engine's luma gives a gray pixel (r = g = b) its own value back.
      return false;
  }
}

cxr::ImageInput toImageInput(const QImage& image) {
  cxr::ImageInput in;
  if (image.isNull()) return in;
  const bool gray = isGrayImage(image);
  const QImage packed = image.convertToFormat(gray ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
  in.width = packed.width();
  in.height = packed.height();
  in.channels = gray ? 1 : 3;
  const size_t rowBytes = size_t(in.width) * size_t(in.channels);
  in.pixels.resize(rowBytes * size_t(in.height));
  for (int y = 0; y < in.height; ++y)
    std::memcpy(in.pixels.data() + rowBytes * size_t(y), packed.constScanLine(y), rowBytes);
  return in;
}

}  // namespace cxr::assistant
