#include "cxr/assistant/history_browser.h"

#include <QCheckBox>
#include <QDateEdit>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPalette>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace cxr::assistant {

HistoryBrowser::HistoryBrowser(HistoryStore& store, QWidget* parent) : QDialog(parent), store_(store) {
  setWindowTitle(tr("Conversation history"));
  resize(900, 560);
  auto* layout = new QVBoxLayout(this);
  auto* filters = new QHBoxLayout;
  text_ = new QLineEdit(this);
  text_->setPlaceholderText(tr("Search text"));
  text_->setClearButtonEnabled(true);
  image_ = new QLineEdit(this);
  image_->setPlaceholderText(tr("Image path or sha256"));
  image_->setClearButtonEnabled(true);
  useDates_ = new QCheckBox(tr("From"), this);
  from_ = new QDateEdit(QDate::currentDate().addMonths(-1), this);
  to_ = new QDateEdit(QDate::currentDate(), this);
  from_->setCalendarPopup(true);
  to_->setCalendarPopup(true);
  filters->addWidget(text_, 2);
  filters->addWidget(image_, 2);
  filters->addWidget(useDates_);
  filters->addWidget(from_);
  filters->addWidget(new QLabel(tr("to"), this));
  filters->addWidget(to_);
  layout->addLayout(filters);

  auto* split = new QSplitter(this);
  table_ = new QTableWidget(0, 3, split);
  table_->setHorizontalHeaderLabels({tr("Updated (UTC)"), tr("Title"), tr("Image")});
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->verticalHeader()->setVisible(false);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  preview_ = new QTextBrowser(split);
  split->addWidget(table_);
  split->addWidget(preview_);
  layout->addWidget(split, 1);

  auto* buttons = new QHBoxLayout;
  reopen_ = new QPushButton(tr("Reopen image and conversation"), this);
  delete_ = new QPushButton(tr("Delete…"), this);
  undo_ = new QPushButton(tr("Undo delete"), this);
  undoNote_ = new QLabel(this);
  undo_->setVisible(false);
  buttons->addWidget(reopen_);
  buttons->addWidget(delete_);
  buttons->addWidget(undoNote_, 1);
  buttons->addWidget(undo_);
  layout->addLayout(buttons);
  // Read-only (a read-only file, the damaged copy kept aside) and read errors are said here.
  readNote_ = new QLabel(this);
  readNote_->setObjectName(QStringLiteral("historyReadNote"));
  readNote_->setWordWrap(true);
  readNote_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(readNote_);

  for (auto* edit : {text_, image_}) connect(edit, &QLineEdit::textChanged, this, &HistoryBrowser::refresh);
  connect(useDates_, &QCheckBox::toggled, this, &HistoryBrowser::refresh);
  connect(from_, &QDateEdit::dateChanged, this, &HistoryBrowser::refresh);
  connect(to_, &QDateEdit::dateChanged, this, &HistoryBrowser::refresh);
  connect(table_, &QTableWidget::itemSelectionChanged, this, &HistoryBrowser::showSelected);
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this] { reopen_->click(); });
  connect(reopen_, &QPushButton::clicked, this, [this] {
    const auto record = store_.conversation(selectedId());
    if (!record) return;
    Q_EMIT reopenRequested(*record);
    accept();
  });
  connect(delete_, &QPushButton::clicked, this, [this] { deleteSelected(true); });
  connect(undo_, &QPushButton::clicked, this, &HistoryBrowser::undoLastDelete);
  refresh();
}

HistoryQuery HistoryBrowser::query() const {
  HistoryQuery q;
  q.text = text_->text();
  q.image = image_->text();
  if (useDates_->isChecked()) {
    q.from = from_->date();
    q.to = to_->date();
  }
  return q;
}

namespace {
QString readNoteFor(const HistoryStore& store) {
  QStringList parts;
  if (!store.isOpen())
    parts << HistoryBrowser::tr("The history cannot be read: %1").arg(store.errorString());
  else if (!store.isWritable())
    parts << HistoryBrowser::tr("Read-only: %1. New conversations are not saved.").arg(store.readOnlyReason());
  if (!store.readError().isEmpty()) parts << store.readError();
  return parts.join(u'\n');
}
}  // namespace

void HistoryBrowser::refresh() {
  const auto rows = store_.search(query());
  readNote_->setText(readNoteFor(store_));
  readNote_->setVisible(!readNote_->text().isEmpty());
  table_->setRowCount(int(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    auto* when = new QTableWidgetItem(r.updatedAt.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm")));
    when->setData(Qt::UserRole, r.id);
    table_->setItem(i, 0, when);
    table_->setItem(i, 1, new QTableWidgetItem(r.title));
    auto* image = new QTableWidgetItem(QFileInfo(r.image.path).fileName());
    image->setToolTip(QDir::toNativeSeparators(r.image.path) + u'\n' + r.image.sha256);
    table_->setItem(i, 2, image);
  }
  reopen_->setEnabled(false);
  delete_->setEnabled(false);
  delete_->setVisible(store_.isWritable());
  preview_->clear();
}

int HistoryBrowser::rowCount() const { return table_->rowCount(); }

qint64 HistoryBrowser::selectedId() const {
  const auto rows = table_->selectionModel()->selectedRows();
  if (rows.isEmpty()) return 0;
  return table_->item(rows.first().row(), 0)->data(Qt::UserRole).toLongLong();
}

void HistoryBrowser::selectRow(int row) { table_->selectRow(row); }

void HistoryBrowser::showSelected() {
  const qint64 id = selectedId();
  reopen_->setEnabled(id != 0);
  delete_->setEnabled(id != 0);
  const auto record = id ? store_.conversation(id) : std::nullopt;
  readNote_->setText(readNoteFor(store_));
  readNote_->setVisible(!readNote_->text().isEmpty());
  if (!record) {
    preview_->clear();
    return;
  }
  QString html;
  for (const auto& m : record->messages)
    html += QStringLiteral("<p><b>%1</b>%2<br>%3</p>")
                .arg(m.role == QStringLiteral("user") ? tr("You") : tr("Assistant"),
                     m.complete ? QString() : tr(" (interrupted)"), m.content.toHtmlEscaped().replace(u'\n', QStringLiteral("<br>")));
  preview_->setHtml(html);
}

bool HistoryBrowser::deleteSelected(bool confirm) {
  const qint64 id = selectedId();
  if (!id) return false;
  if (confirm &&
      QMessageBox::question(this, tr("Delete conversation"),
                            tr("Delete this conversation from the history? You can undo this until the window closes.")) !=
          QMessageBox::Yes)
    return false;
  if (!store_.softDelete(id)) return false;
  lastDeleted_ = id;
  undo_->setVisible(true);
  undoNote_->setText(tr("Conversation deleted."));
  refresh();
  return true;
}

bool HistoryBrowser::undoLastDelete() {
  if (!lastDeleted_ || !store_.undoDelete(lastDeleted_)) return false;
  lastDeleted_ = 0;
  undo_->setVisible(false);
  undoNote_->clear();
  refresh();
  return true;
}

// ---- HistoryBanner --------------------------------------------------------------------------

HistoryBanner::HistoryBanner(HistoryStore& store, QWidget* parent) : QFrame(parent), store_(store) {
  setObjectName(QStringLiteral("historyBanner"));
  setFrameShape(QFrame::StyledPanel);
  setAutoFillBackground(true);
  QPalette p = palette();
  p.setColor(QPalette::Window, QColor(0xff, 0xf4, 0xce));
  p.setColor(QPalette::WindowText, QColor(0x40, 0x30, 0x00));
  setPalette(p);
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(8, 4, 8, 4);
  text_ = new QLabel(this);
  text_->setObjectName(QStringLiteral("historyBannerText"));
  text_->setWordWrap(true);
  text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(text_, 1);
  auto button = [&](const QString& label, const char* name) {
    auto* b = new QPushButton(label, this);
    b->setObjectName(QString::fromLatin1(name));
    layout->addWidget(b);
    return b;
  };
  startNew_ = button(tr("Start a New History"), "historyStartNew");
  readAside_ = button(tr("Read the Damaged History"), "historyReadDamaged");
  retry_ = button(tr("Retry"), "historyRetry");
  dismiss_ = button(tr("Dismiss"), "historyDismiss");
  readAside_->setToolTip(tr("Open the copy kept aside for reading: what can be read of it is shown, nothing is saved"));
  connect(startNew_, &QPushButton::clicked, this, [this] { act(&HistoryStore::startNewHistory); });
  connect(readAside_, &QPushButton::clicked, this, [this] { act(&HistoryStore::openKeptAsideReadOnly); });
  connect(retry_, &QPushButton::clicked, this, [this] { act(&HistoryStore::retry); });
  connect(dismiss_, &QPushButton::clicked, this, &QWidget::hide);
  refresh();
}

void HistoryBanner::act(bool (HistoryStore::*choice)()) {
  (store_.*choice)();
  Q_EMIT historyReplaced();
  refresh();
}

QString HistoryBanner::text() const { return isHidden() ? QString() : text_->text(); }

void HistoryBanner::refresh() {
  using C = HistoryCondition;
  const C c = store_.condition();
  const bool readingAside = c == C::ReadOnly && !store_.keptAsidePath().isEmpty() && store_.path() == store_.keptAsidePath();
  text_->setText(store_.conditionText());
  startNew_->setVisible(c == C::Damaged || c == C::ReadOnly || c == C::WriteFailed || c == C::Unavailable);
  readAside_->setVisible(c == C::Damaged && !store_.keptAsidePath().isEmpty());
  retry_->setVisible((c == C::ReadOnly && !readingAside) || c == C::Unavailable || c == C::WriteFailed);
  // Nothing more is lost by hiding these; the others say that saving is off, so they stay.
  dismiss_->setVisible(c == C::Truncated || c == C::WriteFailed);
  setVisible(c != C::Healthy);
}

void HistoryBanner::showWriteFailure(const QString&) {
  // The store's condition carries the message (and whether the file turned out damaged).
  refresh();
  show();
}

}  // namespace cxr::assistant
