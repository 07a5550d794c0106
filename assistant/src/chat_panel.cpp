#include "cxr/assistant/chat_panel.h"

#include "action_row.h"

#include "cxr/assistant/findings.h"
#include "cxr/assistant/history_browser.h"
#include "cxr/assistant/prompting.h"
#include "cxr/assistant/question_box.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QRegularExpressionValidator>
#include <QScrollBar>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTextBlock>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include <cmath>

namespace cxr::assistant {

namespace {
QString statusColor(FindingStatus s) {
  switch (s) {
    case FindingStatus::Present: return QStringLiteral("#b00020");
    case FindingStatus::Uncertain: return QStringLiteral("#a06000");
    case FindingStatus::Absent: return QStringLiteral("#1b7a1b");
    case FindingStatus::NotMentioned: return QStringLiteral("#777777");
  }
  return {};
}

// An answer as readable rich text: blank lines separate paragraphs, "- ", "* " or "1. " lines
// become lists, other line breaks stay.
QString readableHtml(const QString& text) {
  static const QRegularExpression bullet(QStringLiteral("^[-*\u2022]\\s+(.*)$"));
  static const QRegularExpression numbered(QStringLiteral("^\\d{1,3}[.)]\\s+(.*)$"));
  enum class List { None, Bullets, Numbers } list = List::None;
  QString html;
  QStringList paragraph;
  auto endParagraph = [&] {
    if (!paragraph.isEmpty()) html += QStringLiteral("<p>") + paragraph.join(QStringLiteral("<br>")) + QStringLiteral("</p>");
    paragraph.clear();
  };
  auto endList = [&] {
    if (list == List::Bullets) html += QStringLiteral("</ul>");
    if (list == List::Numbers) html += QStringLiteral("</ol>");
    list = List::None;
  };
  for (const QString& raw : text.split(u'\n')) {
    const QString line = raw.trimmed();
    if (line.isEmpty()) {
      endParagraph();
      endList();
      continue;
    }
    const auto b = bullet.match(line);
    const auto n = b.hasMatch() ? QRegularExpressionMatch() : numbered.match(line);
    if (b.hasMatch() || n.hasMatch()) {
      endParagraph();
      const List kind = b.hasMatch() ? List::Bullets : List::Numbers;
      if (list != kind) {
        endList();
        html += kind == List::Bullets ? QStringLiteral("<ul>") : QStringLiteral("<ol>");
        list = kind;
      }
      html += QStringLiteral("<li>") + (b.hasMatch() ? b : n).captured(1).toHtmlEscaped() + QStringLiteral("</li>");
    } else {
      endList();
      paragraph << line.toHtmlEscaped();
    }
  }
  endParagraph();
  endList();
  return html;
}

// The checklist of one report, right under it: two findings a row, the status coloured.
QString checklistHtml(const QString& report) {
  const auto results = classifyFindings(report);
  QString html = QStringLiteral("<table cellspacing=\"0\" cellpadding=\"3\" style=\"margin-top:4px\">"
                                "<tr><td colspan=\"4\" style=\"color:#666; font-size:small\">%1</td></tr>")
                     .arg(QCoreApplication::translate("cxr::assistant::ChatPanel", "Findings checklist (rule-based, from this report)"));
  for (int i = 0; i < results.size(); ++i) {
    if (i % 2 == 0) html += QStringLiteral("<tr>");
    html += QStringLiteral("<td>%1</td><td style=\"color:%2; padding-right:12px\"><b>%3</b></td>")
                .arg(findingName(results[i].finding).toHtmlEscaped(), statusColor(results[i].status),
                     findingStatusName(results[i].status).toHtmlEscaped());
    if (i % 2 == 1 || i + 1 == results.size()) html += QStringLiteral("</tr>");
  }
  return html + QStringLiteral("</table>");
}
}  // namespace

ChatPanel::ChatPanel(AssistantEngine& engine, HistoryStore* history, QWidget* parent)
    : QWidget(parent), engine_(engine), history_(history), session_(new ChatSession(engine, history, this)) {
  buildUi();
  connectEngine();
  connectSession();
  ticker_.setInterval(250);  // elapsed time and tokens/s while an answer runs
  connect(&ticker_, &QTimer::timeout, this, &ChatPanel::updateStreamStats);
  // Streamed chunks reach the document at most once per interval: inserting text into a growing
  // paragraph relays it out, which cost ~2.5 ms per chunk (the window showed a 280 tokens/s tiny
  // model at 59 % of the rate of a run without a window). 30 updates a second still read as
  // continuous typing, and at a 7B model's few tokens a second each chunk still shows on its own.
  streamFlush_.setSingleShot(true);
  streamFlush_.setInterval(33);
  connect(&streamFlush_, &QTimer::timeout, this, &ChatPanel::showUnshownChunks);
  if (engine_.isModelLoaded()) {
    modelStatus_->setText(engine_.model().statusText());
    modelBox_->setVisible(false);
  } else {
    showModelMissing();
  }
  updateEnabled();
}

ChatPanel::~ChatPanel() = default;  // the session closes a streaming answer in the history

namespace {
// A header button that shows or hides a section (the arrow says which), reachable by Tab and
// Space like any button.
QToolButton* sectionToggle(const QString& text, const QString& objectName, QWidget* parent) {
  auto* b = new QToolButton(parent);
  b->setText(text);
  b->setObjectName(objectName);
  b->setAccessibleName(text);
  b->setCheckable(true);
  b->setAutoRaise(true);
  b->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  b->setArrowType(Qt::RightArrow);
  b->setFocusPolicy(Qt::StrongFocus);
  QObject::connect(b, &QToolButton::toggled, b, [b](bool on) { b->setArrowType(on ? Qt::DownArrow : Qt::RightArrow); });
  return b;
}

QPushButton* actionButton(const QString& text, const QString& objectName, const QString& tip, QWidget* parent) {
  auto* b = new QPushButton(text, parent);
  b->setObjectName(objectName);
  b->setAccessibleName(QString(text).remove(u'&').remove(QStringLiteral("…")));
  b->setToolTip(tip);
  return b;
}
}  // namespace

void ChatPanel::buildUi() {
  // Layout, top to bottom (issue 11: the answer gets the room): a notice about the model only
  // while none is loaded; one compact row with what the model sees and the sampling settings, each
  // opening a small strip; the transcript (all remaining height); the checklist, collapsed; the
  // request buttons; the question box.
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);

  // ---- Model notice (the loaded model's summary lives in the status bar) ---------------------
  modelBox_ = new QFrame(this);
  modelBox_->setObjectName(QStringLiteral("modelNotice"));
  modelBox_->setFrameShape(QFrame::StyledPanel);
  auto* modelLayout = new QVBoxLayout(modelBox_);
  modelLayout->setContentsMargins(6, 4, 6, 4);
  modelStatus_ = new QLabel(modelBox_);
  modelStatus_->setWordWrap(true);
  modelStatus_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  modelStatus_->setObjectName(QStringLiteral("modelStatus"));
  auto* loadRow = new QHBoxLayout;
  chooseFolder_ = actionButton(tr("Choose model folder…"), QStringLiteral("chooseModelFolder"),
                               tr("The CXR-LLaVA checkpoint folder (config.json, weights, tokenizer.model)"), modelBox_);
  loadProgress_ = new QProgressBar(modelBox_);
  loadProgress_->setRange(0, 1000);
  loadProgress_->setVisible(false);
  loadProgress_->setAccessibleName(tr("Model loading progress"));
  cancelLoad_ = actionButton(tr("Cancel"), QStringLiteral("cancelLoad"), tr("Stop loading the model"), modelBox_);
  cancelLoad_->setAccessibleName(tr("Cancel loading the model"));
  cancelLoad_->setVisible(false);
  loadRow->addWidget(chooseFolder_);
  loadRow->addWidget(loadProgress_, 1);
  loadRow->addWidget(cancelLoad_);
  modelLayout->addWidget(modelStatus_);
  modelLayout->addLayout(loadRow);
  layout->addWidget(modelBox_);
  connect(chooseFolder_, &QPushButton::clicked, this, [this] {
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Choose the CXR-LLaVA model folder"));
    if (!folder.isEmpty()) loadModel(folder);
  });
  connect(cancelLoad_, &QPushButton::clicked, this, [this] { engine_.stop(); });

  // ---- One compact row: what the model sees, sampling ----------------------------------------
  auto* header = new QHBoxLayout;
  header->setSpacing(4);
  inputToggle_ = sectionToggle(tr("Model input"), QStringLiteral("modelInputToggle"), this);
  inputToggle_->setToolTip(tr("Show the exact square the model sees"));
  thumbnail_ = new QLabel(this);
  thumbnail_->setFixedSize(24, 24);
  thumbnail_->setFrameShape(QFrame::StyledPanel);
  thumbnail_->setAccessibleName(tr("Model input thumbnail"));
  imageChoice_ = new QComboBox(this);
  imageChoice_->addItem(tr("Default window rendering"));
  imageChoice_->addItem(tr("Current on-screen window"));
  imageChoice_->setObjectName(QStringLiteral("imageChoice"));
  imageChoice_->setAccessibleName(tr("Rendering the model sees"));
  imageChoice_->setToolTip(tr("Which rendering of the image the model sees. Changing it starts a new conversation."));
  imageChoice_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  samplingToggle_ = sectionToggle(tr("Sampling"), QStringLiteral("samplingToggle"), this);
  header->addWidget(inputToggle_);
  header->addWidget(thumbnail_);
  header->addWidget(imageChoice_, 1);
  header->addWidget(samplingToggle_);
  layout->addLayout(header);

  inputStrip_ = new QWidget(this);
  inputStrip_->setObjectName(QStringLiteral("modelInputStrip"));
  auto* inputLayout = new QHBoxLayout(inputStrip_);
  inputLayout->setContentsMargins(0, 0, 0, 0);
  preview_ = new QLabel(inputStrip_);
  preview_->setFixedSize(96, 96);
  preview_->setAlignment(Qt::AlignCenter);
  preview_->setFrameShape(QFrame::StyledPanel);
  preview_->setObjectName(QStringLiteral("modelInputPreview"));
  preview_->setAccessibleName(tr("Model input preview"));
  cropInfo_ = new QLabel(inputStrip_);
  cropInfo_->setWordWrap(true);
  cropInfo_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  inputLayout->addWidget(preview_);
  inputLayout->addWidget(cropInfo_, 1);
  inputStrip_->setVisible(false);
  layout->addWidget(inputStrip_);
  connect(inputToggle_, &QToolButton::toggled, inputStrip_, &QWidget::setVisible);
  connect(imageChoice_, &QComboBox::currentIndexChanged, this, [this](int index) {
    session_->setImageChoice(index == 1 ? ModelImageChoice::CurrentWindow : ModelImageChoice::DefaultWindow);
  });

  samplingRow_ = new QFrame(this);
  samplingRow_->setObjectName(QStringLiteral("samplingSettings"));
  samplingRow_->setFrameShape(QFrame::StyledPanel);
  auto* grid = new QGridLayout(samplingRow_);
  grid->setContentsMargins(6, 4, 6, 4);
  grid->setVerticalSpacing(2);
  deterministic_ = new QCheckBox(tr("&Deterministic (greedy: same image, same answer)"), samplingRow_);
  deterministic_->setObjectName(QStringLiteral("deterministic"));
  deterministic_->setAccessibleName(tr("Deterministic"));
  temperature_ = new QDoubleSpinBox(samplingRow_);
  temperature_->setRange(0.0, 2.0);
  temperature_->setSingleStep(0.05);
  temperature_->setDecimals(2);
  temperature_->setAccessibleName(tr("Temperature"));
  topP_ = new QDoubleSpinBox(samplingRow_);
  topP_->setRange(0.05, 1.0);
  topP_->setSingleStep(0.05);
  topP_->setDecimals(2);
  topP_->setAccessibleName(tr("Top-p"));
  topK_ = new QSpinBox(samplingRow_);
  topK_->setRange(0, 1000);
  topK_->setSpecialValueText(tr("off"));
  topK_->setAccessibleName(tr("Top-k"));
  maxTokens_ = new QSpinBox(samplingRow_);
  maxTokens_->setRange(1, 2048);
  maxTokens_->setAccessibleName(tr("Maximum new tokens"));
  seed_ = new QLineEdit(samplingRow_);
  seed_->setPlaceholderText(tr("random (shown with each answer)"));
  seed_->setObjectName(QStringLiteral("seed"));
  seed_->setAccessibleName(tr("Seed"));
  // Digits only (a seed is 0 .. 2^64-1): "-1" or "abc" cannot be typed, so a seed the user sees is
  // never silently replaced by a random one. The spin boxes above are range-limited the same way
  // (within SamplingParams' ranges: temperature 0-2, top-p 0.05-1, top-k 0-1000, 1-2048 tokens).
  seed_->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{0,20}")), seed_));
  auto label = [this](const QString& text, QWidget* buddy) {
    auto* l = new QLabel(text, samplingRow_);
    l->setBuddy(buddy);
    return l;
  };
  grid->addWidget(deterministic_, 0, 0, 1, 6);
  grid->addWidget(label(tr("&Temperature"), temperature_), 1, 0);
  grid->addWidget(temperature_, 1, 1);
  grid->addWidget(label(tr("Top-&p"), topP_), 1, 2);
  grid->addWidget(topP_, 1, 3);
  grid->addWidget(label(tr("Top-&k"), topK_), 1, 4);
  grid->addWidget(topK_, 1, 5);
  grid->addWidget(label(tr("Max &new tokens"), maxTokens_), 2, 0);
  grid->addWidget(maxTokens_, 2, 1);
  grid->addWidget(label(tr("S&eed"), seed_), 2, 2);
  grid->addWidget(seed_, 2, 3, 1, 3);
  grid->setColumnStretch(3, 1);
  samplingRow_->setVisible(false);
  layout->addWidget(samplingRow_);
  connect(samplingToggle_, &QToolButton::toggled, samplingRow_, &QWidget::setVisible);
  setSamplingSettings(SamplingSettings{});
  connect(deterministic_, &QCheckBox::toggled, this, [this](bool on) {
    temperature_->setEnabled(!on);
    topP_->setEnabled(!on);
    topK_->setEnabled(!on);
  });
  for (QObject* control : {static_cast<QObject*>(deterministic_), static_cast<QObject*>(temperature_),
                           static_cast<QObject*>(topP_), static_cast<QObject*>(topK_),
                           static_cast<QObject*>(maxTokens_), static_cast<QObject*>(seed_)}) {
    if (auto* box = qobject_cast<QAbstractSpinBox*>(control))
      connect(box, &QAbstractSpinBox::editingFinished, this, &ChatPanel::updateSamplingSummary);
    if (auto* check = qobject_cast<QCheckBox*>(control))
      connect(check, &QCheckBox::toggled, this, &ChatPanel::updateSamplingSummary);
    if (auto* line = qobject_cast<QLineEdit*>(control))
      connect(line, &QLineEdit::textChanged, this, &ChatPanel::updateSamplingSummary);
  }
  for (auto* spin : {temperature_, topP_})
    connect(spin, &QDoubleSpinBox::valueChanged, this, &ChatPanel::updateSamplingSummary);
  for (auto* spin : {topK_, maxTokens_})
    connect(spin, &QSpinBox::valueChanged, this, &ChatPanel::updateSamplingSummary);

  // ---- Conversation ------------------------------------------------------------------------
  messages_ = new QTextBrowser(this);
  messages_->setOpenLinks(false);
  messages_->setObjectName(QStringLiteral("messages"));
  messages_->setAccessibleName(tr("Conversation"));
  messages_->setAccessibleDescription(tr("The questions and the assistant's answers. Tab moves between the "
                                         "Copy and Reuse seed links; Enter follows one."));
  messages_->setPlaceholderText(tr("Write a report, ask for a differential diagnosis or type a question below."));
  messages_->document()->setDocumentMargin(8);
  connect(messages_, &QTextBrowser::anchorClicked, this, &ChatPanel::onAnchor);
  layout->addWidget(messages_, 1);

  findingsToggle_ = sectionToggle(tr("Findings checklist"), QStringLiteral("findingsToggle"), this);
  findingsToggle_->setToolTip(tr("The checklist as a table: click a row to find its sentence in the report"));
  findings_ = new QTableWidget(6, 3, this);
  findings_->setObjectName(QStringLiteral("findings"));
  findings_->setAccessibleName(tr("Findings checklist"));
  findings_->setHorizontalHeaderLabels({tr("Finding"), tr("Status"), tr("Sentence")});
  findings_->horizontalHeader()->setStretchLastSection(true);
  findings_->verticalHeader()->setVisible(false);
  findings_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  findings_->setSelectionBehavior(QAbstractItemView::SelectRows);
  findings_->verticalHeader()->setDefaultSectionSize(findings_->fontMetrics().height() + 6);
  // Exactly six rows tall when shown: every finding visible.
  findings_->setFixedHeight(findings_->horizontalHeader()->sizeHint().height() +
                            6 * findings_->verticalHeader()->defaultSectionSize() + 4);
  findings_->setToolTip(tr("Rule-based reading of the report (negation and hedge aware). Click a row to find its sentence."));
  findings_->setVisible(false);
  connect(findingsToggle_, &QToolButton::toggled, findings_, &QWidget::setVisible);
  auto findSentence = [this](int row) {
    const auto* item = findings_->item(row, 2);
    if (!item || item->text().isEmpty()) return;
    messages_->moveCursor(QTextCursor::Start);
    messages_->find(item->text());
  };
  connect(findings_, &QTableWidget::cellClicked, this, [findSentence](int row, int) { findSentence(row); });
  connect(findings_, &QTableWidget::cellActivated, this, [findSentence](int row, int) { findSentence(row); });
  layout->addWidget(findingsToggle_);
  layout->addWidget(findings_);

  auto* progressRow = new QHBoxLayout;
  phase_ = new QLabel(this);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 100);
  progress_->setObjectName(QStringLiteral("phaseProgress"));
  progress_->setAccessibleName(tr("Progress of the answer"));
  progress_->setMaximumHeight(phase_->sizeHint().height() + 4);
  streamStats_ = new QLabel(this);
  streamStats_->setObjectName(QStringLiteral("streamStats"));
  streamStats_->setStyleSheet(QStringLiteral("color:#666"));
  progressRow->addWidget(phase_);
  progressRow->addWidget(progress_, 1);
  progressRow->addWidget(streamStats_);
  phase_->setVisible(false);
  progress_->setVisible(false);
  streamStats_->setVisible(false);
  layout->addLayout(progressRow);

  error_ = new QLabel(this);
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color:#b00020"));
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setObjectName(QStringLiteral("error"));
  error_->setVisible(false);
  layout->addWidget(error_);

  // ---- Requests ----------------------------------------------------------------------------
  report_ = actionButton(tr("Write report"), QStringLiteral("writeReport"), tr("Write a radiology report (Ctrl+R)"), this);
  differential_ = actionButton(tr("Differential"), QStringLiteral("differential"),
                               tr("Differential diagnosis (Ctrl+Shift+D)"), this);
  differential_->setAccessibleName(tr("Differential diagnosis"));
  regenerate_ = actionButton(tr("Regenerate"), QStringLiteral("regenerate"), tr("Write the last answer again"), this);
  edit_ = actionButton(tr("Edit"), QStringLiteral("editQuestion"), tr("Edit the last question and send it again"), this);
  edit_->setAccessibleName(tr("Edit question"));
  newConversation_ = actionButton(tr("New"), QStringLiteral("newConversation"), tr("New conversation (Ctrl+Shift+N)"), this);
  newConversation_->setAccessibleName(tr("New conversation"));
  stop_ = actionButton(tr("Stop"), QStringLiteral("stop"), tr("Stop the answer (Ctrl+.)"), this);
  // A push button with a menu: its size includes the menu arrow (a tool button in instant-popup
  // mode draws the arrow over its text).
  export_ = actionButton(tr("Export"), QStringLiteral("export"), tr("Export the report or the conversation"), this);
  historyButton_ = actionButton(tr("History…"), QStringLiteral("history"), tr("Past conversations (Ctrl+H)"), this);
  historyButton_->setEnabled(history_ != nullptr);
  auto* actions = new ActionRow({report_, differential_, regenerate_, edit_},
                                {newConversation_, stop_, export_, historyButton_}, this);
  actions->setObjectName(QStringLiteral("actions"));
  layout->addWidget(actions);
  connect(report_, &QPushButton::clicked, this, &ChatPanel::writeReport);
  connect(differential_, &QPushButton::clicked, this, &ChatPanel::differentialDiagnosis);
  connect(stop_, &QPushButton::clicked, this, &ChatPanel::stop);
  connect(regenerate_, &QPushButton::clicked, this, &ChatPanel::regenerateLast);
  connect(edit_, &QPushButton::clicked, this, &ChatPanel::editLastQuestion);
  connect(newConversation_, &QPushButton::clicked, this, &ChatPanel::newConversation);

  auto* menu = new QMenu(export_);
  const struct {
    QString label;
    ExportFormat format;
    ExportDocument::Scope scope;
    QString filter;
  } exports[] = {
      {tr("Report as PDF…"), ExportFormat::Pdf, ExportDocument::Scope::Report, tr("PDF (*.pdf)")},
      {tr("Report as Markdown…"), ExportFormat::Markdown, ExportDocument::Scope::Report, tr("Markdown (*.md)")},
      {tr("Report as plain text…"), ExportFormat::PlainText, ExportDocument::Scope::Report, tr("Text (*.txt)")},
      {tr("Conversation as PDF…"), ExportFormat::Pdf, ExportDocument::Scope::Conversation, tr("PDF (*.pdf)")},
      {tr("Conversation as Markdown…"), ExportFormat::Markdown, ExportDocument::Scope::Conversation, tr("Markdown (*.md)")},
      {tr("Conversation as plain text…"), ExportFormat::PlainText, ExportDocument::Scope::Conversation, tr("Text (*.txt)")},
  };
  for (const auto& e : exports) {
    menu->addAction(e.label, this, [this, e] {
      const QString path = QFileDialog::getSaveFileName(this, e.label, QString(), e.filter);
      if (path.isEmpty()) return;
      QString error;
      if (!exportTo(path, e.format, e.scope, &error)) QMessageBox::warning(this, tr("Export failed"), error);
    });
  }
  menu->addSeparator();
  QAction* identifying = menu->addAction(tr("Include patient name, ID and dates"));
  identifying->setCheckable(true);
  connect(identifying, &QAction::toggled, this, [this](bool on) { includeIdentifying_ = on; });
  export_->setMenu(menu);

  auto* askRow = new QHBoxLayout;
  question_ = new QuestionBox(this);
  question_->setObjectName(QStringLiteral("question"));
  question_->setAccessibleName(tr("Question"));
  question_->setAccessibleDescription(tr("Enter sends; Shift+Enter starts a new line."));
  question_->setPlaceholderText(tr("Ask about the image (Enter sends, Shift+Enter new line)"));
  send_ = actionButton(tr("Send"), QStringLiteral("send"), tr("Send the question (Enter)"), this);
  askRow->addWidget(question_, 1);
  askRow->addWidget(send_, 0, Qt::AlignBottom);
  layout->addLayout(askRow);
  connect(question_, &QuestionBox::submitted, this, &ChatPanel::submitQuestion);
  connect(send_, &QPushButton::clicked, this, [this] {
    const QString text = question_->toPlainText().trimmed();
    if (!text.isEmpty()) submitQuestion(text);
  });
  connect(historyButton_, &QPushButton::clicked, this, &ChatPanel::showHistory);

  // Keyboard: these work anywhere in the panel (the window's Assistant menu has the others).
  auto shortcut = [this](const QKeySequence& key, auto&& slot) {
    auto* action = new QAction(this);
    action->setShortcut(key);
    action->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(action, &QAction::triggered, this, slot);
    addAction(action);
  };
  shortcut(QKeySequence(tr("Ctrl+Shift+R")), [this] { if (regenerate_->isEnabled()) regenerateLast(); });
  shortcut(QKeySequence(tr("Ctrl+Shift+E")), [this] { if (edit_->isEnabled()) editLastQuestion(); });
  shortcut(QKeySequence(tr("Ctrl+Shift+C")), [this] { copyLastAnswer(); });
  regenerate_->setToolTip(tr("Write the last answer again (Ctrl+Shift+R)"));
  edit_->setToolTip(tr("Edit the last question and send it again (Ctrl+Shift+E)"));

  // Focus order follows the layout, top to bottom; the question box comes right after the
  // transcript's links so that Tab from the answer reaches the question.
  QWidget* order[] = {chooseFolder_, cancelLoad_, inputToggle_, imageChoice_, samplingToggle_, deterministic_,
                      temperature_, topP_, topK_, maxTokens_, seed_, messages_, findingsToggle_, findings_,
                      report_, differential_, regenerate_, edit_, newConversation_, stop_, export_,
                      historyButton_, question_, send_};
  for (size_t i = 0; i + 1 < std::size(order); ++i) setTabOrder(order[i], order[i + 1]);
  updateSamplingSummary();
}

void ChatPanel::updateSamplingSummary() {
  const SamplingSettings s = samplingSettings();
  QString text = s.isGreedy() ? tr("Sampling: greedy")
                              : tr("Sampling: T %1 · p %2").arg(s.temperature, 0, 'g', 3).arg(s.topP, 0, 'g', 3);
  if (s.seed) text += tr(" · seed %1").arg(*s.seed);
  samplingToggle_->setText(text);
  samplingToggle_->setToolTip(s.describe());
  samplingToggle_->setAccessibleName(tr("Sampling settings"));
  samplingToggle_->setAccessibleDescription(s.describe());
}

void ChatPanel::copyLastAnswer() const {
  const auto& entries = session_->transcript().entries();
  for (auto it = entries.crbegin(); it != entries.crend(); ++it)
    if (it->role == TranscriptEntry::Role::Assistant && !it->text.isEmpty()) {
      QApplication::clipboard()->setText(it->text);
      return;
    }
}

void ChatPanel::connectEngine() {
  connect(&engine_, &AssistantEngine::loadProgress, this, [this](double fraction, const QString& stage) {
    loadProgress_->setVisible(true);
    cancelLoad_->setVisible(true);
    loadProgress_->setValue(int(fraction * 1000));
    loadProgress_->setFormat(QStringLiteral("%1 (%2%)").arg(stage).arg(int(fraction * 100)));
  });
  auto loadEnded = [this] {
    loadProgress_->setVisible(false);
    cancelLoad_->setVisible(false);
  };
  connect(&engine_, &AssistantEngine::modelLoaded, this, [this, loadEnded](const ModelSummary& summary) {
    loadEnded();
    modelBox_->setVisible(false);  // the status bar shows the model; the transcript gets the room
    modelStatus_->setText(summary.statusText());
    Q_EMIT modelStatusChanged(summary.statusText());
    updateEnabled();
  });
  connect(&engine_, &AssistantEngine::loadFailed, this, [this, loadEnded](const QString& message) {
    loadEnded();
    modelStatus_->setText(tr("The model could not be loaded:\n%1").arg(message));
    Q_EMIT modelStatusChanged(tr("Model not loaded"));
    updateEnabled();
  });
  connect(&engine_, &AssistantEngine::loadCancelled, this, [this, loadEnded] {
    loadEnded();
    modelStatus_->setText(tr("Loading was cancelled. Choose a model folder to try again."));
    Q_EMIT modelStatusChanged(tr("Model not loaded"));
    updateEnabled();
  });
  connect(&engine_, &AssistantEngine::previewReady, this, &ChatPanel::onPreview);
  connect(&engine_, &AssistantEngine::phaseProgress, this, [this](Phase phase, int done, int total) {
    const int percent = total > 0 ? int(100.0 * done / total) : 0;
    phase_->setText(phaseName(phase));
    progress_->setValue(percent);
    progress_->setFormat(QStringLiteral("%p%"));
    phase_->setVisible(true);
    progress_->setVisible(true);
  });
  connect(&engine_, &AssistantEngine::busyChanged, this, [this](bool busy) {
    if (!busy) {
      phase_->setVisible(false);
      progress_->setVisible(false);
    }
    updateEnabled();
  });
}

void ChatPanel::showModelMissing() {
  modelBox_->setVisible(modelNoticeShown_);
  modelStatus_->setText(tr("No model loaded. The viewer works without one.\n%1")
                            .arg(QString::fromStdString(howToGetModel())));
}

void ChatPanel::connectSession() {
  connect(session_, &ChatSession::transcriptReset, this, [this] {
    render();
    renderFindings();
  });
  connect(session_, &ChatSession::answerStarted, this, [this] {
    error_->setVisible(false);
    ticker_.start();
    render();
    updateStreamStats();
  });
  connect(session_, &ChatSession::chunkAppended, this, &ChatPanel::onToken);
  connect(session_, &ChatSession::answerFinished, this, [this](const AnswerResult& result) {
    onAnswerFinished();
    Q_EMIT answerFinished(result);
  });
  connect(session_, &ChatSession::failed, this, [this](const QString& message) {
    error_->setText(message);
    error_->setVisible(true);
  });
  connect(session_, &ChatSession::imageWaiting, this, [this] {
    cropInfo_->setText(tr("The on-screen window changed. Start a new conversation to let the model see it."));
  });
  connect(session_, &ChatSession::stateChanged, this, &ChatPanel::updateEnabled);
}

void ChatPanel::updateEnabled() {
  const bool busy = engine_.isBusy();
  const bool ready = session_->canAsk();
  report_->setEnabled(ready);
  differential_->setEnabled(ready);
  send_->setEnabled(ready);
  stop_->setEnabled(busy);
  regenerate_->setEnabled(session_->canRegenerate());
  edit_->setEnabled(session_->canRegenerate());
  newConversation_->setEnabled(!busy);
  chooseFolder_->setEnabled(!busy);
  export_->setEnabled(!session_->transcript().isEmpty());
}

// ---- Requests ---------------------------------------------------------------------------------

void ChatPanel::writeReport() { session_->ask(RequestKind::Report, {}, samplingSettings()); }
void ChatPanel::differentialDiagnosis() { session_->ask(RequestKind::Differential, {}, samplingSettings()); }
void ChatPanel::askQuestion(const QString& question) { session_->ask(RequestKind::Question, question, samplingSettings()); }
void ChatPanel::stop() { session_->stop(); }

void ChatPanel::submitQuestion(const QString& text) {
  if (!session_->canAsk()) return;  // the box keeps the text
  error_->setVisible(false);
  session_->submitQuestion(text, samplingSettings());
  question_->clear();
}

void ChatPanel::regenerateLast() { session_->regenerate(samplingSettings()); }

void ChatPanel::editLastQuestion() {
  if (!session_->transcript().lastUser()) return;
  question_->setPlainText(session_->beginEdit());
  question_->setFocus();
}

void ChatPanel::newConversation() { session_->newConversation(); }

// ---- Engine and session events ----------------------------------------------------------------

void ChatPanel::onAnswerFinished() {
  ticker_.stop();
  updateStreamStats();
  render();
  renderFindings();
  updateEnabled();
}

void ChatPanel::onPreview(const PreviewResult& preview) {
  const auto& info = preview.info;
  if (info.cropSize <= 0 || info.crop.size() != size_t(info.cropSize) * info.cropSize) return;
  QImage crop(info.crop.data(), info.cropSize, info.cropSize, info.cropSize, QImage::Format_Grayscale8);
  const QPixmap pixmap = QPixmap::fromImage(crop.copy());
  preview_->setPixmap(pixmap.scaled(preview_->size(), Qt::KeepAspectRatio, Qt::SmoothTransformation));
  thumbnail_->setPixmap(pixmap.scaled(thumbnail_->size(), Qt::KeepAspectRatio, Qt::SmoothTransformation));
  const QRectF rect = cropRectInSource(info, preview.sourceWidth, preview.sourceHeight);
  const bool cut = info.resizedWidth != info.cropSize || info.resizedHeight != info.cropSize;
  thumbnail_->setToolTip(tr("The %1×%1 square the model sees").arg(info.cropSize));
  cropInfo_->setText(tr("%1×%1 model input from the image resized to %2×%3.%4")
                         .arg(info.cropSize)
                         .arg(info.resizedWidth)
                         .arg(info.resizedHeight)
                         .arg(cut ? tr(" The parts outside the outlined square are cut away.") : QString()));
  Q_EMIT cropRectChanged(rect);
}

// ---- Image ----------------------------------------------------------------------------------------

void ChatPanel::setImageSource(const ModelImageSource& source) {
  imageChoice_->setItemText(1, source.currentWindow.isNull() ? tr("Current on-screen window (none)")
                                                              : tr("Current on-screen window"));
  session_->setImageSource(source);
  updateEnabled();
}

void ChatPanel::setImageChoice(ModelImageChoice choice) { imageChoice_->setCurrentIndex(choice == ModelImageChoice::CurrentWindow ? 1 : 0); }

ModelImageChoice ChatPanel::imageChoice() const { return session_->imageChoice(); }

void ChatPanel::setPrepareWhileLooking(bool on) {
  if (on == prepareWhileLooking_) return;
  prepareWhileLooking_ = on;
  session_->setPrepareWhileLooking(on);
  if (on && engine_.isModelLoaded() && !session_->imageSource().isNull() && session_->transcript().isEmpty())
    engine_.prepare();
}

// ---- Model ----------------------------------------------------------------------------------------

void ChatPanel::loadModel(const QString& folder, const LoadSettings& settings) {
  modelBox_->setVisible(modelNoticeShown_);
  modelStatus_->setText(tr("Loading %1…").arg(QDir::toNativeSeparators(folder)));
  loadProgress_->setValue(0);
  loadProgress_->setVisible(true);
  cancelLoad_->setVisible(true);
  LoadSettings withWeights = settings;
  withWeights.weights = decoderWeights_;
  engine_.loadModel(folder, withWeights);
}

bool ChatPanel::loadDiscoveredModel(const LoadSettings& settings) {
  const auto folder = discoverModelFolder();
  if (!folder) {
    showModelMissing();
    return false;
  }
  loadModel(QString::fromStdString(*folder), settings);
  return true;
}

QString ChatPanel::statusText() const { return modelStatus_->text(); }

void ChatPanel::setModelNoticeShown(bool shown) {
  modelNoticeShown_ = shown;
  if (!shown) modelBox_->setVisible(false);
}

// ---- Sampling ---------------------------------------------------------------------------------

SamplingSettings ChatPanel::samplingSettings() const {
  SamplingSettings s = deterministic_->isChecked() ? SamplingSettings::deterministic() : SamplingSettings{};
  if (!deterministic_->isChecked()) {
    s.temperature = temperature_->value();
    s.topP = topP_->value();
    s.topK = topK_->value();
  }
  s.maxNewTokens = maxTokens_->value();
  bool ok = false;
  const quint64 seed = seed_->text().trimmed().toULongLong(&ok);
  if (ok) s.seed = seed;
  return s;
}

void ChatPanel::setSamplingSettings(const SamplingSettings& s) {
  deterministic_->setChecked(s.isGreedy());
  temperature_->setValue(s.isGreedy() ? 0.2 : s.temperature);
  topP_->setValue(s.isGreedy() ? 0.8 : s.topP);
  topK_->setValue(s.topK);
  maxTokens_->setValue(s.maxNewTokens);
  seed_->setText(s.seed ? QString::number(*s.seed) : QString());
}

void ChatPanel::saveSettings() const {
  QSettings settings;
  settings.beginGroup(QStringLiteral("assistant"));
  const SamplingSettings s = samplingSettings();
  settings.setValue(QStringLiteral("deterministic"), s.isGreedy());
  settings.setValue(QStringLiteral("temperature"), temperature_->value());
  settings.setValue(QStringLiteral("topP"), topP_->value());
  settings.setValue(QStringLiteral("topK"), topK_->value());
  settings.setValue(QStringLiteral("maxNewTokens"), maxTokens_->value());
  settings.setValue(QStringLiteral("imageChoice"), imageChoice_->currentIndex());
  settings.setValue(QStringLiteral("prepareWhileLooking"), prepareWhileLooking_);
  settings.setValue(QStringLiteral("modelFolder"), engine_.model().info.folder.empty() ? QVariant() : QVariant(QString::fromStdString(engine_.model().info.folder)));
}

void ChatPanel::restoreSettings() {
  QSettings settings;
  settings.beginGroup(QStringLiteral("assistant"));
  SamplingSettings s;
  // A hand-edited settings file may hold "nan": the spin boxes clamp numbers, not NaN.
  const auto finiteOr = [](double v, double fallback) { return std::isfinite(v) ? v : fallback; };
  s.temperature = finiteOr(settings.value(QStringLiteral("temperature"), s.temperature).toDouble(), s.temperature);
  s.topP = finiteOr(settings.value(QStringLiteral("topP"), s.topP).toDouble(), s.topP);
  s.topK = settings.value(QStringLiteral("topK"), s.topK).toInt();
  s.maxNewTokens = settings.value(QStringLiteral("maxNewTokens"), s.maxNewTokens).toInt();
  setSamplingSettings(s);
  deterministic_->setChecked(settings.value(QStringLiteral("deterministic"), false).toBool());
  imageChoice_->setCurrentIndex(settings.value(QStringLiteral("imageChoice"), 0).toInt());
  prepareWhileLooking_ = settings.value(QStringLiteral("prepareWhileLooking"), true).toBool();
  session_->setPrepareWhileLooking(prepareWhileLooking_);
}

// ---- Rendering ------------------------------------------------------------------------------------

void ChatPanel::render() {
  // The whole conversation, once per exchange (start, finish, a dropped or restored turn). While
  // an answer streams, its text is the document's last block and showUnshownChunks() appends to it.
  const qint64 now = session_->nowMs();
  const auto& entries = session_->transcript().entries();
  QString html = QStringLiteral("<html><body>");
  for (int i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.role == TranscriptEntry::Role::User) {
      html += QStringLiteral("<table width=\"100%\" cellpadding=\"6\" style=\"margin-top:8px\"><tr><td bgcolor=\"#eef3fb\">"
                             "<b>%1</b><br>%2</td></tr></table>")
                  .arg(tr("You"), e.text.toHtmlEscaped().replace(u'\n', QStringLiteral("<br>")));
      continue;
    }
    html += QStringLiteral("<p style=\"margin-top:8px; margin-bottom:2px\"><b>%1</b></p>").arg(tr("Assistant"));
    if (e.streaming) break;  // appended below, as plain text, by the stream cursor
    html += readableHtml(e.text);
    if (e.kind == RequestKind::Report && !e.text.isEmpty()) html += checklistHtml(e.text);
    html += QStringLiteral("<p style=\"color:#666; font-size:small; margin-top:2px\">%1 · "
                           "<a href=\"copy:%2\">%3</a>")
                .arg(Transcript::statsText(e, now).toHtmlEscaped())
                .arg(i)
                .arg(tr("Copy"));
    if (e.result) html += QStringLiteral(" · <a href=\"seed:%1\">%2</a>").arg(e.result->seed).arg(tr("Reuse seed"));
    html += QStringLiteral("</p>");
  }
  html += QStringLiteral("</body></html>");
  auto* bar = messages_->verticalScrollBar();
  const bool atBottom = bar->value() >= bar->maximum() - 4;
  messages_->setHtml(html);
  streamCursor_ = QTextCursor();
  streamFlush_.stop();
  unshownChunks_.clear();  // the transcript, rendered here, holds them
  if (session_->transcript().isStreaming()) {
    QTextCursor cursor(messages_->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertBlock(QTextBlockFormat(), QTextCharFormat());
    cursor.insertText(entries.last().text);
    streamCursor_ = cursor;
  }
  if (atBottom) bar->setValue(bar->maximum());
}

void ChatPanel::onToken(const QString& chunk) {
  phase_->setVisible(false);
  progress_->setVisible(false);
  if (streamCursor_.isNull()) {  // (a view that missed the start: show everything once)
    render();
    return;
  }
  unshownChunks_ += chunk;
  if (!streamFlush_.isActive()) streamFlush_.start();
}

void ChatPanel::showUnshownChunks() {
  if (streamCursor_.isNull() || unshownChunks_.isEmpty()) return;
  auto* bar = messages_->verticalScrollBar();
  const bool atBottom = bar->value() >= bar->maximum() - 4;
  streamCursor_.insertText(unshownChunks_);  // appends: the work does not grow with the answer
  unshownChunks_.clear();
  if (atBottom) bar->setValue(bar->maximum());
}

void ChatPanel::updateStreamStats() {
  const auto& entries = session_->transcript().entries();
  const bool streaming = session_->transcript().isStreaming();
  streamStats_->setVisible(streaming);
  if (streaming) streamStats_->setText(Transcript::statsText(entries.last(), session_->nowMs()));
}

void ChatPanel::renderFindings() {
  const QString report = session_->transcript().reportText();
  const auto results = report.isEmpty() ? QList<FindingResult>{} : classifyFindings(report);
  const auto findings = allFindings();
  for (int row = 0; row < findings.size(); ++row) {
    const FindingResult r = row < results.size() ? results[row] : FindingResult{findings[row], FindingStatus::NotMentioned, {}, {}};
    auto* name = new QTableWidgetItem(findingName(findings[row]));
    auto* status = new QTableWidgetItem(report.isEmpty() ? QString() : findingStatusName(r.status));
    status->setForeground(QColor(statusColor(r.status)));
    auto* sentence = new QTableWidgetItem(r.decisive.sentence);
    sentence->setToolTip(r.decisive.cue.isEmpty() ? r.decisive.sentence : tr("%1 (cue: \"%2\")").arg(r.decisive.sentence, r.decisive.cue));
    findings_->setItem(row, 0, name);
    findings_->setItem(row, 1, status);
    findings_->setItem(row, 2, sentence);
  }
  findings_->resizeColumnToContents(0);
  findings_->resizeColumnToContents(1);
}

void ChatPanel::onAnchor(const QUrl& url) {
  const QString s = url.toString();
  if (s.startsWith(QStringLiteral("copy:"))) {
    const int i = s.mid(5).toInt();
    const auto& entries = session_->transcript().entries();
    if (i >= 0 && i < entries.size()) QApplication::clipboard()->setText(entries[i].text);
  } else if (s.startsWith(QStringLiteral("seed:"))) {
    seed_->setText(s.mid(5));
  }
}

// ---- Export and history -------------------------------------------------------------------------

ExportDocument ChatPanel::exportDocument(ExportDocument::Scope scope) const {
  return session_->exportDocument(scope, includeIdentifying_);
}

bool ChatPanel::exportTo(const QString& path, ExportFormat format, ExportDocument::Scope scope, QString* error) const {
  const ExportDocument doc = exportDocument(scope);
  switch (format) {
    case ExportFormat::PlainText: return writeTextFile(toPlainText(doc), path, error);
    case ExportFormat::Markdown: return writeTextFile(toMarkdown(doc), path, error);
    case ExportFormat::Pdf: return writePdf(doc, path, error);
  }
  return false;
}

void ChatPanel::restoreConversation(const ConversationRecord& record) { session_->restoreConversation(record); }

void ChatPanel::forgetStoredIds() { session_->forgetStoredIds(); }

void ChatPanel::showHistory() {
  if (!history_) return;
  auto* browser = new HistoryBrowser(*history_, this);
  browser->setAttribute(Qt::WA_DeleteOnClose);
  connect(browser, &HistoryBrowser::reopenRequested, this, [this](const ConversationRecord& record) {
    Q_EMIT reopenImageRequested(record.image.path);
    restoreConversation(record);
  });
  browser->show();
}

}  // namespace cxr::assistant
