// Where the image sits in the viewer: zoom, pan, rotation and flips, and the mapping between widget
// and image coordinates. Plain maths with no widget, so every invariant is unit-tested
// (tests/viewer/test_viewtransform.cpp).
//
// Coordinates:
//  - image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1); the image centre is (w/2, h/2).
//  - widget coordinates: logical (device-independent) pixels, as Qt's mouse events report them.
// The zoom the user sees ("100%") counts DEVICE pixels per image pixel, so on a 2x high-DPI screen
// 1:1 means 0.5 logical pixels per image pixel.
#pragma once

#include <QPointF>
#include <QSize>
#include <QSizeF>
#include <QTransform>

namespace cxr::viewer {

class ViewTransform {
 public:
  static constexpr double kMinZoom = 0.02;  // device pixels per image pixel
  static constexpr double kMaxZoom = 64.0;

  void setImageSize(QSize size);           // resets orientation and fits
  void setViewportSize(QSizeF logicalSize);  // keeps fitting if fit mode is on
  void setDevicePixelRatio(double ratio);
  QSize imageSize() const { return imageSize_; }
  QSizeF viewportSize() const { return viewport_; }
  double devicePixelRatio() const { return dpr_; }

  // Zoom in device pixels per image pixel (1.0 == one image pixel on one screen pixel).
  double zoom() const { return scale_ * dpr_; }
  // Logical widget pixels per image pixel (what the painter's transform uses).
  double scale() const { return scale_; }

  // Fit the whole (rotated) image into the viewport, centred. Stays in fit mode on resize until
  // the user zooms or pans.
  void fitToWindow();
  bool isFitMode() const { return fitMode_; }
  // One image pixel per device pixel, keeping the image point at the viewport centre.
  void setActualPixels();
  // Sets the zoom so that the image point under `widgetAnchor` stays under it.
  void setZoomAround(double zoom, QPointF widgetAnchor);
  void zoomAround(QPointF widgetAnchor, double factor) { setZoomAround(zoom() * factor, widgetAnchor); }
  // Moves the image with the mouse: the image point under p moves to p + delta.
  void panBy(QPointF widgetDelta);

  // Orientation as the user sees it: each operation acts on the picture on screen, whatever was
  // done before (rotate then flip == what you would expect from looking at the screen).
  void rotateClockwise();
  void rotateCounterClockwise();
  void flipHorizontal();
  void flipVertical();
  void resetOrientation();
  int rotationDegrees() const;  // 0, 90, 180, 270 (clockwise), after removing a flip (see isMirrored)
  bool isMirrored() const;      // determinant < 0: the picture is a mirror image of the file

  QPointF mapToImage(QPointF widgetPoint) const;
  QPointF mapToWidget(QPointF imagePoint) const;
  QTransform imageToWidget() const;
  // The image centre point currently shown at the viewport centre.
  QPointF imageCenter() const { return center_; }

 private:
  // The orientation is an integer 2x2 matrix (rotations by 90 degrees and flips), applied to the
  // image vector (x - centre); screen y grows downwards, so "clockwise" is (x, y) -> (-y, x).
  struct Orientation {
    int a = 1, b = 0, c = 0, d = 1;  // [a b; c d]
    QPointF apply(QPointF v) const { return {a * v.x() + b * v.y(), c * v.x() + d * v.y()}; }
    // Orthogonal with entries in {-1, 0, 1}: the inverse is the transpose.
    QPointF applyInverse(QPointF v) const { return {a * v.x() + c * v.y(), b * v.x() + d * v.y()}; }
    Orientation after(int pa, int pb, int pc, int pd) const {  // returns P * this
      return {pa * a + pb * c, pa * b + pb * d, pc * a + pd * c, pc * b + pd * d};
    }
    bool swapsAxes() const { return a == 0; }
  };

  QSizeF orientedImageSize() const;
  QPointF viewportCenter() const { return {viewport_.width() / 2.0, viewport_.height() / 2.0}; }

  QSize imageSize_;
  QSizeF viewport_{1, 1};
  double dpr_ = 1.0;
  double scale_ = 1.0;  // logical pixels per image pixel
  QPointF center_;      // image point at the viewport centre
  Orientation orientation_;
  bool fitMode_ = true;
};

}  // namespace cxr::viewer
