#include "cxr/viewer/window_level.h"

#include <algorithm>
#include <cmath>


namespace cxr::viewer {

double WindowDrag::unitsPerPixel(double minModality, double maxModality) {
  const double range = std::abs(maxModality - minModality);
  // 8-bit images have a range of 255: half a unit per pixel still lets the user hit every value.
  return std::max(range, 1.0) / kPixelsForRange;
}

void WindowDrag::begin(const VoiWindow& start, QPoint mousePos, double minModality,
                       double maxModality) {
  start_ = start;
  origin_ = mousePos;
  step_ = unitsPerPixel(minModality, maxModality);
  active_ = true;
}

VoiWindow WindowDrag::update(QPoint mousePos) const {
  const QPoint d = mousePos - origin_;
  VoiWindow w = start_;
  w.width = std::max(1.0, start_.width + d.x() * step_);
  w.center = start_.center + d.y() * step_;
  w.function = VoiWindow::Function::Linear;
  w.explanation = QStringLiteral("Manual");
  return w;
}

VoiWindow windowForRange(double minModality, double maxModality) {
  VoiWindow w;
  w.center = (minModality + maxModality) / 2.0;
  w.width = std::max(1.0, maxModality - minModality + 1.0);
  w.explanation = QStringLiteral("Full range");
  return w;
}

}  // namespace cxr::viewer
