#include "cxr/viewer/viewer_widget.h"

#include "cxr/viewer/display_proxy.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QSlider>
#include <QVBoxLayout>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace cxr::viewer {

namespace {

constexpr double kWheelStep = 1.25;        // zoom factor per wheel notch
constexpr double kButtonZoomStep = 1.5;    // zoom factor per Zoom In / Zoom Out
constexpr double kPickTolerancePx = 6.0;   // how close a click must be to select a measurement
constexpr double kClickSlopPx = 4.0;       // a press and release closer than this is a click
constexpr double kMagnifierSize = 200.0;   // loupe diameter, logical pixels
constexpr double kMagnifierFactor = 3.0;   // loupe zoom relative to the view

const QColor kMeasureColour(255, 214, 0);
const QColor kSelectedColour(0, 220, 255);

void drawShadowedText(QPainter& p, const QRectF& rect, int flags, const QString& text) {
  p.setPen(QColor(0, 0, 0, 220));
  p.drawText(rect.translated(1, 1), flags, text);
  p.setPen(QColor(235, 235, 235));
  p.drawText(rect, flags, text);
}

void drawLabel(QPainter& p, QPointF anchor, const QString& text, const QColor& colour) {
  const QFontMetricsF fm(p.font());
  const QStringList lines = text.split(u'\n');
  double w = 0;
  for (const QString& l : lines)
    w = std::max(w, fm.horizontalAdvance(l));
  const QRectF box(anchor + QPointF(10, -4), QSizeF(w + 8, fm.height() * lines.size() + 4));
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(0, 0, 0, 150));
  p.drawRoundedRect(box, 3, 3);
  p.setPen(colour);
  p.drawText(box.adjusted(4, 2, -4, -2), Qt::AlignLeft | Qt::AlignTop, text);
}

}  // namespace

ViewerWidget::ViewerWidget(QWidget* parent) : QWidget(parent) {
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setMinimumSize(200, 200);
  setCursor(Qt::OpenHandCursor);  // the Pan tool

  // Frame slider at the bottom, shown for multi-frame images only.
  frameBar_ = new QWidget(this);
  frameBar_->setObjectName(QStringLiteral("frameBar"));
  frameBar_->setAutoFillBackground(true);
  auto* barLayout = new QHBoxLayout(frameBar_);
  barLayout->setContentsMargins(8, 2, 8, 2);
  frameLabel_ = new QLabel(frameBar_);
  frameSlider_ = new QSlider(Qt::Horizontal, frameBar_);
  frameSlider_->setObjectName(QStringLiteral("frameSlider"));
  frameSlider_->setFocusPolicy(Qt::NoFocus);
  barLayout->addWidget(frameLabel_);
  barLayout->addWidget(frameSlider_, 1);
  connect(frameSlider_, &QSlider::valueChanged, this, &ViewerWidget::setFrame);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addStretch(1);
  layout->addWidget(frameBar_);
  frameBar_->hide();
}

ViewerWidget::~ViewerWidget() = default;

void ViewerWidget::setImage(std::shared_ptr<const RadiographImage> image) {
  image_ = std::move(image);
  frame_ = 0;
  measurements_.clear();
  pending_.reset();
  selected_ = -1;
  presets_ = image_ ? radiographPresets(*image_, 0) : QList<VoiWindow>{};
  reduced_ = ReducedFrame{};
  reducedFrame_ = -1;
  renderedRegion_ = QRect();
  outline_ = QRectF();
  outlineLabel_.clear();
  voi_ = image_ ? defaultVoi(*image_) : VoiSelection{};
  view_.setImageSize(image_ ? QSize(image_->width, image_->height) : QSize());
  syncViewGeometry();
  view_.fitToWindow();
  invalidateRender();
  updateFrameBar();
  Q_EMIT imageChanged();
  Q_EMIT windowChanged(currentWindow());
  Q_EMIT frameChanged(frame_);
  Q_EMIT viewChanged();
  Q_EMIT measurementsChanged();
  update();
}

VoiWindow ViewerWidget::currentWindow() const {
  if (voi_.window)
    return *voi_.window;
  if (image_)
    return windowForRange(image_->minModality(), image_->maxModality());
  return {};
}

void ViewerWidget::setWindow(const VoiWindow& window) {
  voi_.window = window;
  voi_.voiLutIndex.reset();
  invalidateRender();
  Q_EMIT windowChanged(window);
  update();
}

void ViewerWidget::setVoiSelection(const VoiSelection& voi) {
  const bool invertChanged = voi.userInvert != voi_.userInvert;
  voi_ = voi;
  invalidateRender();
  Q_EMIT windowChanged(currentWindow());
  if (invertChanged)
    Q_EMIT invertedChanged(voi_.userInvert);
  update();
}

void ViewerWidget::applyPreset(int index) {
  if (index >= 0 && index < presets_.size())
    setWindow(presets_[index]);
}

void ViewerWidget::setInverted(bool inverted) {
  if (inverted == voi_.userInvert)
    return;
  voi_.userInvert = inverted;
  invalidateRender();
  Q_EMIT invertedChanged(inverted);
  update();
}

void ViewerWidget::resetWindow() {
  if (!image_)
    return;
  const bool invert = voi_.userInvert;
  VoiSelection voi = defaultVoi(*image_);
  voi.userInvert = invert;  // Invert is its own toggle; reset window keeps it
  setVoiSelection(voi);
}

// ---- Frames ----------------------------------------------------------------------------------

void ViewerWidget::setFrame(int frame) {
  if (!image_)
    return;
  frame = std::clamp(frame, 0, std::max(0, image_->frames - 1));
  if (frame == frame_)
    return;
  frame_ = frame;
  invalidateRender();
  updateFrameBar();
  Q_EMIT frameChanged(frame);
  update();
}

void ViewerWidget::nextFrame() { setFrame(frame_ + 1); }
void ViewerWidget::previousFrame() { setFrame(frame_ - 1); }

void ViewerWidget::updateFrameBar() {
  const int frames = frameCount();
  frameBar_->setVisible(frames > 1);
  const QSignalBlocker block(frameSlider_);
  frameSlider_->setRange(0, std::max(0, frames - 1));
  frameSlider_->setValue(frame_);
  frameLabel_->setText(tr("Frame %1/%2").arg(frame_ + 1).arg(std::max(1, frames)));
}

// ---- View ------------------------------------------------------------------------------------

void ViewerWidget::zoomIn() {
  view_.zoomAround(QPointF(width() / 2.0, height() / 2.0), kButtonZoomStep);
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::zoomOut() {
  view_.zoomAround(QPointF(width() / 2.0, height() / 2.0), 1.0 / kButtonZoomStep);
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::fitToWindow() {
  view_.fitToWindow();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::actualPixels() {
  view_.setActualPixels();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::rotateClockwise() {
  view_.rotateClockwise();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::rotateCounterClockwise() {
  view_.rotateCounterClockwise();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::flipHorizontal() {
  view_.flipHorizontal();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::flipVertical() {
  view_.flipVertical();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::resetView() {
  view_.resetOrientation();
  view_.fitToWindow();
  setInverted(false);
  resetWindow();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::syncViewGeometry() {
  view_.setDevicePixelRatio(devicePixelRatioF());
  view_.setViewportSize(QSizeF(size()));
}

void ViewerWidget::invalidateRender() {
  renderDirty_ = true;
  fullDirty_ = true;
}

int ViewerWidget::displayFactor() const {
  return image_ ? displayProxyFactor(view_.zoom()) : 1;
}

QRectF ViewerWidget::visibleImageRect() const {
  const QPolygonF corners = view_.imageToWidget().inverted().map(
      QPolygonF(QRectF(QPointF(0, 0), QSizeF(size()))));
  return corners.boundingRect();
}

const QImage& ViewerWidget::displayImage(int* factor, QRect* region) const {
  const int k = displayFactor();
  const QSize imageSize = image_ ? QSize(image_->width, image_->height) : QSize();
  const QRect whole(QPoint(0, 0), imageSize);
  // Keep the rendered region while what is on screen stays inside it (panning within the margin
  // and window changes reuse it).
  const QRect visible = visibleImageRect().toAlignedRect() & whole;
  // (Nothing of the image on screen needs no new render either.)
  const bool regionStillCovers = renderedFactor_ == k && !renderedRegion_.isEmpty() &&
                                 (visible.isEmpty() || renderedRegion_.contains(visible));
  if (renderDirty_ || !regionStillCovers) {
    const QRect wanted = regionStillCovers ? renderedRegion_
                                           : displayRegionFor(visibleImageRect(), imageSize, k);
    if (!image_) {
      rendered_ = QImage();
    } else if (k == 1 && wanted == whole) {
      rendered_ = renderFrame(*image_, frame_, voi_);
      fullRendered_ = rendered_;
      fullDirty_ = false;
    } else {
      // Keep the region's values (block means when k > 1) while it stays on screen: each window
      // change then maps only those, from one compact buffer. (Mapping a region in place in the
      // full frame measured ~1.5 ms slower per W/L step at 1:1 in bench-widget-repaint.)
      if (reduced_.factor != k || reducedFrame_ != frame_ || reduced_.region != wanted ||
          reduced_.isNull()) {
        reduced_ = reduceFrame(*image_, frame_, wanted, k);
        reducedFrame_ = frame_;
      }
      rendered_ = renderFrame(*image_, reduced_, voi_);
    }
    renderedFactor_ = k;
    renderedRegion_ = wanted;
    renderDirty_ = false;
    ++renderCount_;
  }
  *factor = k;
  *region = renderedRegion_;
  return rendered_;
}

QImage ViewerWidget::renderedFrame() const {
  if (fullDirty_) {
    fullRendered_ = image_ ? renderFrame(*image_, frame_, voi_) : QImage();
    fullDirty_ = false;
  }
  return fullRendered_;
}

// ---- Tools and options -----------------------------------------------------------------------

void ViewerWidget::setTool(ViewerTool tool) {
  if (tool == tool_)
    return;
  pending_.reset();
  tool_ = tool;
  setCursor(tool == ViewerTool::Pan ? Qt::OpenHandCursor
            : tool == ViewerTool::WindowLevel ? Qt::SizeAllCursor
                                              : Qt::CrossCursor);
  Q_EMIT toolChanged(tool);
  update();
}

void ViewerWidget::setOverlaysVisible(bool visible) {
  overlaysVisible_ = visible;
  update();
}

void ViewerWidget::setAnonymised(bool anonymised) {
  anonymised_ = anonymised;
  update();
}

void ViewerWidget::setMagnifierEnabled(bool enabled) {
  magnifier_ = enabled;
  update();
}

// ---- Measurements ----------------------------------------------------------------------------

bool ViewerWidget::isMeasuringTool() const {
  return tool_ == ViewerTool::Length || tool_ == ViewerTool::Angle ||
         tool_ == ViewerTool::RectangleRoi || tool_ == ViewerTool::EllipseRoi;
}

MeasurementKind ViewerWidget::measurementKindForTool() const {
  switch (tool_) {
    case ViewerTool::Angle:
      return MeasurementKind::Angle;
    case ViewerTool::RectangleRoi:
      return MeasurementKind::RectangleRoi;
    case ViewerTool::EllipseRoi:
      return MeasurementKind::EllipseRoi;
    default:
      return MeasurementKind::Length;
  }
}

void ViewerWidget::addMeasurement(const Measurement& m) {
  measurements_.append(m);
  selected_ = static_cast<int>(measurements_.size()) - 1;
  Q_EMIT measurementsChanged();
  update();
}

void ViewerWidget::selectMeasurement(int index) {
  selected_ = (index >= 0 && index < measurements_.size()) ? index : -1;
  update();
}

void ViewerWidget::deleteSelectedMeasurement() {
  if (selected_ < 0 || selected_ >= measurements_.size())
    return;
  measurements_.removeAt(selected_);
  selected_ = -1;
  Q_EMIT measurementsChanged();
  update();
}

void ViewerWidget::clearMeasurements() {
  measurements_.clear();
  pending_.reset();
  selected_ = -1;
  Q_EMIT measurementsChanged();
  update();
}

void ViewerWidget::cancelMeasurement() {
  pending_.reset();
  update();
}

int ViewerWidget::pickMeasurement(QPointF widgetPos) const {
  const QPointF imagePos = view_.mapToImage(widgetPos);
  const double tolerance = kPickTolerancePx / view_.scale();
  int best = -1;
  double bestDistance = tolerance;
  for (int i = 0; i < measurements_.size(); ++i) {
    const double d = distanceToMeasurement(measurements_[i], imagePos);
    if (d <= bestDistance) {
      bestDistance = d;
      best = i;
    }
  }
  return best;
}

std::optional<std::pair<int, int>> ViewerWidget::pickMeasurementPoint(QPointF widgetPos) const {
  std::optional<std::pair<int, int>> best;
  double bestDistance = kPickTolerancePx;
  for (int i = 0; i < measurements_.size(); ++i) {
    const QList<QPointF>& pts = measurements_[i].points;
    for (int j = 0; j < pts.size(); ++j) {
      const QPointF d = view_.mapToWidget(pts[j]) - widgetPos;
      const double distance = std::hypot(d.x(), d.y());
      if (distance <= bestDistance) {
        bestDistance = distance;
        best = std::make_pair(i, j);
      }
    }
  }
  return best;
}

// The pending measurement holds its fixed points plus one floating point that follows the cursor.
void ViewerWidget::finishMeasurementPoint(QPointF imagePos) {
  if (!pending_)
    return;
  // A point on top of the previous one (a double click, a click without moving) would make a
  // zero-length arm or an empty ROI: ignore it and keep waiting for a real point.
  const QPointF previous = pending_->points.at(pending_->points.size() - 2);
  const QPointF onScreen = view_.mapToWidget(imagePos) - view_.mapToWidget(previous);
  if (std::hypot(onScreen.x(), onScreen.y()) <= kClickSlopPx) {
    pending_->points.last() = imagePos;
    update();
    return;
  }
  pending_->points.last() = imagePos;
  if (pending_->points.size() >= Measurement::pointsNeeded(pending_->kind)) {
    Measurement done = *pending_;
    pending_.reset();
    addMeasurement(done);
    return;
  }
  pending_->points.append(imagePos);  // the next floating point
  update();
}

void ViewerWidget::setRegionOutline(const QRectF& imageRect, const QString& label) {
  outline_ = imageRect.normalized();
  outlineLabel_ = label;
  update();
}

void ViewerWidget::paintRegionOutline(QPainter& p) const {
  if (outline_.isEmpty())
    return;
  p.save();
  p.setTransform(view_.imageToWidget(), true);
  QPen pen(QColor(255, 80, 200), 1.5, Qt::DashLine);
  pen.setCosmetic(true);
  p.setPen(pen);
  p.setBrush(Qt::NoBrush);
  p.drawRect(outline_);
  p.restore();
  if (!outlineLabel_.isEmpty()) {
    // Label at the outline's top-left corner as seen on screen (rotation may move it).
    const QPolygonF corners = view_.imageToWidget().map(QPolygonF(outline_));
    const QRectF onScreen = corners.boundingRect();
    drawLabel(p, onScreen.topLeft() + QPointF(-6, 14), outlineLabel_, QColor(255, 80, 200));
  }
}

// ---- Output ----------------------------------------------------------------------------------

OverlayText ViewerWidget::overlayText() const {
  OverlayState s;
  s.anonymised = anonymised_;
  s.zoom = view_.zoom();
  s.rotationDegrees = view_.rotationDegrees();
  s.mirrored = view_.isMirrored();
  s.inverted = voi_.userInvert;
  if (image_) {
    s.fileName = image_->path.section(u'/', -1);
    s.formatName = image_->formatName;
    s.width = image_->width;
    s.height = image_->height;
    s.frame = frame_;
    s.frames = image_->frames;
    s.calibrationLabel = image_->calibration.label();
  }
  s.windowFromLut = !voi_.window && voi_.voiLutIndex.has_value();
  const VoiWindow w = currentWindow();
  s.windowCenter = w.center;
  s.windowWidth = w.width;
  return buildOverlay(image_ ? image_->fields : DisplayFields{}, s);
}

QImage ViewerWidget::renderView() const {
  const double dpr = devicePixelRatioF();
  QImage out((QSizeF(size()) * dpr).toSize(), QImage::Format_RGB32);
  out.setDevicePixelRatio(dpr);
  QPainter p(&out);
  paintContent(p, QSizeF(size()), dpr);
  return out;
}

QString ViewerWidget::pixelInfoAt(QPointF widgetPos) const {
  if (!image_)
    return {};
  const QPointF ip = view_.mapToImage(widgetPos);
  const int x = static_cast<int>(std::floor(ip.x()));
  const int y = static_cast<int>(std::floor(ip.y()));
  if (x < 0 || y < 0 || x >= image_->width || y >= image_->height)
    return {};
  if (frame_ >= static_cast<int>(image_->framesData.size()))
    return {};
  const auto& data = image_->framesData[static_cast<size_t>(frame_)];
  const size_t i = static_cast<size_t>(y) * static_cast<size_t>(image_->width) +
                   static_cast<size_t>(x);
  QString value;
  if (image_->samplesPerPixel == 3) {
    if (3 * i + 2 >= data.size())
      return {};
    value = QStringLiteral("RGB %1 %2 %3").arg(data[3 * i]).arg(data[3 * i + 1]).arg(data[3 * i + 2]);
  } else {
    if (i >= data.size())
      return {};
    const double modality = image_->modalityValue(data[i]);
    value = QString::number(modality, 'g', 6);
    if (!image_->rescaleType.isEmpty())
      value += u' ' + image_->rescaleType;
    if (modality != data[i])
      value += tr(" (stored %1)").arg(data[i]);
  }
  return tr("x %1, y %2: %3").arg(x).arg(y).arg(value);
}

// ---- Painting --------------------------------------------------------------------------------

void ViewerWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  paintContent(p, QSizeF(size()), devicePixelRatioF());
  if (magnifier_ && cursor_ && image_)
    paintMagnifier(p);
}

void ViewerWidget::paintContent(QPainter& p, QSizeF viewport, double) const {
  p.fillRect(QRectF(QPointF(0, 0), viewport), Qt::black);
  if (!image_) {
    p.setPen(QColor(170, 170, 170));
    p.drawText(QRectF(QPointF(0, 0), viewport), Qt::AlignCenter | Qt::TextWordWrap,
               tr("Open a radiograph (Ctrl+O) or drop a file here"));
    return;
  }
  int factor = 1;
  QRect region;
  const QImage& frameImage = displayImage(&factor, &region);
  p.save();
  p.setTransform(view_.imageToWidget(), true);
  // Smooth when shrinking (avoids aliasing); show crisp pixels when magnifying, as radiologists
  // expect to see the acquired pixels at high zoom.
  p.setRenderHint(QPainter::SmoothPixmapTransform, view_.zoom() < 2.0);
  // The rendered image covers `region` of the frame; a proxy pixel covers factor x factor image
  // pixels (the last row/column may be partial).
  p.drawImage(QRectF(region), frameImage,
              QRectF(0, 0, static_cast<double>(region.width()) / factor,
                     static_cast<double>(region.height()) / factor));
  p.restore();

  p.setRenderHint(QPainter::Antialiasing, true);
  paintRegionOutline(p);
  paintMeasurements(p);
  if (overlaysVisible_)
    paintOverlays(p, viewport);
  paintIncompleteMark(p, viewport);
}

// An image whose pixel data stopped early (LoadOptions::acceptIncomplete) carries a red banner over
// its top edge in every view, overlays on or off, exported views included: the gray rows a
// truncated JPEG decodes to look like anatomy to nobody, but could be read as an empty field.
void ViewerWidget::paintIncompleteMark(QPainter& p, QSizeF viewport) const {
  if (!image_ || !image_->isIncomplete())
    return;
  const QString text = tr("Incomplete image: %1").arg(image_->incomplete);
  const QFontMetricsF fm(p.font());
  const QRectF textArea(8, 4, viewport.width() - 16, viewport.height() / 2);
  const QRectF needed = fm.boundingRect(textArea, Qt::AlignHCenter | Qt::AlignTop | Qt::TextWordWrap, text);
  const QRectF banner(0, 0, viewport.width(), needed.height() + 8);
  p.save();
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(200, 0, 0, 220));
  p.drawRect(banner);
  p.setPen(Qt::white);
  p.drawText(textArea, Qt::AlignHCenter | Qt::AlignTop | Qt::TextWordWrap, text);
  p.restore();
}

void ViewerWidget::paintMeasurements(QPainter& p) const {
  QFont font = p.font();
  font.setPointSizeF(std::max(8.0, font.pointSizeF()));
  p.setFont(font);
  auto drawOne = [&](const Measurement& m, const QColor& colour, bool withLabel) {
    QList<QPointF> pts;
    for (const QPointF& ip : m.points)
      pts << view_.mapToWidget(ip);
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(colour, 1.5));
    switch (m.kind) {
      case MeasurementKind::Length:
      case MeasurementKind::Angle:
        for (int i = 0; i + 1 < pts.size(); ++i)
          p.drawLine(pts[i], pts[i + 1]);
        for (const QPointF& pt : pts)
          p.drawEllipse(pt, 2.5, 2.5);
        break;
      case MeasurementKind::RectangleRoi:
      case MeasurementKind::EllipseRoi: {
        if (pts.size() < 2)
          break;
        // The ROI is axis-aligned in the image; with rotation it stays a rectangle on screen, so
        // drawing through the view transform keeps it exact.
        p.save();
        p.setTransform(view_.imageToWidget(), true);
        QPen pen(colour, 1.5);
        pen.setCosmetic(true);
        p.setPen(pen);
        if (m.kind == MeasurementKind::RectangleRoi)
          p.drawRect(m.roiRect());
        else
          p.drawEllipse(m.roiRect());
        p.restore();
        break;
      }
    }
    if (withLabel && m.isComplete() && !pts.isEmpty()) {
      const QPointF anchor = m.kind == MeasurementKind::Angle ? pts[1] : pts.last();
      drawLabel(p, anchor, measurementLabel(m, *image_, frame_), colour);
    }
  };
  for (int i = 0; i < measurements_.size(); ++i)
    drawOne(measurements_[i], i == selected_ ? kSelectedColour : kMeasureColour, true);
  if (pending_)
    drawOne(*pending_, kSelectedColour, pending_->isComplete());
}

void ViewerWidget::paintOverlays(QPainter& p, QSizeF viewport) const {
  const OverlayText text = overlayText();
  const double margin = 8;
  const double bottom = viewport.height() - (frameBar_->isVisible() ? frameBar_->height() : 0);
  const QRectF area(margin, margin, viewport.width() - 2 * margin, bottom - 2 * margin);
  QFont font = p.font();
  font.setPointSizeF(std::max(8.0, font.pointSizeF()));
  p.setFont(font);
  drawShadowedText(p, area, Qt::AlignLeft | Qt::AlignTop, text.topLeft.join(u'\n'));
  drawShadowedText(p, area, Qt::AlignRight | Qt::AlignTop, text.topRight.join(u'\n'));
  drawShadowedText(p, area, Qt::AlignLeft | Qt::AlignBottom, text.bottomLeft.join(u'\n'));
  drawShadowedText(p, area, Qt::AlignRight | Qt::AlignBottom, text.bottomRight.join(u'\n'));
}

void ViewerWidget::paintMagnifier(QPainter& p) const {
  const QPointF c = *cursor_;
  const QRectF loupe(c - QPointF(kMagnifierSize / 2, kMagnifierSize / 2),
                     QSizeF(kMagnifierSize, kMagnifierSize));
  QPainterPath clip;
  clip.addEllipse(loupe);
  p.save();
  p.setClipPath(clip);
  p.fillRect(loupe, Qt::black);
  // Magnify the view around the cursor: image -> widget, then scale about the cursor.
  const QTransform zoomAboutCursor = QTransform::fromTranslate(-c.x(), -c.y()) *
                                     QTransform::fromScale(kMagnifierFactor, kMagnifierFactor) *
                                     QTransform::fromTranslate(c.x(), c.y());
  p.setTransform(view_.imageToWidget() * zoomAboutCursor);
  p.setRenderHint(QPainter::SmoothPixmapTransform, view_.zoom() * kMagnifierFactor < 2.0);
  p.drawImage(QPointF(0, 0), renderedFrame());
  p.restore();
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setPen(QPen(QColor(200, 200, 200), 2));
  p.setBrush(Qt::NoBrush);
  p.drawEllipse(loupe);
}

// ---- Input -----------------------------------------------------------------------------------

void ViewerWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  syncViewGeometry();
}

void ViewerWidget::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::ScreenChangeInternal)
    syncViewGeometry();
}

void ViewerWidget::mousePressEvent(QMouseEvent* event) {
  if (!image_)
    return;
  setFocus(Qt::MouseFocusReason);
  const QPointF pos = event->position();
  lastMouse_ = pos;
  pressPos_ = pos;
  if (event->button() == Qt::RightButton ||
      (event->button() == Qt::LeftButton && tool_ == ViewerTool::WindowLevel &&
       pickMeasurement(pos) < 0)) {
    drag_ = Drag::Window;
    windowDrag_.begin(currentWindow(), pos.toPoint(), image_->minModality(),
                       image_->maxModality());
    return;
  }
  if (event->button() == Qt::MiddleButton) {
    drag_ = Drag::Pan;
    setCursor(Qt::ClosedHandCursor);
    return;
  }
  if (event->button() != Qt::LeftButton)
    return;
  if (isMeasuringTool()) {
    const QPointF ip = view_.mapToImage(pos);
    drag_ = Drag::Measure;
    if (!pending_) {
      Measurement m;
      m.kind = measurementKindForTool();
      m.points = {ip, ip};  // first fixed point + the floating one
      pending_ = m;
      update();
    } else {
      finishMeasurementPoint(ip);
    }
    return;
  }
  // Pan tool: grab a measurement's point to move it, its outline to move it whole, else pan.
  if (const auto handle = pickMeasurementPoint(pos)) {
    selectMeasurement(handle->first);
    draggedPoint_ = handle->second;
    drag_ = Drag::MeasurementPoint;
    return;
  }
  const int picked = pickMeasurement(pos);
  selectMeasurement(picked);
  drag_ = picked < 0 ? Drag::Pan : Drag::MeasurementBody;
  setCursor(Qt::ClosedHandCursor);
}

void ViewerWidget::mouseMoveEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  cursor_ = pos;
  Q_EMIT cursorInfoChanged(pixelInfoAt(pos));
  switch (drag_) {
    case Drag::Pan:
      view_.panBy(pos - lastMouse_);
      Q_EMIT viewChanged();
      break;
    case Drag::Window:
      setWindow(windowDrag_.update(pos.toPoint()));
      break;
    case Drag::MeasurementPoint:
      if (selected_ >= 0 && draggedPoint_ >= 0 &&
          draggedPoint_ < measurements_[selected_].points.size())
        // Move by the mouse's movement, so the point keeps its offset from where it was grabbed.
        measurements_[selected_].points[draggedPoint_] +=
            view_.mapToImage(pos) - view_.mapToImage(lastMouse_);
      break;
    case Drag::MeasurementBody:
      if (selected_ >= 0) {
        const QPointF delta = view_.mapToImage(pos) - view_.mapToImage(lastMouse_);
        for (QPointF& pt : measurements_[selected_].points)
          pt += delta;
      }
      break;
    case Drag::Measure:
    case Drag::None:
      if (pending_)
        pending_->points.last() = view_.mapToImage(pos);
      break;
  }
  lastMouse_ = pos;
  // Plain hovering changes nothing on screen unless the loupe or a measurement follows the cursor.
  if (drag_ != Drag::None || pending_ || magnifier_)
    update();
}

void ViewerWidget::mouseReleaseEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  const Drag drag = drag_;
  drag_ = Drag::None;
  windowDrag_.end();
  if (drag == Drag::MeasurementPoint || drag == Drag::MeasurementBody) {
    draggedPoint_ = -1;
    Q_EMIT measurementsChanged();
  }
  if (drag == Drag::Pan || drag == Drag::MeasurementBody)
    setCursor(tool_ == ViewerTool::Pan ? Qt::OpenHandCursor
              : tool_ == ViewerTool::WindowLevel ? Qt::SizeAllCursor
                                                  : Qt::CrossCursor);
  if (drag == Drag::Measure && pending_) {
    // A drag fixes the floating point where the button is released; a click leaves it floating
    // until the next click (so both "drag" and "click, click" draw a measurement).
    const QPointF d = pos - pressPos_;
    if (std::hypot(d.x(), d.y()) > kClickSlopPx)
      finishMeasurementPoint(view_.mapToImage(pos));
  }
}

void ViewerWidget::mouseDoubleClickEvent(QMouseEvent* event) {
  // Measuring tools ignore the double click (its first click already counted); elsewhere it fits.
  if (event->button() == Qt::LeftButton && !isMeasuringTool() && pickMeasurement(event->position()) < 0)
    fitToWindow();
}

void ViewerWidget::wheelEvent(QWheelEvent* event) {
  if (!image_)
    return;
  const double notches = event->angleDelta().y() / 120.0;
  if (notches == 0)
    return;
  view_.zoomAround(event->position(), std::pow(kWheelStep, notches));
  Q_EMIT viewChanged();
  update();
  event->accept();
}

void ViewerWidget::leaveEvent(QEvent* event) {
  QWidget::leaveEvent(event);
  cursor_.reset();
  Q_EMIT cursorInfoChanged(QString());
  update();
}

void ViewerWidget::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Escape && pending_) {
    cancelMeasurement();
    return;
  }
  QWidget::keyPressEvent(event);
}

}  // namespace cxr::viewer
