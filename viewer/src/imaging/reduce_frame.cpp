// Box reduction of part of a frame, for display at low zoom: a 3000x3000 radiograph shown at 30%
// has ten image pixels per screen pixel, and averaging the stored values once (then mapping only
// the reduced values on each window change) is ~10x cheaper than rendering and scaling them all.
#include "cxr/viewer/radiograph.h"

#include <algorithm>
#include <cmath>

namespace cxr::viewer {

ReducedFrame reduceFrame(const RadiographImage& image, int frame, QRect region, int factor) {
  ReducedFrame reduced;
  factor = std::max(1, factor);
  const QRect whole(0, 0, image.width, image.height);
  region = region.isEmpty() ? whole : (region & whole);
  const int channels = image.samplesPerPixel == 3 ? 3 : 1;
  const int w = region.width(), h = region.height();
  const int pw = (w + factor - 1) / factor, ph = (h + factor - 1) / factor;
  reduced.region = region;
  reduced.factor = factor;
  reduced.width = pw;
  reduced.height = ph;
  reduced.samplesPerPixel = channels;
  if (frame < 0 || frame >= static_cast<int>(image.framesData.size()) || region.isEmpty())
    return reduced;
  const std::vector<qint32>& src = image.framesData[static_cast<size_t>(frame)];
  if (src.size() < static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * channels)
    return reduced;

  std::vector<qint32> out(static_cast<size_t>(pw) * static_cast<size_t>(ph) * channels);
  std::vector<qint64> rowSums(static_cast<size_t>(pw) * channels);
  for (int py = 0; py < ph; ++py) {
    std::fill(rowSums.begin(), rowSums.end(), 0);
    const int y0 = py * factor, y1 = std::min(h, y0 + factor);
    for (int y = y0; y < y1; ++y) {
      // Row y of the region, starting at its left edge.
      const qint32* line = src.data() +
                           (static_cast<size_t>(y + region.top()) * image.width + region.left()) * channels;
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < channels; ++c)
          rowSums[static_cast<size_t>(x / factor) * channels + c] += line[x * channels + c];
    }
    for (int px = 0; px < pw; ++px) {
      const int x0 = px * factor, x1 = std::min(w, x0 + factor);
      const double count = static_cast<double>(x1 - x0) * (y1 - y0);
      for (int c = 0; c < channels; ++c) {
        const double mean = rowSums[static_cast<size_t>(px) * channels + c] / count;
        out[(static_cast<size_t>(py) * pw + px) * channels + c] = static_cast<qint32>(std::lround(mean));
      }
    }
  }
  reduced.values = std::move(out);
  return reduced;
}

}  // namespace cxr::viewer
