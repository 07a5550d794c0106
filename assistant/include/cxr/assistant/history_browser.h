// Browse stored conversations: search by text, date and image; reopen; delete (asks, undoable).
#pragma once

#include "cxr/assistant/history.h"

#include <QDialog>

class QDateEdit;
class QCheckBox;
class QLineEdit;
class QPushButton;
class QTableWidget;
class QTextBrowser;
class QLabel;

namespace cxr::assistant {

class HistoryBrowser : public QDialog {
  Q_OBJECT
 public:
  explicit HistoryBrowser(HistoryStore& store, QWidget* parent = nullptr);

  HistoryQuery query() const;
  void refresh();
  int rowCount() const;
  qint64 selectedId() const;
  void selectRow(int row);
  // Deletes the selected conversation; confirm = false skips the question (tests).
  bool deleteSelected(bool confirm = true);
  bool undoLastDelete();

 Q_SIGNALS:
  void reopenRequested(const cxr::assistant::ConversationRecord& record);

 private:
  void showSelected();

  HistoryStore& store_;
  QLineEdit* text_ = nullptr;
  QLineEdit* image_ = nullptr;
  QCheckBox* useDates_ = nullptr;
  QDateEdit* from_ = nullptr;
  QDateEdit* to_ = nullptr;
  QTableWidget* table_ = nullptr;
  QTextBrowser* preview_ = nullptr;
  QPushButton* reopen_ = nullptr;
  QPushButton* delete_ = nullptr;
  QPushButton* undo_ = nullptr;
  QLabel* undoNote_ = nullptr;
  qint64 lastDeleted_ = 0;
};

}  // namespace cxr::assistant
