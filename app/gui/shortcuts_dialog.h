// Help > Keyboard and Mouse Shortcuts: a table built from the window's actions, so it can never
// disagree with the shortcuts that actually work, plus the mouse gestures that are not actions.
#pragma once

#include <QDialog>
#include <QList>

class QAction;
class QTableWidget;

namespace cxr::app {

class ShortcutsDialog : public QDialog {
  Q_OBJECT
 public:
  ShortcutsDialog(const QList<QAction*>& actions, QWidget* parent = nullptr);
  QTableWidget* table() const { return table_; }

  // The mouse gestures listed after the keyboard shortcuts: {gesture, what it does}.
  static QList<QPair<QString, QString>> mouseGestures();

 private:
  QTableWidget* table_;
};

}  // namespace cxr::app
