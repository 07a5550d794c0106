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
  m_frameBar = new QWidget(this);
  m_frameBar->setObjectName(QStringLiteral("frameBar"));
  m_frameBar->setAutoFillBackground(true);
  auto* barLayout = new QHBoxLayout(m_frameBar);
  barLayout->setContentsMargins(8, 2, 8, 2);
  m_frameLabel = new QLabel(m_frameBar);
  m_frameSlider = new QSlider(Qt::Horizontal, m_frameBar);
  m_frameSlider->setObjectName(QStringLiteral("frameSlider"));
  m_frameSlider->setFocusPolicy(Qt::NoFocus);
  barLayout->addWidget(m_frameLabel);
  barLayout->addWidget(m_frameSlider, 1);
  connect(m_frameSlider, &QSlider::valueChanged, this, &ViewerWidget::setFrame);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addStretch(1);
  layout->addWidget(m_frameBar);
  m_frameBar->hide();
}

ViewerWidget::~ViewerWidget() = default;

void ViewerWidget::setImage(std::shared_ptr<const RadiographImage> image) {
  m_image = std::move(image);
  m_frame = 0;
  m_measurements.clear();
  m_pending.reset();
  m_selected = -1;
  m_presets = m_image ? radiographPresets(*m_image, 0) : QList<VoiWindow>{};
  m_reduced = ReducedFrame{};
  m_reducedFrame = -1;
  m_renderedRegion = QRect();
  m_outline = QRectF();
  m_outlineLabel.clear();
  m_voi = m_image ? defaultVoi(*m_image) : VoiSelection{};
  m_view.setImageSize(m_image ? QSize(m_image->width, m_image->height) : QSize());
  syncViewGeometry();
  m_view.fitToWindow();
  invalidateRender();
  updateFrameBar();
  Q_EMIT imageChanged();
  Q_EMIT windowChanged(currentWindow());
  Q_EMIT frameChanged(m_frame);
  Q_EMIT viewChanged();
  Q_EMIT measurementsChanged();
  update();
}

VoiWindow ViewerWidget::currentWindow() const {
  if (m_voi.window)
    return *m_voi.window;
  if (m_image)
    return windowForRange(m_image->minModality(), m_image->maxModality());
  return {};
}

void ViewerWidget::setWindow(const VoiWindow& window) {
  m_voi.window = window;
  m_voi.voiLutIndex.reset();
  invalidateRender();
  Q_EMIT windowChanged(window);
  update();
}

void ViewerWidget::setVoiSelection(const VoiSelection& voi) {
  const bool invertChanged = voi.userInvert != m_voi.userInvert;
  m_voi = voi;
  invalidateRender();
  Q_EMIT windowChanged(currentWindow());
  if (invertChanged)
    Q_EMIT invertedChanged(m_voi.userInvert);
  update();
}

void ViewerWidget::applyPreset(int index) {
  if (index >= 0 && index < m_presets.size())
    setWindow(m_presets[index]);
}

void ViewerWidget::setInverted(bool inverted) {
  if (inverted == m_voi.userInvert)
    return;
  m_voi.userInvert = inverted;
  invalidateRender();
  Q_EMIT invertedChanged(inverted);
  update();
}

void ViewerWidget::resetWindow() {
  if (!m_image)
    return;
  const bool invert = m_voi.userInvert;
  VoiSelection voi = defaultVoi(*m_image);
  voi.userInvert = invert;  // Invert is its own toggle; reset window keeps it
  setVoiSelection(voi);
}

// ---- Frames ----------------------------------------------------------------------------------

void ViewerWidget::setFrame(int frame) {
  if (!m_image)
    return;
  frame = std::clamp(frame, 0, std::max(0, m_image->frames - 1));
  if (frame == m_frame)
    return;
  m_frame = frame;
  invalidateRender();
  updateFrameBar();
  Q_EMIT frameChanged(frame);
  update();
}

void ViewerWidget::nextFrame() { setFrame(m_frame + 1); }
void ViewerWidget::previousFrame() { setFrame(m_frame - 1); }

void ViewerWidget::updateFrameBar() {
  const int frames = frameCount();
  m_frameBar->setVisible(frames > 1);
  const QSignalBlocker block(m_frameSlider);
  m_frameSlider->setRange(0, std::max(0, frames - 1));
  m_frameSlider->setValue(m_frame);
  m_frameLabel->setText(tr("Frame %1/%2").arg(m_frame + 1).arg(std::max(1, frames)));
}

// ---- View ------------------------------------------------------------------------------------

void ViewerWidget::zoomIn() {
  m_view.zoomAround(QPointF(width() / 2.0, height() / 2.0), kButtonZoomStep);
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::zoomOut() {
  m_view.zoomAround(QPointF(width() / 2.0, height() / 2.0), 1.0 / kButtonZoomStep);
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::fitToWindow() {
  m_view.fitToWindow();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::actualPixels() {
  m_view.setActualPixels();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::rotateClockwise() {
  m_view.rotateClockwise();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::rotateCounterClockwise() {
  m_view.rotateCounterClockwise();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::flipHorizontal() {
  m_view.flipHorizontal();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::flipVertical() {
  m_view.flipVertical();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::resetView() {
  m_view.resetOrientation();
  m_view.fitToWindow();
  setInverted(false);
  resetWindow();
  Q_EMIT viewChanged();
  update();
}

void ViewerWidget::syncViewGeometry() {
  m_view.setDevicePixelRatio(devicePixelRatioF());
  m_view.setViewportSize(QSizeF(size()));
}

void ViewerWidget::invalidateRender() {
  m_renderDirty = true;
  m_fullDirty = true;
}

int ViewerWidget::displayFactor() const {
  return m_image ? displayProxyFactor(m_view.zoom()) : 1;
}

QRectF ViewerWidget::visibleImageRect() const {
  const QPolygonF corners = m_view.imageToWidget().inverted().map(
      QPolygonF(QRectF(QPointF(0, 0), QSizeF(size()))));
  return corners.boundingRect();
}

const QImage& ViewerWidget::displayImage(int* factor, QRect* region) const {
  const int k = displayFactor();
  const QSize imageSize = m_image ? QSize(m_image->width, m_image->height) : QSize();
  const QRect whole(QPoint(0, 0), imageSize);
  // Keep the rendered region while what is on screen stays inside it (panning within the margin
  // and window changes reuse it).
  const QRect visible = visibleImageRect().toAlignedRect() & whole;
  // (Nothing of the image on screen needs no new render either.)
  const bool regionStillCovers = m_renderedFactor == k && !m_renderedRegion.isEmpty() &&
                                 (visible.isEmpty() || m_renderedRegion.contains(visible));
  if (m_renderDirty || !regionStillCovers) {
    const QRect wanted = regionStillCovers ? m_renderedRegion
                                           : displayRegionFor(visibleImageRect(), imageSize, k);
    if (!m_image) {
      m_rendered = QImage();
    } else if (k == 1 && wanted == whole) {
      m_rendered = renderFrame(*m_image, m_frame, m_voi);
      m_fullRendered = m_rendered;
      m_fullDirty = false;
    } else {
      // Keep the region's values (block means when k > 1) while it stays on screen: each window
      // change then maps only those, from one compact buffer. (Mapping a region in place in the
      // full frame measured ~1.5 ms slower per W/L step at 1:1 in bench-widget-repaint.)
      if (m_reduced.factor != k || m_reducedFrame != m_frame || m_reduced.region != wanted ||
          m_reduced.isNull()) {
        m_reduced = reduceFrame(*m_image, m_frame, wanted, k);
        m_reducedFrame = m_frame;
      }
      m_rendered = renderFrame(*m_image, m_reduced, m_voi);
    }
    m_renderedFactor = k;
    m_renderedRegion = wanted;
    m_renderDirty = false;
    ++m_renderCount;
  }
  *factor = k;
  *region = m_renderedRegion;
  return m_rendered;
}

QImage ViewerWidget::renderedFrame() const {
  if (m_fullDirty) {
    m_fullRendered = m_image ? renderFrame(*m_image, m_frame, m_voi) : QImage();
    m_fullDirty = false;
  }
  return m_fullRendered;
}

// ---- Tools and options -----------------------------------------------------------------------

void ViewerWidget::setTool(ViewerTool tool) {
  if (tool == m_tool)
    return;
  m_pending.reset();
  m_tool = tool;
  setCursor(tool == ViewerTool::Pan ? Qt::OpenHandCursor
            : tool == ViewerTool::WindowLevel ? Qt::SizeAllCursor
                                              : Qt::CrossCursor);
  Q_EMIT toolChanged(tool);
  update();
}

void ViewerWidget::setOverlaysVisible(bool visible) {
  m_overlaysVisible = visible;
  update();
}

void ViewerWidget::setAnonymised(bool anonymised) {
  m_anonymised = anonymised;
  update();
}

void ViewerWidget::setMagnifierEnabled(bool enabled) {
  m_magnifier = enabled;
  update();
}

// ---- Measurements ----------------------------------------------------------------------------

bool ViewerWidget::isMeasuringTool() const {
  return m_tool == ViewerTool::Length || m_tool == ViewerTool::Angle ||
         m_tool == ViewerTool::RectangleRoi || m_tool == ViewerTool::EllipseRoi;
}

MeasurementKind ViewerWidget::measurementKindForTool() const {
  switch (m_tool) {
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
  m_measurements.append(m);
  m_selected = static_cast<int>(m_measurements.size()) - 1;
  Q_EMIT measurementsChanged();
  update();
}

void ViewerWidget::selectMeasurement(int index) {
  m_selected = (index >= 0 && index < m_measurements.size()) ? index : -1;
  update();
}

void ViewerWidget::deleteSelectedMeasurement() {
  if (m_selected < 0 || m_selected >= m_measurements.size())
    return;
  m_measurements.removeAt(m_selected);
  m_selected = -1;
  Q_EMIT measurementsChanged();
  update();
}

void ViewerWidget::clearMeasurements() {
  m_measurements.clear();
  m_pending.reset();
  m_selected = -1;
  Q_EMIT measurementsChanged();
  update();
}

void ViewerWidget::cancelMeasurement() {
  m_pending.reset();
  update();
}

int ViewerWidget::pickMeasurement(QPointF widgetPos) const {
  const QPointF imagePos = m_view.mapToImage(widgetPos);
  const double tolerance = kPickTolerancePx / m_view.scale();
  int best = -1;
  double bestDistance = tolerance;
  for (int i = 0; i < m_measurements.size(); ++i) {
    const double d = distanceToMeasurement(m_measurements[i], imagePos);
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
  for (int i = 0; i < m_measurements.size(); ++i) {
    const QList<QPointF>& pts = m_measurements[i].points;
    for (int j = 0; j < pts.size(); ++j) {
      const QPointF d = m_view.mapToWidget(pts[j]) - widgetPos;
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
  if (!m_pending)
    return;
  // A point on top of the previous one (a double click, a click without moving) would make a
  // zero-length arm or an empty ROI: ignore it and keep waiting for a real point.
  const QPointF previous = m_pending->points.at(m_pending->points.size() - 2);
  const QPointF onScreen = m_view.mapToWidget(imagePos) - m_view.mapToWidget(previous);
  if (std::hypot(onScreen.x(), onScreen.y()) <= kClickSlopPx) {
    m_pending->points.last() = imagePos;
    update();
    return;
  }
  m_pending->points.last() = imagePos;
  if (m_pending->points.size() >= Measurement::pointsNeeded(m_pending->kind)) {
    Measurement done = *m_pending;
    m_pending.reset();
    addMeasurement(done);
    return;
  }
  m_pending->points.append(imagePos);  // the next floating point
  update();
}

void ViewerWidget::setRegionOutline(const QRectF& imageRect, const QString& label) {
  m_outline = imageRect.normalized();
  m_outlineLabel = label;
  update();
}

void ViewerWidget::paintRegionOutline(QPainter& p) const {
  if (m_outline.isEmpty())
    return;
  p.save();
  p.setTransform(m_view.imageToWidget(), true);
  QPen pen(QColor(255, 80, 200), 1.5, Qt::DashLine);
  pen.setCosmetic(true);
  p.setPen(pen);
  p.setBrush(Qt::NoBrush);
  p.drawRect(m_outline);
  p.restore();
  if (!m_outlineLabel.isEmpty()) {
    // Label at the outline's top-left corner as seen on screen (rotation may move it).
    const QPolygonF corners = m_view.imageToWidget().map(QPolygonF(m_outline));
    const QRectF onScreen = corners.boundingRect();
    drawLabel(p, onScreen.topLeft() + QPointF(-6, 14), m_outlineLabel, QColor(255, 80, 200));
  }
}

// ---- Output ----------------------------------------------------------------------------------

OverlayText ViewerWidget::overlayText() const {
  OverlayState s;
  s.anonymised = m_anonymised;
  s.zoom = m_view.zoom();
  s.rotationDegrees = m_view.rotationDegrees();
  s.mirrored = m_view.isMirrored();
  s.inverted = m_voi.userInvert;
  if (m_image) {
    s.fileName = m_image->path.section(u'/', -1);
    s.formatName = m_image->formatName;
    s.width = m_image->width;
    s.height = m_image->height;
    s.frame = m_frame;
    s.frames = m_image->frames;
    s.calibrationLabel = m_image->calibration.label();
  }
  s.windowFromLut = !m_voi.window && m_voi.voiLutIndex.has_value();
  const VoiWindow w = currentWindow();
  s.windowCenter = w.center;
  s.windowWidth = w.width;
  return buildOverlay(m_image ? m_image->fields : DisplayFields{}, s);
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
  if (!m_image)
    return {};
  const QPointF ip = m_view.mapToImage(widgetPos);
  const int x = static_cast<int>(std::floor(ip.x()));
  const int y = static_cast<int>(std::floor(ip.y()));
  if (x < 0 || y < 0 || x >= m_image->width || y >= m_image->height)
    return {};
  if (m_frame >= static_cast<int>(m_image->framesData.size()))
    return {};
  const auto& data = m_image->framesData[static_cast<size_t>(m_frame)];
  const size_t i = static_cast<size_t>(y) * static_cast<size_t>(m_image->width) +
                   static_cast<size_t>(x);
  QString value;
  if (m_image->samplesPerPixel == 3) {
    if (3 * i + 2 >= data.size())
      return {};
    value = QStringLiteral("RGB %1 %2 %3").arg(data[3 * i]).arg(data[3 * i + 1]).arg(data[3 * i + 2]);
  } else {
    if (i >= data.size())
      return {};
    const double modality = m_image->modalityValue(data[i]);
    value = QString::number(modality, 'g', 6);
    if (!m_image->rescaleType.isEmpty())
      value += u' ' + m_image->rescaleType;
    if (modality != data[i])
      value += tr(" (stored %1)").arg(data[i]);
  }
  return tr("x %1, y %2: %3").arg(x).arg(y).arg(value);
}

// ---- Painting --------------------------------------------------------------------------------

void ViewerWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  paintContent(p, QSizeF(size()), devicePixelRatioF());
  if (m_magnifier && m_cursor && m_image)
    paintMagnifier(p);
}

void ViewerWidget::paintContent(QPainter& p, QSizeF viewport, double) const {
  p.fillRect(QRectF(QPointF(0, 0), viewport), Qt::black);
  if (!m_image) {
    p.setPen(QColor(170, 170, 170));
    p.drawText(QRectF(QPointF(0, 0), viewport), Qt::AlignCenter | Qt::TextWordWrap,
               tr("Open a radiograph (Ctrl+O) or drop a file here"));
    return;
  }
  int factor = 1;
  QRect region;
  const QImage& frameImage = displayImage(&factor, &region);
  p.save();
  p.setTransform(m_view.imageToWidget(), true);
  // Smooth when shrinking (avoids aliasing); show crisp pixels when magnifying, as radiologists
  // expect to see the acquired pixels at high zoom.
  p.setRenderHint(QPainter::SmoothPixmapTransform, m_view.zoom() < 2.0);
  // The rendered image covers `region` of the frame; a proxy pixel covers factor x factor image
  // pixels (the last row/column may be partial).
  p.drawImage(QRectF(region), frameImage,
              QRectF(0, 0, static_cast<double>(region.width()) / factor,
                     static_cast<double>(region.height()) / factor));
  p.restore();

  p.setRenderHint(QPainter::Antialiasing, true);
  paintRegionOutline(p);
  paintMeasurements(p);
  if (m_overlaysVisible)
    paintOverlays(p, viewport);
  paintIncompleteMark(p, viewport);
}

// An image whose pixel data stopped early (LoadOptions::acceptIncomplete) carries a red banner over
// its top edge in every view, overlays on or off, exported views included: the gray rows a
// truncated JPEG decodes to look like anatomy to nobody, but could be read as an empty field.
void ViewerWidget::paintIncompleteMark(QPainter& p, QSizeF viewport) const {
  if (!m_image || !m_image->isIncomplete())
    return;
  const QString text = tr("Incomplete image: %1").arg(m_image->incomplete);
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
      pts << m_view.mapToWidget(ip);
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
        p.setTransform(m_view.imageToWidget(), true);
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
      drawLabel(p, anchor, measurementLabel(m, *m_image, m_frame), colour);
    }
  };
  for (int i = 0; i < m_measurements.size(); ++i)
    drawOne(m_measurements[i], i == m_selected ? kSelectedColour : kMeasureColour, true);
  if (m_pending)
    drawOne(*m_pending, kSelectedColour, m_pending->isComplete());
}

void ViewerWidget::paintOverlays(QPainter& p, QSizeF viewport) const {
  const OverlayText text = overlayText();
  const double margin = 8;
  const double bottom = viewport.height() - (m_frameBar->isVisible() ? m_frameBar->height() : 0);
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
  const QPointF c = *m_cursor;
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
  p.setTransform(m_view.imageToWidget() * zoomAboutCursor);
  p.setRenderHint(QPainter::SmoothPixmapTransform, m_view.zoom() * kMagnifierFactor < 2.0);
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
  if (!m_image)
    return;
  setFocus(Qt::MouseFocusReason);
  const QPointF pos = event->position();
  m_lastMouse = pos;
  m_pressPos = pos;
  if (event->button() == Qt::RightButton ||
      (event->button() == Qt::LeftButton && m_tool == ViewerTool::WindowLevel &&
       pickMeasurement(pos) < 0)) {
    m_drag = Drag::Window;
    m_windowDrag.begin(currentWindow(), pos.toPoint(), m_image->minModality(),
                       m_image->maxModality());
    return;
  }
  if (event->button() == Qt::MiddleButton) {
    m_drag = Drag::Pan;
    setCursor(Qt::ClosedHandCursor);
    return;
  }
  if (event->button() != Qt::LeftButton)
    return;
  if (isMeasuringTool()) {
    const QPointF ip = m_view.mapToImage(pos);
    m_drag = Drag::Measure;
    if (!m_pending) {
      Measurement m;
      m.kind = measurementKindForTool();
      m.points = {ip, ip};  // first fixed point + the floating one
      m_pending = m;
      update();
    } else {
      finishMeasurementPoint(ip);
    }
    return;
  }
  // Pan tool: grab a measurement's point to move it, its outline to move it whole, else pan.
  if (const auto handle = pickMeasurementPoint(pos)) {
    selectMeasurement(handle->first);
    m_draggedPoint = handle->second;
    m_drag = Drag::MeasurementPoint;
    return;
  }
  const int picked = pickMeasurement(pos);
  selectMeasurement(picked);
  m_drag = picked < 0 ? Drag::Pan : Drag::MeasurementBody;
  setCursor(Qt::ClosedHandCursor);
}

void ViewerWidget::mouseMoveEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  m_cursor = pos;
  Q_EMIT cursorInfoChanged(pixelInfoAt(pos));
  switch (m_drag) {
    case Drag::Pan:
      m_view.panBy(pos - m_lastMouse);
      Q_EMIT viewChanged();
      break;
    case Drag::Window:
      setWindow(m_windowDrag.update(pos.toPoint()));
      break;
    case Drag::MeasurementPoint:
      if (m_selected >= 0 && m_draggedPoint >= 0 &&
          m_draggedPoint < m_measurements[m_selected].points.size())
        // Move by the mouse's movement, so the point keeps its offset from where it was grabbed.
        m_measurements[m_selected].points[m_draggedPoint] +=
            m_view.mapToImage(pos) - m_view.mapToImage(m_lastMouse);
      break;
    case Drag::MeasurementBody:
      if (m_selected >= 0) {
        const QPointF delta = m_view.mapToImage(pos) - m_view.mapToImage(m_lastMouse);
        for (QPointF& pt : m_measurements[m_selected].points)
          pt += delta;
      }
      break;
    case Drag::Measure:
    case Drag::None:
      if (m_pending)
        m_pending->points.last() = m_view.mapToImage(pos);
      break;
  }
  m_lastMouse = pos;
  // Plain hovering changes nothing on screen unless the loupe or a measurement follows the cursor.
  if (m_drag != Drag::None || m_pending || m_magnifier)
    update();
}

void ViewerWidget::mouseReleaseEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  const Drag drag = m_drag;
  m_drag = Drag::None;
  m_windowDrag.end();
  if (drag == Drag::MeasurementPoint || drag == Drag::MeasurementBody) {
    m_draggedPoint = -1;
    Q_EMIT measurementsChanged();
  }
  if (drag == Drag::Pan || drag == Drag::MeasurementBody)
    setCursor(m_tool == ViewerTool::Pan ? Qt::OpenHandCursor
              : m_tool == ViewerTool::WindowLevel ? Qt::SizeAllCursor
                                                  : Qt::CrossCursor);
  if (drag == Drag::Measure && m_pending) {
    // A drag fixes the floating point where the button is released; a click leaves it floating
    // until the next click (so both "drag" and "click, click" draw a measurement).
    const QPointF d = pos - m_pressPos;
    if (std::hypot(d.x(), d.y()) > kClickSlopPx)
      finishMeasurementPoint(m_view.mapToImage(pos));
  }
}

void ViewerWidget::mouseDoubleClickEvent(QMouseEvent* event) {
  // Measuring tools ignore the double click (its first click already counted); elsewhere it fits.
  if (event->button() == Qt::LeftButton && !isMeasuringTool() && pickMeasurement(event->position()) < 0)
    fitToWindow();
}

void ViewerWidget::wheelEvent(QWheelEvent* event) {
  if (!m_image)
    return;
  const double notches = event->angleDelta().y() / 120.0;
  if (notches == 0)
    return;
  m_view.zoomAround(event->position(), std::pow(kWheelStep, notches));
  Q_EMIT viewChanged();
  update();
  event->accept();
}

void ViewerWidget::leaveEvent(QEvent* event) {
  QWidget::leaveEvent(event);
  m_cursor.reset();
  Q_EMIT cursorInfoChanged(QString());
  update();
}

void ViewerWidget::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Escape && m_pending) {
    cancelMeasurement();
    return;
  }
  QWidget::keyPressEvent(event);
}

}  // namespace cxr::viewer
