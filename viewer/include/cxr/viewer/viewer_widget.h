// The radiograph canvas: shows one frame of a RadiographImage under a VOI selection, with zoom,
// pan, rotation, flips, window/level drag, measurements, corner overlays and a magnifier.
//
// The widget holds state and routes input; the maths lives in plain classes (ViewTransform,
// WindowDrag, measurement.h, overlay.h). The 8-bit frame is rendered once per window/frame/invert
// change and cached; zooming, panning and painting overlays reuse the cached QImage.
#pragma once

#include "cxr/viewer/measurement.h"
#include "cxr/viewer/overlay.h"
#include "cxr/viewer/radiograph.h"
#include "cxr/viewer/view_transform.h"
#include "cxr/viewer/window_level.h"

#include <QImage>
#include <QList>
#include <QWidget>

#include <memory>
#include <optional>

class QLabel;
class QSlider;
class QPainter;

namespace cxr::viewer {

// What the left mouse button does. Right-button drag is always window/level, middle-button drag
// always pans, the wheel always zooms around the cursor.
enum class ViewerTool { Pan, WindowLevel, Length, Angle, RectangleRoi, EllipseRoi };

class ViewerWidget : public QWidget {
  Q_OBJECT

 public:
  explicit ViewerWidget(QWidget* parent = nullptr);
  ~ViewerWidget() override;

  // Shows `image` (frame 0, default window, fitted). Null clears the viewer. Measurements of the
  // previous image are dropped.
  void setImage(std::shared_ptr<const RadiographImage> image);
  const std::shared_ptr<const RadiographImage>& image() const { return image_; }
  bool hasImage() const { return image_ != nullptr; }

  // ---- Window ----
  VoiSelection voi() const { return voi_; }
  // The window in effect (a VOI LUT selection reports the full-range window it replaced).
  VoiWindow currentWindow() const;
  void setWindow(const VoiWindow& window);
  void setVoiSelection(const VoiSelection& voi);
  bool isInverted() const { return voi_.userInvert; }
  QList<VoiWindow> presets() const { return presets_; }
  void applyPreset(int index);

  // ---- Frames ----
  int frame() const { return frame_; }
  int frameCount() const { return image_ ? image_->frames : 0; }

  // ---- View ----
  const ViewTransform& view() const { return view_; }
  ViewTransform& viewForTests() { return view_; }

  // ---- Tools and display options ----
  ViewerTool tool() const { return tool_; }
  bool overlaysVisible() const { return overlaysVisible_; }
  bool isAnonymised() const { return anonymised_; }
  bool magnifierEnabled() const { return magnifier_; }

  // ---- Measurements ----
  const QList<Measurement>& measurements() const { return measurements_; }
  int selectedMeasurement() const { return selected_; }
  void addMeasurement(const Measurement& m);
  void selectMeasurement(int index);

  // ---- Region outline (for the assistant: the part of the image the model sees) ----
  // Draws a dashed outline of `imageRect` (image coordinates) with a small label; an empty
  // rectangle removes it. Cleared when another image is shown.
  void setRegionOutline(const QRectF& imageRect, const QString& label = {});
  QRectF regionOutline() const { return outline_; }

  // ---- Output ----
  OverlayText overlayText() const;
  // The current view as on screen (image, measurements, overlays), at device resolution.
  QImage renderView() const;
  // The full-resolution 8-bit frame under the current window (cached).
  QImage renderedFrame() const;
  // How often the frame shown on screen was rendered: once per window, invert or frame change,
  // plus once when zooming crosses a display-proxy level or panning leaves the rendered region
  // of a large image (display_proxy.h).
  int renderCount() const { return renderCount_; }
  // The reduction factor of what is painted now (1: full resolution).
  int displayFactor() const;
  // The part of the frame (image pixels) the last paint rendered: the whole frame, or for a large
  // image at high zoom the visible part plus a margin.
  QRect displayRegion() const { return renderedRegion_; }
  // "x, y = value unit" for the pixel under a widget position, empty outside the image.
  QString pixelInfoAt(QPointF widgetPos) const;

  QSize sizeHint() const override { return {800, 800}; }

 public Q_SLOTS:
  void setFrame(int frame);
  void nextFrame();
  void previousFrame();
  void setTool(cxr::viewer::ViewerTool tool);
  void setInverted(bool inverted);
  void resetWindow();
  void zoomIn();
  void zoomOut();
  void fitToWindow();
  void actualPixels();
  void rotateClockwise();
  void rotateCounterClockwise();
  void flipHorizontal();
  void flipVertical();
  void resetView();  // fit, no rotation or flip, default window, not inverted
  void setOverlaysVisible(bool visible);
  void setAnonymised(bool anonymised);
  void setMagnifierEnabled(bool enabled);
  void deleteSelectedMeasurement();
  void clearMeasurements();
  void cancelMeasurement();

 Q_SIGNALS:
  void imageChanged();
  void windowChanged(const cxr::viewer::VoiWindow& window);
  void invertedChanged(bool inverted);
  void frameChanged(int frame);
  void viewChanged();  // zoom, pan, rotation or flip
  void toolChanged(cxr::viewer::ViewerTool tool);
  void measurementsChanged();
  void cursorInfoChanged(const QString& info);  // pixel under the cursor, for the status bar

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void changeEvent(QEvent* event) override;

 private:
  enum class Drag { None, Pan, Window, Measure, MeasurementPoint, MeasurementBody };

  void paintContent(QPainter& p, QSizeF viewport, double dpr) const;
  void paintMeasurements(QPainter& p) const;
  void paintOverlays(QPainter& p, QSizeF viewport) const;
  void paintMagnifier(QPainter& p) const;
  void paintRegionOutline(QPainter& p) const;
  void paintIncompleteMark(QPainter& p, QSizeF viewport) const;
  void syncViewGeometry();
  void invalidateRender();
  void updateFrameBar();
  int pickMeasurement(QPointF widgetPos) const;
  // The measurement point (end, vertex or ROI corner) near widgetPos: {measurement, point}.
  std::optional<std::pair<int, int>> pickMeasurementPoint(QPointF widgetPos) const;
  bool isMeasuringTool() const;
  MeasurementKind measurementKindForTool() const;
  void finishMeasurementPoint(QPointF imagePos);

  std::shared_ptr<const RadiographImage> image_;
  VoiSelection voi_;
  QList<VoiWindow> presets_;
  int frame_ = 0;
  ViewTransform view_;

  // What is painted: the frame rendered at full resolution or from a reduced proxy (factor > 1).
  const QImage& displayImage(int* factor, QRect* region) const;
  QRectF visibleImageRect() const;  // the widget's area in image coordinates

  mutable QImage rendered_;           // what is painted
  mutable int renderedFactor_ = 0;    // its reduction factor
  mutable QRect renderedRegion_;      // the part of the frame it covers (image pixels)
  mutable bool renderDirty_ = true;
  mutable int renderCount_ = 0;
  mutable QImage fullRendered_;       // full resolution, for the magnifier and export callers
  mutable bool fullDirty_ = true;
  mutable ReducedFrame reduced_;      // the rendered region's values (block means if factor > 1)
  mutable int reducedFrame_ = -1;     // the frame they were taken from

  ViewerTool tool_ = ViewerTool::Pan;
  bool overlaysVisible_ = true;
  bool anonymised_ = false;
  bool magnifier_ = false;

  Drag drag_ = Drag::None;
  QPointF lastMouse_;
  QPointF pressPos_;
  std::optional<QPointF> cursor_;  // widget position, for the magnifier and live measurements
  WindowDrag windowDrag_;

  QRectF outline_;
  QString outlineLabel_;

  QList<Measurement> measurements_;
  std::optional<Measurement> pending_;  // being drawn
  int selected_ = -1;
  int draggedPoint_ = -1;  // Drag::MeasurementPoint: which point of the selected measurement

  QWidget* frameBar_ = nullptr;
  QSlider* frameSlider_ = nullptr;
  QLabel* frameLabel_ = nullptr;
};

}  // namespace cxr::viewer
