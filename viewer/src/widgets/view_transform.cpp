#include "cxr/viewer/view_transform.h"

#include <algorithm>
#include <cmath>

namespace cxr::viewer {

void ViewTransform::setImageSize(QSize size) {
  m_imageSize = size;
  m_orientation = {};
  fitToWindow();
}

void ViewTransform::setViewportSize(QSizeF logicalSize) {
  // A collapsed widget still needs a non-zero viewport for the maths to stay finite.
  const QSizeF newSize(std::max(1.0, logicalSize.width()), std::max(1.0, logicalSize.height()));
  if (m_fitMode) {
    m_viewport = newSize;
    fitToWindow();
    return;
  }
  // Keep the image point at the centre where it is: resizing the window should not move the
  // anatomy the user is looking at.
  m_viewport = newSize;
}

void ViewTransform::setDevicePixelRatio(double ratio) {
  if (ratio > 0)
    m_dpr = ratio;
  if (m_fitMode)
    fitToWindow();
}

QSizeF ViewTransform::orientedImageSize() const {
  const QSizeF s(std::max(1, m_imageSize.width()), std::max(1, m_imageSize.height()));
  return m_orientation.swapsAxes() ? s.transposed() : s;
}

void ViewTransform::fitToWindow() {
  const QSizeF img = orientedImageSize();
  m_scale = std::min(m_viewport.width() / img.width(), m_viewport.height() / img.height());
  m_scale = std::clamp(m_scale, kMinZoom / m_dpr, kMaxZoom / m_dpr);
  m_center = QPointF(m_imageSize.width() / 2.0, m_imageSize.height() / 2.0);
  m_fitMode = true;
}

void ViewTransform::setActualPixels() {
  setZoomAround(1.0, viewportCenter());
}

void ViewTransform::setZoomAround(double zoom, QPointF widgetAnchor) {
  const QPointF anchoredImagePoint = mapToImage(widgetAnchor);
  m_scale = std::clamp(zoom, kMinZoom, kMaxZoom) / m_dpr;
  // Solve mapToWidget(anchoredImagePoint) == widgetAnchor for the new centre:
  //   viewportCenter + scale * O (q - centre) = anchor  =>  centre = q - O^-1 (anchor - vc) / scale
  m_center = anchoredImagePoint -
             m_orientation.applyInverse((widgetAnchor - viewportCenter()) / m_scale);
  m_fitMode = false;
}

void ViewTransform::panBy(QPointF widgetDelta) {
  m_center -= m_orientation.applyInverse(widgetDelta / m_scale);
  m_fitMode = false;
}

// Each operation left-multiplies the orientation, i.e. acts on the picture as it is on screen.
void ViewTransform::rotateClockwise() {
  m_orientation = m_orientation.after(0, -1, 1, 0);
  if (m_fitMode)
    fitToWindow();
}

void ViewTransform::rotateCounterClockwise() {
  m_orientation = m_orientation.after(0, 1, -1, 0);
  if (m_fitMode)
    fitToWindow();
}

void ViewTransform::flipHorizontal() { m_orientation = m_orientation.after(-1, 0, 0, 1); }
void ViewTransform::flipVertical() { m_orientation = m_orientation.after(1, 0, 0, -1); }

void ViewTransform::resetOrientation() {
  m_orientation = {};
  if (m_fitMode)
    fitToWindow();
}

bool ViewTransform::isMirrored() const {
  return m_orientation.a * m_orientation.d - m_orientation.b * m_orientation.c < 0;
}

int ViewTransform::rotationDegrees() const {
  // For a mirrored orientation report the rotation that follows a horizontal flip of the file.
  Orientation o = m_orientation;
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
  return viewportCenter() + m_orientation.apply(imagePoint - m_center) * m_scale;
}

QPointF ViewTransform::mapToImage(QPointF widgetPoint) const {
  return m_center + m_orientation.applyInverse((widgetPoint - viewportCenter()) / m_scale);
}

QTransform ViewTransform::imageToWidget() const {
  // QTransform maps row vectors: (x, y) -> (m11 x + m21 y + dx, m12 x + m22 y + dy).
  const auto& o = m_orientation;
  const QPointF origin = mapToWidget(QPointF(0, 0));
  return QTransform(o.a * m_scale, o.c * m_scale, o.b * m_scale, o.d * m_scale, origin.x(),
                    origin.y());
}

}  // namespace cxr::viewer
