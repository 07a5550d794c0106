#include "shortcuts_dialog.h"

#include <QAction>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QTableWidget>
#include <QVBoxLayout>

namespace cxr::app {

QList<QPair<QString, QString>> ShortcutsDialog::mouseGestures() {
  return {
      {tr("Right-drag"), tr("Window/level: left/right changes width, up/down changes centre")},
      {tr("Wheel"), tr("Zoom around the cursor")},
      {tr("Middle-drag"), tr("Pan")},
      {tr("Left-drag (Pan tool)"), tr("Pan; on a measurement: select it, drag its point or move it whole")},
      {tr("Left-drag (W/L tool)"), tr("Window/level, as right-drag")},
      {tr("Double-click"), tr("Fit to window")},
      {tr("Length / ROI tools"), tr("Drag from one end to the other, or click twice")},
      {tr("Angle tool"), tr("Click arm end, vertex, arm end")},
      {tr("Esc"), tr("Cancel the measurement being drawn")},
      {tr("Drop a file or folder"), tr("Open it")},
  };
}

ShortcutsDialog::ShortcutsDialog(const QList<QAction*>& actions, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Keyboard and Mouse Shortcuts"));
  resize(640, 720);
  table_ = new QTableWidget(this);
  table_->setColumnCount(2);
  table_->setHorizontalHeaderLabels({tr("Shortcut"), tr("Command")});
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);

  auto addRow = [this](const QString& key, const QString& what) {
    const int row = table_->rowCount();
    table_->insertRow(row);
    table_->setItem(row, 0, new QTableWidgetItem(key));
    table_->setItem(row, 1, new QTableWidgetItem(what));
  };
  for (const QAction* a : actions) {
    QStringList keys;
    for (const QKeySequence& k : a->shortcuts())
      keys << k.toString(QKeySequence::NativeText);
    addRow(keys.join(QStringLiteral(", ")), QString(a->text()).remove(u'&').remove(QChar(0x2026)));
  }
  for (const auto& [gesture, what] : mouseGestures())
    addRow(gesture, what);
  table_->resizeColumnToContents(0);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(table_);
  layout->addWidget(buttons);
}

}  // namespace cxr::app
