// The viewer's commands as QActions with keyboard shortcuts, so the main window can put them in
// menus and toolbars and the Help > Shortcuts dialog can list them from one place. Each action
// only forwards to a ViewerWidget slot; the behaviour lives in the widget and its plain classes.
#pragma once

#include "cxr/viewer/viewer_widget.h"

#include <QList>
#include <QObject>

class QAction;
class QActionGroup;
class QMenu;

namespace cxr::viewer {

class ViewerActions : public QObject {
  Q_OBJECT
 public:
  // The actions are added to `viewer` itself. Shortcuts without Ctrl/Alt/Meta (F, I, H, arrows,
  // Delete, +) fire only while the viewer or a child of it has the focus (so that typing in other
  // panes of the window never triggers them); modified ones (Ctrl+Shift+A) fire anywhere in the
  // window. Do not also add them to the window: a plain-key shortcut would then fire everywhere.
  explicit ViewerActions(ViewerWidget* viewer, QObject* parent = nullptr);

  // Tools (checkable, exclusive)
  QAction* panTool;
  QAction* windowTool;
  QAction* lengthTool;
  QAction* angleTool;
  QAction* rectangleTool;
  QAction* ellipseTool;
  // View
  QAction* zoomIn;
  QAction* zoomOut;
  QAction* fit;
  QAction* actualPixels;
  QAction* rotateClockwise;
  QAction* rotateCounterClockwise;
  QAction* flipHorizontal;
  QAction* flipVertical;
  QAction* resetView;
  QAction* magnifier;
  QAction* overlays;
  QAction* anonymised;
  // Window
  QAction* invert;
  QAction* resetWindow;
  // Frames
  QAction* nextFrame;
  QAction* previousFrame;
  // Measurements
  QAction* deleteMeasurement;
  QAction* clearMeasurements;

  QList<QAction*> toolActions() const;
  QList<QAction*> viewActions() const;
  QList<QAction*> windowActions() const;
  QList<QAction*> all() const;

  // "Window presets" menu, rebuilt when the image changes; presets get Ctrl+1..Ctrl+9.
  QMenu* presetMenu() const { return presetMenu_; }

 private:
  void rebuildPresets();
  void syncFromViewer();

  ViewerWidget* viewer_;
  QActionGroup* toolGroup_;
  QMenu* presetMenu_;
};

}  // namespace cxr::viewer
