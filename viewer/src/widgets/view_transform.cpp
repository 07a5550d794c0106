#include "cxr/viewer/view_transform.h"

#include <algorithm>
#include <cmath>

namespace cxr::viewer {

void ViewTransform::setImageSize(QSize size) {
  imageSize_ = size;
  orientation_ = {};
  fitToWindow();
}

void ViewTransform::setViewportSize(QSizeF logicalSize) {
  // A collapsed widget still needs a non-zero viewport for the maths to stay finite.
  const QSizeF newSize(std::max(1.0, logicalSize.width()), std::max(1.0, logicalSize.height()));
  if (fitMode_) {
    viewport_ = newSize;
    fitToWindow();
    return;
  }
  // Keep the image point at the centre where it is: resizing the window should not move the
  // anatomy the user is looking at.
  viewport_ = newSize;
}

void ViewTransform::setDevicePixelRatio(double ratio) {
  if (ratio > 0)
    dpr_ = ratio;
  if (fitMode_)
    fitToWindow();
}

QSizeF ViewTransform::orientedImageSize() const {
  const QSizeF s(std::max(1, imageSize_.width()), std::max(1, imageSize_.height()));
  return orientation_.swapsAxes() ? s.transposed() : s;
}

void ViewTransform::fitToWindow() {
  const QSizeF img = orientedImageSize();
  scale_ = std::min(viewport_.width() / img.width(), viewport_.height() / img.height());
  scale_ = std::clamp(scale_, kMinZoom / dpr_, kMaxZoom / dpr_);
  center_ = QPointF(imageSize_.width() / 2.0, imageSize_.height() / 2.0);
  fitMode_ = true;
}

void ViewTransform::setActualPixels() {
  setZoomAround(1.0, viewportCenter());
}

void ViewTransform::setZoomAround(double zoom, QPointF widgetAnchor) {
  const QPointF anchoredImagePoint = mapToImage(widgetAnchor);
  scale_ = std::clamp(zoom, kMinZoom, kMaxZoom) / dpr_;
  // Solve mapToWidget(anchoredImagePoint) == widgetAnchor for the new centre:
  //   viewportCenter + scale * O (q - centre) = anchor  =>  centre = q - O^-1 (anchor - vc) / scale
  center_ = anchoredImagePoint -
             orientation_.applyInverse((widgetAnchor - viewportCenter()) / scale_);
  fitMode_ = false;
}

void ViewTransform::panBy(QPointF widgetDelta) {
  center_ -= orientation_.applyInverse(widgetDelta / scale_);
  fitMode_ = false;
}

// Each operation left-multiplies the orientation, i.e. acts on the picture as it is on screen.
void ViewTransform::rotateClockwise() {
  orientation_ = orientation_.after(0, -1, 1, 0);
  if (fitMode_)
    fitToWindow();
}

void ViewTransform::rotateCounterClockwise() {
  orientation_ = orientation_.after(0, 1, -1, 0);
  if (fitMode_)
    fitToWindow();
}

void ViewTransform::flipHorizontal() { orientation_ = orientation_.after(-1, 0, 0, 1); }
void ViewTransform::flipVertical() { orientation_ = orientation_.after(1, 0, 0, -1); }

void ViewTransform::resetOrientation() {
  orientation_ = {};
  if (fitMode_)
    fitToWindow();
}

bool ViewTransform::isMirrored() const {
  return orientation_.a * orientation_.d - orientation_.b * orientation_.c < 0;
}

int ViewTransform::rotationDegrees() const {
  // For a mirrored orientation report the rotation that follows a horizontal flip of the file.
  Orientation o = orientation_;
  if (isMirrored())
    o = {-o.a, o.b, -o.c, o.d};  // O * Fx
  // Image x axis (1, 0) goes to (o.a, o.c) on screen.
  if (o.a == 1)
    return 0;
  if (o.c == 1)
    return 90;
  if (o.a == -1)
    return 180;
  return 270;
}

QPointF ViewTransform::mapToWidget(QPointF imagePoint) const {
  return viewportCenter() + orientation_.apply(imagePoint - center_) * scale_;
}

QPointF ViewTransform::mapToImage(QPointF widgetPoint) const {
  return center_ + orientation_.applyInverse((widgetPoint - viewportCenter()) / scale_);
}

QTransform ViewTransform::imageToWidget() const {
  // QTransform maps row vectors: (x, y) -> (m11 x + m21 y + dx, m12 x + m22 y + dy).
  const auto& o = orientation_;
  const QPointF origin = mapToWidget(QPointF(0, 0));
  return QTransform(o.a * scale_, o.c * scale_, o.b * scale_, o.d * scale_, origin.x(),
                    origin.y());
}

}  // namespace cxr::viewer
