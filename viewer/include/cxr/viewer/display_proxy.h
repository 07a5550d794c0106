// A reduced copy of one frame for display at low zoom. A 3000x3000 radiograph shown at 30% has
// ten image pixels per screen pixel: rendering and smoothly scaling all of them on every
// window/level step costs ~50 ms a frame. Box-averaging the stored values by an integer factor
// first makes a W/L drag ~10x cheaper and also anti-aliases better than bilinear scaling at
// that ratio. At high zoom only the visible part (with a margin) of a large image is rendered.
// Statistics and pixel read-outs always use the full image, never the proxy.
// The reduction itself is cxr_imaging's reduceFrame() / renderFrame(image, frame, voi, region,
// factor) (radiograph.h); this header only decides the factor and the region.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QRect>
#include <QRectF>
#include <QSize>

namespace cxr::viewer {

// The reduction factor for a zoom (device pixels per image pixel): 1 (none) from 50% up, else
// floor(1 / zoom), at most 16. The proxy is then shown at 0.5..1 device pixels per proxy pixel.
int displayProxyFactor(double zoom);

// The part of the image worth rendering when `visible` (image coordinates) is on screen: the
// visible part plus a quarter of its size on each side (so panning a little needs no new render),
// clipped to the image, its origin aligned to `factor`. Returns the whole image when that part
// would cover more than 60% of it anyway (cropping would save little).
QRect displayRegionFor(const QRectF& visible, QSize imageSize, int factor);

}  // namespace cxr::viewer
