// Test-only image reading through Qt Gui (model/ itself never links Qt), handed over with the
// program's own hand-off (cxr_image_input): PNG gray as 1 channel, everything else as packed RGB,
// as PIL hands them to the reference.
#pragma once

#include <QImage>
#include <QString>

#include <string>

#include "cxr/assistant/image_input.h"

inline bool readTestImage(const std::string& path, cxr::ImageInput& out) {
  const QImage image(QString::fromStdString(path));
  if (image.isNull()) return false;
  out = cxr::assistant::toImageInput(image);
  return true;
}
