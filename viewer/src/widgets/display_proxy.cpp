#include "cxr/viewer/display_proxy.h"

#include <algorithm>
#include <cmath>

namespace cxr::viewer {

int displayProxyFactor(double zoom) {
  if (!(zoom > 0) || zoom >= 0.5)
    return 1;
  return std::clamp(static_cast<int>(std::floor(1.0 / zoom)), 1, 16);
}

QRect displayRegionFor(const QRectF& visible, QSize imageSize, int factor) {
  const QRect whole(QPoint(0, 0), imageSize);
  factor = std::max(1, factor);
  const QRectF v = visible.normalized();
  const QRectF grown = v.adjusted(-v.width() / 4, -v.height() / 4, v.width() / 4, v.height() / 4);
  QRect region = grown.toAlignedRect() & whole;
  if (region.isEmpty())
    return whole;
  // Align the origin to the proxy grid, so a proxy pixel always covers the same image pixels.
  region.setLeft(region.left() / factor * factor);
  region.setTop(region.top() / factor * factor);
  const double covered = static_cast<double>(region.width()) * region.height() /
                         (static_cast<double>(whole.width()) * whole.height());
  return covered > 0.6 ? whole : region;
}

}  // namespace cxr::viewer
