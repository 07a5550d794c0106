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

std::shared_ptr<RadiographImage> makeDisplayProxy(const RadiographImage& image, int frame,
                                                  int factor, QRect region) {
  auto proxy = std::make_shared<RadiographImage>();
  // Copy every attribute except the pixel data (which may be many frames).
  {
    RadiographImage& p = *proxy;
    p.path = image.path;
    p.formatName = image.formatName;
    p.samplesPerPixel = image.samplesPerPixel;
    p.photometric = image.photometric;
    p.bitsAllocated = image.bitsAllocated;
    p.bitsStored = image.bitsStored;
    p.isSigned = image.isSigned;
    p.minStored = image.minStored;
    p.maxStored = image.maxStored;
    p.rescaleSlope = image.rescaleSlope;
    p.rescaleIntercept = image.rescaleIntercept;
    p.rescaleType = image.rescaleType;
    p.modalityLut = image.modalityLut;
    p.fileWindows = image.fileWindows;
    p.voiLuts = image.voiLuts;
    p.presentationInverse = image.presentationInverse;
    p.isDicom = image.isDicom;
  }
  factor = std::max(1, factor);
  const QRect whole(0, 0, image.width, image.height);
  region = region.isEmpty() ? whole : (region & whole);
  const int w = region.width(), h = region.height();
  const int pw = (w + factor - 1) / factor, ph = (h + factor - 1) / factor;
  proxy->width = pw;
  proxy->height = ph;
  proxy->frames = 1;
  if (frame < 0 || frame >= static_cast<int>(image.framesData.size()))
    return proxy;
  const std::vector<qint32>& src = image.framesData[static_cast<size_t>(frame)];
  const int channels = image.samplesPerPixel == 3 ? 3 : 1;
  if (region.isEmpty() ||
      src.size() < static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * channels)
    return proxy;
  std::vector<qint32> out(static_cast<size_t>(pw) * static_cast<size_t>(ph) * channels);
  std::vector<qint64> rowSums(static_cast<size_t>(pw) * channels);
  for (int py = 0; py < ph; ++py) {
    std::fill(rowSums.begin(), rowSums.end(), 0);
    const int y0 = py * factor, y1 = std::min(h, y0 + factor);
    for (int y = y0; y < y1; ++y) {
      // Row y of the region, starting at its left edge.
      const qint32* line = src.data() +
                           (static_cast<size_t>(y + region.top()) * image.width + region.left()) *
                               channels;
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < channels; ++c)
          rowSums[static_cast<size_t>(x / factor) * channels + c] += line[x * channels + c];
    }
    for (int px = 0; px < pw; ++px) {
      const int x0 = px * factor, x1 = std::min(w, x0 + factor);
      const double count = static_cast<double>(x1 - x0) * (y1 - y0);
      for (int c = 0; c < channels; ++c) {
        const double mean = rowSums[static_cast<size_t>(px) * channels + c] / count;
        out[(static_cast<size_t>(py) * pw + px) * channels + c] =
            static_cast<qint32>(std::lround(mean));
      }
    }
  }
  proxy->framesData.push_back(std::move(out));
  return proxy;
}

}  // namespace cxr::viewer
