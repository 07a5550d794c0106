#include "cxr/viewer/viewer_actions.h"

#include <QAction>
#include <QActionGroup>
#include <QIcon>
#include <QMenu>

namespace cxr::viewer {

namespace {

// A key without Ctrl, Alt or Meta ('F', 'I', Left, Delete, '+') is also something a person types or
// uses to move a text cursor.
bool isPlainKey(const QKeySequence& key) {
  if (key.isEmpty())
    return false;
  const Qt::KeyboardModifiers mods = key[0].keyboardModifiers();
  return !(mods & (Qt::ControlModifier | Qt::AltModifier | Qt::MetaModifier));
}

// Plain-key shortcuts fire only while the viewer (or a child of it) has the focus, so typing in the
// assistant's question box or pressing keys in its read-only transcript never flips or zooms the
// image; modified shortcuts (Ctrl+Shift+A, Ctrl++) work anywhere in the window.
void scopeShortcut(QAction* a) {
  bool plain = false;
  for (const QKeySequence& key : a->shortcuts())
    plain = plain || isPlainKey(key);
  a->setShortcutContext(plain ? Qt::WidgetWithChildrenShortcut : Qt::WindowShortcut);
}

QAction* makeAction(QObject* parent, const QString& text, const QKeySequence& key,
                    const QString& iconName = {}, const QString& tip = {}) {
  auto* a = new QAction(text, parent);
  a->setShortcut(key);
  if (!iconName.isEmpty())
    a->setIcon(QIcon(u":/icons/" + iconName + u".svg"));
  a->setToolTip(QStringLiteral("%1 (%2)").arg(tip.isEmpty() ? QString(text).remove(u'&') : tip,
                                              key.toString(QKeySequence::NativeText)));
  return a;
}

}  // namespace

ViewerActions::ViewerActions(ViewerWidget* viewer, QObject* parent)
    : QObject(parent), viewer_(viewer) {
  toolGroup_ = new QActionGroup(this);
  toolGroup_->setExclusive(true);
  auto tool = [&](const QString& text, const QKeySequence& key, const QString& icon,
                  ViewerTool t, const QString& tip) {
    QAction* a = makeAction(this, text, key, icon, tip);
    a->setCheckable(true);
    a->setActionGroup(toolGroup_);
    connect(a, &QAction::triggered, viewer_, [this, t] { viewer_->setTool(t); });
    return a;
  };
  panTool = tool(tr("&Pan / Select"), QKeySequence(Qt::Key_P), QStringLiteral("pan"), ViewerTool::Pan,
                 tr("Pan by dragging; click a measurement to select it, drag its points to edit it"));
  windowTool = tool(tr("&Window/Level"), QKeySequence(Qt::Key_W), QStringLiteral("window"),
                    ViewerTool::WindowLevel,
                    tr("Drag: left/right width, up/down centre (right button always does this)"));
  lengthTool = tool(tr("&Length"), QKeySequence(Qt::Key_L), QStringLiteral("length"),
                    ViewerTool::Length, tr("Measure a distance (drag, or click twice)"));
  angleTool = tool(tr("&Angle"), QKeySequence(Qt::Key_A), QStringLiteral("angle"), ViewerTool::Angle,
                   tr("Measure an angle: click arm end, vertex, arm end"));
  rectangleTool = tool(tr("&Rectangle ROI"), QKeySequence(Qt::Key_R), QStringLiteral("rectangle"),
                       ViewerTool::RectangleRoi, tr("Rectangle region: mean, SD, min, max, area"));
  ellipseTool = tool(tr("&Ellipse ROI"), QKeySequence(Qt::Key_E), QStringLiteral("ellipse"),
                     ViewerTool::EllipseRoi, tr("Ellipse region: mean, SD, min, max, area"));
  panTool->setChecked(true);
  // '+' needs Shift on most layouts: '=' and the standard Ctrl++ / Ctrl+- work too.

  zoomIn = makeAction(this, tr("Zoom &In"), QKeySequence(Qt::Key_Plus), QStringLiteral("zoom-in"));
  zoomOut = makeAction(this, tr("Zoom &Out"), QKeySequence(Qt::Key_Minus), QStringLiteral("zoom-out"));
  zoomIn->setShortcuts({QKeySequence(Qt::Key_Plus), QKeySequence(Qt::Key_Equal),
                        QKeySequence(QKeySequence::ZoomIn)});
  zoomOut->setShortcuts({QKeySequence(Qt::Key_Minus), QKeySequence(QKeySequence::ZoomOut)});
  fit = makeAction(this, tr("&Fit to Window"), QKeySequence(Qt::Key_F), QStringLiteral("fit"));
  actualPixels = makeAction(this, tr("&1:1 (One Image Pixel per Screen Pixel)"),
                            QKeySequence(Qt::Key_1), QStringLiteral("actual-size"), tr("1:1"));
  rotateClockwise = makeAction(this, tr("Rotate &Clockwise"), QKeySequence(Qt::Key_BracketRight),
                               QStringLiteral("rotate-cw"));
  rotateCounterClockwise = makeAction(this, tr("Rotate C&ounterclockwise"),
                                      QKeySequence(Qt::Key_BracketLeft), QStringLiteral("rotate-ccw"));
  flipHorizontal = makeAction(this, tr("Flip &Horizontal"), QKeySequence(Qt::Key_H),
                              QStringLiteral("flip-h"));
  flipVertical = makeAction(this, tr("Flip &Vertical"), QKeySequence(Qt::Key_V),
                            QStringLiteral("flip-v"));
  resetView = makeAction(this, tr("&Reset View and Window"), QKeySequence(Qt::Key_0),
                         QStringLiteral("reset"));
  magnifier = makeAction(this, tr("&Magnifier"), QKeySequence(Qt::Key_M), QStringLiteral("magnifier"));
  magnifier->setCheckable(true);
  overlays = makeAction(this, tr("Corner &Overlays"), QKeySequence(Qt::Key_O));
  overlays->setCheckable(true);
  overlays->setChecked(true);
  anonymised = makeAction(this, tr("&Anonymised Display"), QKeySequence(tr("Ctrl+Shift+A")),
                          QStringLiteral("anonymise"),
                          tr("Never show patient name, ID, dates or institution"));
  anonymised->setCheckable(true);

  invert = makeAction(this, tr("&Invert"), QKeySequence(Qt::Key_I), QStringLiteral("invert"));
  invert->setCheckable(true);
  resetWindow = makeAction(this, tr("&Default Window"), QKeySequence(Qt::Key_D));

  nextFrame = makeAction(this, tr("&Next Frame"), QKeySequence(Qt::Key_Right));
  previousFrame = makeAction(this, tr("&Previous Frame"), QKeySequence(Qt::Key_Left));

  deleteMeasurement = makeAction(this, tr("&Delete Selected Measurement"),
                                 QKeySequence(QKeySequence::Delete));
  clearMeasurements = makeAction(this, tr("&Clear All Measurements"),
                                 QKeySequence(tr("Shift+Del")));

  for (QAction* a : all())
    scopeShortcut(a);
  // The scoped shortcuts need the viewer as their widget (menus and toolbars only show them).
  viewer_->addActions(all());

  connect(zoomIn, &QAction::triggered, viewer_, &ViewerWidget::zoomIn);
  connect(zoomOut, &QAction::triggered, viewer_, &ViewerWidget::zoomOut);
  connect(fit, &QAction::triggered, viewer_, &ViewerWidget::fitToWindow);
  connect(actualPixels, &QAction::triggered, viewer_, &ViewerWidget::actualPixels);
  connect(rotateClockwise, &QAction::triggered, viewer_, &ViewerWidget::rotateClockwise);
  connect(rotateCounterClockwise, &QAction::triggered, viewer_,
          &ViewerWidget::rotateCounterClockwise);
  connect(flipHorizontal, &QAction::triggered, viewer_, &ViewerWidget::flipHorizontal);
  connect(flipVertical, &QAction::triggered, viewer_, &ViewerWidget::flipVertical);
  connect(resetView, &QAction::triggered, viewer_, &ViewerWidget::resetView);
  connect(magnifier, &QAction::toggled, viewer_, &ViewerWidget::setMagnifierEnabled);
  connect(overlays, &QAction::toggled, viewer_, &ViewerWidget::setOverlaysVisible);
  connect(anonymised, &QAction::toggled, viewer_, &ViewerWidget::setAnonymised);
  connect(invert, &QAction::toggled, viewer_, &ViewerWidget::setInverted);
  connect(resetWindow, &QAction::triggered, viewer_, &ViewerWidget::resetWindow);
  connect(nextFrame, &QAction::triggered, viewer_, &ViewerWidget::nextFrame);
  connect(previousFrame, &QAction::triggered, viewer_, &ViewerWidget::previousFrame);
  connect(deleteMeasurement, &QAction::triggered, viewer_, &ViewerWidget::deleteSelectedMeasurement);
  connect(clearMeasurements, &QAction::triggered, viewer_, &ViewerWidget::clearMeasurements);
  // Keep checkable actions true to the widget when it changes by other routes (mouse, reset).
  connect(viewer_, &ViewerWidget::invertedChanged, invert, &QAction::setChecked);
  connect(viewer_, &ViewerWidget::toolChanged, this, [this] { syncFromViewer(); });
  connect(viewer_, &ViewerWidget::imageChanged, this, [this] { rebuildPresets(); });

  presetMenu_ = new QMenu(tr("Window &Presets"));
  presetMenu_->setIcon(QIcon(QStringLiteral(":/icons/presets.svg")));
  connect(this, &QObject::destroyed, presetMenu_, [menu = presetMenu_] { delete menu; });
  rebuildPresets();
}

QList<QAction*> ViewerActions::toolActions() const {
  return {panTool, windowTool, lengthTool, angleTool, rectangleTool, ellipseTool};
}

QList<QAction*> ViewerActions::viewActions() const {
  return {zoomIn,         zoomOut,      fit,        actualPixels, rotateClockwise,
          rotateCounterClockwise, flipHorizontal, flipVertical, resetView, magnifier,
          overlays,       anonymised};
}

QList<QAction*> ViewerActions::windowActions() const { return {invert, resetWindow}; }

QList<QAction*> ViewerActions::all() const {
  return toolActions() + viewActions() + windowActions() +
         QList<QAction*>{nextFrame, previousFrame, deleteMeasurement, clearMeasurements};
}

void ViewerActions::syncFromViewer() {
  const QList<QAction*> tools = toolActions();
  const int index = static_cast<int>(viewer_->tool());
  if (index >= 0 && index < tools.size())
    tools[index]->setChecked(true);
}

void ViewerActions::rebuildPresets() {
  presetMenu_->clear();
  const QList<VoiWindow> presets = viewer_->presets();
  if (presets.isEmpty()) {
    presetMenu_->addAction(tr("(open an image first)"))->setEnabled(false);
    return;
  }
  for (int i = 0; i < presets.size(); ++i) {
    const VoiWindow& w = presets[i];
    const QString name = w.explanation.isEmpty() ? tr("Window %1").arg(i + 1) : w.explanation;
    QAction* a = presetMenu_->addAction(
        tr("%1  (C %2, W %3)").arg(name, QString::number(w.center, 'g', 6),
                                   QString::number(w.width, 'g', 6)));
    if (i < 9)
      a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    connect(a, &QAction::triggered, viewer_, [this, i] { viewer_->applyPreset(i); });
  }
}

}  // namespace cxr::viewer
