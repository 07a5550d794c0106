// Test-only image reading through Qt Gui (model/ itself never links Qt): returns the pixels the
// way PIL hands them to the reference: PNG gray as 1 channel, everything else as packed RGB.
#pragma once

#include <QImage>
#include <QString>

#include <cstring>
#include <string>

#include "cxr/model/engine.h"

inline bool readTestImage(const std::string& path, cxr::ImageInput& out) {
  QImage image(QString::fromStdString(path));
  if (image.isNull()) return false;
  const bool gray = image.format() == QImage::Format_Grayscale8;
  if (!gray) image = image.convertToFormat(QImage::Format_RGB888);
  out.width = image.width();
  out.height = image.height();
  out.channels = gray ? 1 : 3;
  const size_t rowBytes = static_cast<size_t>(out.width) * out.channels;
  out.pixels.resize(rowBytes * out.height);
  for (int y = 0; y < out.height; ++y)
    std::memcpy(&out.pixels[rowBytes * y], image.constScanLine(y), rowBytes);
  return true;
}
