// Browse stored conversations: search by text, date and image; reopen; delete (asks, undoable).
// HistoryBanner: the window's message bar for a history that cannot be read or written.
#pragma once

#include "cxr/assistant/history.h"

#include <QDialog>
#include <QFrame>

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
  QLabel* readNote_ = nullptr;
  qint64 lastDeleted_ = 0;
};

// Shown in the window whenever the history is not Healthy or a write failed, and stays until the
// user acts: a damaged history offers a new one or a read-only look at the copy kept aside; a
// read-only or unavailable one offers a retry (after fixing the permissions) or a new one. Only the
// notices that lose nothing more (a truncated file already replaced, a failed write) can be
// dismissed. The logic is HistoryStore's; this widget shows it and passes the choice on.
class HistoryBanner : public QFrame {
  Q_OBJECT
 public:
  explicit HistoryBanner(HistoryStore& store, QWidget* parent = nullptr);
  // Shows the store's condition (hidden when healthy).
  void refresh();
  // A write failed (connect HistoryStore::setWriteFailureHandler here).
  void showWriteFailure(const QString& message);
  QString text() const;

 Q_SIGNALS:
  // The store now reads or writes another file (a new history, the copy kept aside).
  void historyReplaced();

 private:
  void act(bool (HistoryStore::*choice)());

  HistoryStore& store_;
  QLabel* text_ = nullptr;
  QPushButton* startNew_ = nullptr;
  QPushButton* readAside_ = nullptr;
  QPushButton* retry_ = nullptr;
  QPushButton* dismiss_ = nullptr;
};

}  // namespace cxr::assistant
