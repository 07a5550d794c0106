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
    : QObject(parent), m_viewer(viewer) {
  m_toolGroup = new QActionGroup(this);
  m_toolGroup->setExclusive(true);
  auto tool = [&](const QString& text, const QKeySequence& key, const QString& icon,
                  ViewerTool t, const QString& tip) {
    QAction* a = makeAction(this, text, key, icon, tip);
    a->setCheckable(true);
    a->setActionGroup(m_toolGroup);
    connect(a, &QAction::triggered, m_viewer, [this, t] { m_viewer->setTool(t); });
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
  m_viewer->addActions(all());

  connect(zoomIn, &QAction::triggered, m_viewer, &ViewerWidget::zoomIn);
  connect(zoomOut, &QAction::triggered, m_viewer, &ViewerWidget::zoomOut);
  connect(fit, &QAction::triggered, m_viewer, &ViewerWidget::fitToWindow);
  connect(actualPixels, &QAction::triggered, m_viewer, &ViewerWidget::actualPixels);
  connect(rotateClockwise, &QAction::triggered, m_viewer, &ViewerWidget::rotateClockwise);
  connect(rotateCounterClockwise, &QAction::triggered, m_viewer,
          &ViewerWidget::rotateCounterClockwise);
  connect(flipHorizontal, &QAction::triggered, m_viewer, &ViewerWidget::flipHorizontal);
  connect(flipVertical, &QAction::triggered, m_viewer, &ViewerWidget::flipVertical);
  connect(resetView, &QAction::triggered, m_viewer, &ViewerWidget::resetView);
  connect(magnifier, &QAction::toggled, m_viewer, &ViewerWidget::setMagnifierEnabled);
  connect(overlays, &QAction::toggled, m_viewer, &ViewerWidget::setOverlaysVisible);
  connect(anonymised, &QAction::toggled, m_viewer, &ViewerWidget::setAnonymised);
  connect(invert, &QAction::toggled, m_viewer, &ViewerWidget::setInverted);
  connect(resetWindow, &QAction::triggered, m_viewer, &ViewerWidget::resetWindow);
  connect(nextFrame, &QAction::triggered, m_viewer, &ViewerWidget::nextFrame);
  connect(previousFrame, &QAction::triggered, m_viewer, &ViewerWidget::previousFrame);
  connect(deleteMeasurement, &QAction::triggered, m_viewer, &ViewerWidget::deleteSelectedMeasurement);
  connect(clearMeasurements, &QAction::triggered, m_viewer, &ViewerWidget::clearMeasurements);
  // Keep checkable actions true to the widget when it changes by other routes (mouse, reset).
  connect(m_viewer, &ViewerWidget::invertedChanged, invert, &QAction::setChecked);
  connect(m_viewer, &ViewerWidget::toolChanged, this, [this] { syncFromViewer(); });
  connect(m_viewer, &ViewerWidget::imageChanged, this, [this] { rebuildPresets(); });

  m_presetMenu = new QMenu(tr("Window &Presets"));
  m_presetMenu->setIcon(QIcon(QStringLiteral(":/icons/presets.svg")));
  connect(this, &QObject::destroyed, m_presetMenu, [menu = m_presetMenu] { delete menu; });
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
  const int index = static_cast<int>(m_viewer->tool());
  if (index >= 0 && index < tools.size())
    tools[index]->setChecked(true);
}

void ViewerActions::rebuildPresets() {
  m_presetMenu->clear();
  const QList<VoiWindow> presets = m_viewer->presets();
  if (presets.isEmpty()) {
    m_presetMenu->addAction(tr("(open an image first)"))->setEnabled(false);
    return;
  }
  for (int i = 0; i < presets.size(); ++i) {
    const VoiWindow& w = presets[i];
    const QString name = w.explanation.isEmpty() ? tr("Window %1").arg(i + 1) : w.explanation;
    QAction* a = m_presetMenu->addAction(
        tr("%1  (C %2, W %3)").arg(name, QString::number(w.center, 'g', 6),
                                   QString::number(w.width, 'g', 6)));
    if (i < 9)
      a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    connect(a, &QAction::triggered, m_viewer, [this, i] { m_viewer->applyPreset(i); });
  }
}

}  // namespace cxr::viewer
