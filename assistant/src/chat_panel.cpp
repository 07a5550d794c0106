#include "cxr/assistant/chat_panel.h"

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
#include <QFormLayout>
#include <QGroupBox>
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
#include <QTextCursor>
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
}  // namespace

ChatPanel::ChatPanel(AssistantEngine& engine, HistoryStore* history, QWidget* parent)
    : QWidget(parent), engine_(engine), history_(history) {
  // Also for a history that is not writable now: the user may start a new one (HistoryBanner).
  if (history_) recorder_ = std::make_unique<StreamingRecorder>(*history_);
  clock_.start();
  buildUi();
  connectEngine();
  ticker_.setInterval(250);  // elapsed time and tokens/s while an answer runs
  connect(&ticker_, &QTimer::timeout, this, &ChatPanel::render);
  if (engine_.isModelLoaded()) modelStatus_->setText(engine_.model().statusText());
  else showModelMissing();
  updateEnabled();
}

ChatPanel::~ChatPanel() {
  // The worker keeps running until the engine's owner deletes it; make sure a streaming answer is
  // closed in the history so the next start shows it as it was.
  if (recorder_ && recorder_->active()) recorder_->flush();
}

void ChatPanel::buildUi() {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);

  // ---- Model -------------------------------------------------------------------------------
  auto* modelBox = new QGroupBox(tr("Model"), this);
  auto* modelLayout = new QVBoxLayout(modelBox);
  modelStatus_ = new QLabel(modelBox);
  modelStatus_->setWordWrap(true);
  modelStatus_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  modelStatus_->setObjectName(QStringLiteral("modelStatus"));
  auto* loadRow = new QHBoxLayout;
  chooseFolder_ = new QPushButton(tr("Choose model folder…"), modelBox);
  chooseFolder_->setObjectName(QStringLiteral("chooseModelFolder"));
  loadProgress_ = new QProgressBar(modelBox);
  loadProgress_->setRange(0, 1000);
  loadProgress_->setVisible(false);
  cancelLoad_ = new QPushButton(tr("Cancel"), modelBox);
  cancelLoad_->setObjectName(QStringLiteral("cancelLoad"));
  cancelLoad_->setVisible(false);
  loadRow->addWidget(chooseFolder_);
  loadRow->addWidget(loadProgress_, 1);
  loadRow->addWidget(cancelLoad_);
  modelLayout->addWidget(modelStatus_);
  modelLayout->addLayout(loadRow);
  layout->addWidget(modelBox);
  connect(chooseFolder_, &QPushButton::clicked, this, [this] {
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Choose the CXR-LLaVA model folder"));
    if (!folder.isEmpty()) loadModel(folder);
  });
  connect(cancelLoad_, &QPushButton::clicked, this, [this] { engine_.stop(); });

  // ---- What the model sees + sampling --------------------------------------------------------
  auto* inputBox = new QGroupBox(tr("What the model sees"), this);
  auto* inputLayout = new QHBoxLayout(inputBox);
  preview_ = new QLabel(inputBox);
  preview_->setFixedSize(128, 128);
  preview_->setAlignment(Qt::AlignCenter);
  preview_->setFrameShape(QFrame::StyledPanel);
  preview_->setObjectName(QStringLiteral("modelInputPreview"));
  auto* inputRight = new QVBoxLayout;
  imageChoice_ = new QComboBox(inputBox);
  imageChoice_->addItem(tr("Default window rendering"));
  imageChoice_->addItem(tr("Current on-screen window"));
  imageChoice_->setObjectName(QStringLiteral("imageChoice"));
  cropInfo_ = new QLabel(inputBox);
  cropInfo_->setWordWrap(true);
  inputRight->addWidget(imageChoice_);
  inputRight->addWidget(cropInfo_, 1);
  inputLayout->addWidget(preview_);
  inputLayout->addLayout(inputRight, 1);
  layout->addWidget(inputBox);
  connect(imageChoice_, &QComboBox::currentIndexChanged, this, [this] {
    if (!source_.isNull()) {
      imagePending_ = true;  // newConversation() sends the newly chosen rendering
      newConversation();
    }
  });

  auto* samplingBox = new QGroupBox(tr("Sampling"), this);
  samplingBox->setCheckable(false);
  auto* form = new QFormLayout(samplingBox);
  deterministic_ = new QCheckBox(tr("Deterministic (greedy: same image, same answer)"), samplingBox);
  deterministic_->setObjectName(QStringLiteral("deterministic"));
  temperature_ = new QDoubleSpinBox(samplingBox);
  temperature_->setRange(0.0, 2.0);
  temperature_->setSingleStep(0.05);
  temperature_->setDecimals(2);
  topP_ = new QDoubleSpinBox(samplingBox);
  topP_->setRange(0.05, 1.0);
  topP_->setSingleStep(0.05);
  topP_->setDecimals(2);
  topK_ = new QSpinBox(samplingBox);
  topK_->setRange(0, 1000);
  topK_->setSpecialValueText(tr("off"));
  maxTokens_ = new QSpinBox(samplingBox);
  maxTokens_->setRange(1, 2048);
  seed_ = new QLineEdit(samplingBox);
  seed_->setPlaceholderText(tr("random (shown with each answer)"));
  seed_->setObjectName(QStringLiteral("seed"));
  // Digits only (a seed is 0 .. 2^64-1): "-1" or "abc" cannot be typed, so a seed the user sees is
  // never silently replaced by a random one. The spin boxes above are range-limited the same way
  // (within SamplingParams' ranges: temperature 0-2, top-p 0.05-1, top-k 0-1000, 1-2048 tokens).
  seed_->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{0,20}")), seed_));
  auto* row1 = new QHBoxLayout;
  row1->addWidget(new QLabel(tr("Temperature"), samplingBox));
  row1->addWidget(temperature_);
  row1->addWidget(new QLabel(tr("Top-p"), samplingBox));
  row1->addWidget(topP_);
  row1->addWidget(new QLabel(tr("Top-k"), samplingBox));
  row1->addWidget(topK_);
  auto* row2 = new QHBoxLayout;
  row2->addWidget(new QLabel(tr("Max new tokens"), samplingBox));
  row2->addWidget(maxTokens_);
  row2->addWidget(new QLabel(tr("Seed"), samplingBox));
  row2->addWidget(seed_, 1);
  form->addRow(deterministic_);
  form->addRow(row1);
  form->addRow(row2);
  layout->addWidget(samplingBox);
  setSamplingSettings(SamplingSettings{});
  connect(deterministic_, &QCheckBox::toggled, this, [this](bool on) {
    temperature_->setEnabled(!on);
    topP_->setEnabled(!on);
    topK_->setEnabled(!on);
  });

  // ---- Conversation ------------------------------------------------------------------------
  messages_ = new QTextBrowser(this);
  messages_->setOpenLinks(false);
  messages_->setObjectName(QStringLiteral("messages"));
  connect(messages_, &QTextBrowser::anchorClicked, this, &ChatPanel::onAnchor);
  findings_ = new QTableWidget(6, 3, this);
  findings_->setObjectName(QStringLiteral("findings"));
  findings_->setHorizontalHeaderLabels({tr("Finding"), tr("Status"), tr("Sentence")});
  findings_->horizontalHeader()->setStretchLastSection(true);
  findings_->verticalHeader()->setVisible(false);
  findings_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  findings_->setSelectionBehavior(QAbstractItemView::SelectRows);
  findings_->verticalHeader()->setDefaultSectionSize(findings_->fontMetrics().height() + 6);
  // Exactly six rows tall: every finding visible, and all remaining height goes to the transcript
  // (a growing table left answers ~100 px at 1400x900).
  findings_->setFixedHeight(findings_->horizontalHeader()->sizeHint().height() +
                            6 * findings_->verticalHeader()->defaultSectionSize() + 4);
  findings_->setToolTip(tr("Rule-based reading of the report (negation and hedge aware). Click a row to find its sentence."));
  connect(findings_, &QTableWidget::cellClicked, this, [this](int row, int) {
    const auto* item = findings_->item(row, 2);
    if (!item || item->text().isEmpty()) return;
    messages_->moveCursor(QTextCursor::Start);
    messages_->find(item->text());
  });
  layout->addWidget(messages_, 1);
  layout->addWidget(findings_);

  auto* progressRow = new QHBoxLayout;
  phase_ = new QLabel(this);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 100);
  progress_->setObjectName(QStringLiteral("phaseProgress"));
  progressRow->addWidget(phase_);
  progressRow->addWidget(progress_, 1);
  phase_->setVisible(false);
  progress_->setVisible(false);
  layout->addLayout(progressRow);

  error_ = new QLabel(this);
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color:#b00020"));
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setVisible(false);
  layout->addWidget(error_);

  auto* actions = new QHBoxLayout;
  report_ = new QPushButton(tr("Write report"), this);
  report_->setObjectName(QStringLiteral("writeReport"));
  differential_ = new QPushButton(tr("Differential diagnosis"), this);
  differential_->setObjectName(QStringLiteral("differential"));
  stop_ = new QPushButton(tr("Stop"), this);
  stop_->setObjectName(QStringLiteral("stop"));
  regenerate_ = new QPushButton(tr("Regenerate"), this);
  regenerate_->setObjectName(QStringLiteral("regenerate"));
  edit_ = new QPushButton(tr("Edit question"), this);
  edit_->setObjectName(QStringLiteral("editQuestion"));
  newConversation_ = new QPushButton(tr("New conversation"), this);
  newConversation_->setObjectName(QStringLiteral("newConversation"));
  for (auto* b : {report_, differential_, stop_, regenerate_, edit_, newConversation_}) actions->addWidget(b);
  layout->addLayout(actions);
  connect(report_, &QPushButton::clicked, this, &ChatPanel::writeReport);
  connect(differential_, &QPushButton::clicked, this, &ChatPanel::differentialDiagnosis);
  connect(stop_, &QPushButton::clicked, this, &ChatPanel::stop);
  connect(regenerate_, &QPushButton::clicked, this, &ChatPanel::regenerateLast);
  connect(edit_, &QPushButton::clicked, this, &ChatPanel::editLastQuestion);
  connect(newConversation_, &QPushButton::clicked, this, &ChatPanel::newConversation);

  auto* askRow = new QHBoxLayout;
  question_ = new QuestionBox(this);
  question_->setObjectName(QStringLiteral("question"));
  send_ = new QPushButton(tr("Send"), this);
  send_->setObjectName(QStringLiteral("send"));
  askRow->addWidget(question_, 1);
  auto* askButtons = new QVBoxLayout;
  askButtons->addWidget(send_);
  export_ = new QToolButton(this);
  export_->setText(tr("Export"));
  export_->setPopupMode(QToolButton::InstantPopup);
  export_->setObjectName(QStringLiteral("export"));
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
  askButtons->addWidget(export_);
  historyButton_ = new QPushButton(tr("History…"), this);
  historyButton_->setObjectName(QStringLiteral("history"));
  historyButton_->setEnabled(history_ != nullptr);
  askButtons->addWidget(historyButton_);
  askRow->addLayout(askButtons);
  layout->addLayout(askRow);
  connect(question_, &QuestionBox::submitted, this, &ChatPanel::submitQuestion);
  connect(send_, &QPushButton::clicked, this, [this] {
    const QString text = question_->toPlainText().trimmed();
    if (!text.isEmpty()) submitQuestion(text);
  });
  connect(historyButton_, &QPushButton::clicked, this, &ChatPanel::showHistory);
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
    modelStatus_->setText(summary.statusText());
    Q_EMIT modelStatusChanged(summary.statusText());
    sendImageToEngine();
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
  connect(&engine_, &AssistantEngine::answerStarted, this, &ChatPanel::onAnswerStarted);
  connect(&engine_, &AssistantEngine::phaseProgress, this, [this](Phase phase, int done, int total) {
    const int percent = total > 0 ? int(100.0 * done / total) : 0;
    phase_->setText(phaseName(phase));
    progress_->setValue(percent);
    progress_->setFormat(QStringLiteral("%p%"));
    phase_->setVisible(true);
    progress_->setVisible(true);
  });
  connect(&engine_, &AssistantEngine::tokenStreamed, this, [this](const QString& chunk, int) { onToken(chunk); });
  connect(&engine_, &AssistantEngine::answerFinished, this, &ChatPanel::onAnswerFinished);
  connect(&engine_, &AssistantEngine::failed, this, [this](const QString& message) {
    lastError_ = message;
    error_->setText(message);
    error_->setVisible(true);
    // A turn that failed before it finished is closed as it is.
    if (transcript_.isStreaming()) {
      AnswerResult partial;
      partial.text = transcript_.entries().last().text;
      partial.stopReason = StopReason::Cancelled;
      onAnswerFinished(partial);
    }
  });
  connect(&engine_, &AssistantEngine::busyChanged, this, [this](bool busy) {
    busy_ = busy;
    if (!busy) {
      phase_->setVisible(false);
      progress_->setVisible(false);
    }
    updateEnabled();
  });
}

void ChatPanel::showModelMissing() {
  modelStatus_->setText(tr("No model loaded. The viewer works without one.\n%1")
                            .arg(QString::fromStdString(howToGetModel())));
}

void ChatPanel::updateEnabled() {
  const bool ready = engine_.isModelLoaded() && !source_.isNull() && !busy_;
  report_->setEnabled(ready);
  differential_->setEnabled(ready);
  send_->setEnabled(ready);
  stop_->setEnabled(busy_);
  const bool hasExchange = transcript_.exchangeCount() > 0 && !transcript_.isStreaming() && !restored_;
  regenerate_->setEnabled(ready && hasExchange);
  edit_->setEnabled(ready && hasExchange);
  newConversation_->setEnabled(!busy_);
  chooseFolder_->setEnabled(!busy_);
  export_->setEnabled(!transcript_.isEmpty());
}

// ---- Requests ---------------------------------------------------------------------------------

void ChatPanel::writeReport() { engine_.ask(RequestKind::Report, {}, samplingSettings()); }
void ChatPanel::differentialDiagnosis() { engine_.ask(RequestKind::Differential, {}, samplingSettings()); }
void ChatPanel::askQuestion(const QString& question) { engine_.ask(RequestKind::Question, question, samplingSettings()); }
void ChatPanel::stop() { engine_.stop(); }

void ChatPanel::submitQuestion(const QString& text) {
  if (!engine_.isModelLoaded() || source_.isNull() || busy_) return;  // the box keeps the text
  error_->setVisible(false);
  if (editing_) {
    editing_ = false;
    dropLastExchangeEverywhere();
    engine_.editAndResend(text, samplingSettings());
  } else {
    askQuestion(text);
  }
  question_->clear();
}

void ChatPanel::dropLastExchangeEverywhere() {
  for (const auto& e : transcript_.dropLastExchange())
    if (history_ && e.historyId) history_->markSuperseded(e.historyId);
  render();
}

void ChatPanel::regenerateLast() {
  if (transcript_.exchangeCount() == 0) return;
  dropLastExchangeEverywhere();
  engine_.regenerate(samplingSettings());
}

void ChatPanel::editLastQuestion() {
  const TranscriptEntry* user = transcript_.lastUser();
  if (!user) return;
  question_->setPlainText(user->text);
  question_->setFocus();
  editing_ = true;
}

void ChatPanel::newConversation() {
  transcript_.clear();
  restored_ = false;
  continuedTurns_.clear();
  conversationId_ = 0;
  editing_ = false;
  engine_.newConversation();
  if (imagePending_) {
    imagePending_ = false;
    sendImageToEngine();
  }
  render();
  renderFindings();
  updateEnabled();
}

// ---- Engine events ----------------------------------------------------------------------------

void ChatPanel::onAnswerStarted(const QString& sent, RequestKind kind) {
  error_->setVisible(false);
  if (restored_) {
    // A conversation reopened from the history is for reading and exporting: the engine never saw
    // its turns, so a new request starts a new conversation on the image.
    restored_ = false;
    transcript_.clear();
  }
  continuedTurns_.clear();  // the engine has the reopened turns now
  transcript_.beginExchange(sent, kind, clock_.elapsed());
  if (history_ && history_->isOpen()) {
    if (conversationId_ == 0) {
      const QString title = displayedUserMessage(sent).left(80);
      conversationId_ = history_->createConversation(
          title, {source_.filePath, source_.sha256, chosenWindowText()}, ModelIdentity::from(engine_.model().info));
    }
    auto& entries = transcript_.entries();
    entries[entries.size() - 2].historyId = history_->addUserMessage(conversationId_, entries[entries.size() - 2].text, sent);
    if (recorder_) {
      recorder_->begin(conversationId_, samplingSettings());
      entries.last().historyId = recorder_->messageId();
    }
  }
  ticker_.start();
  render();
  updateEnabled();
}

void ChatPanel::onToken(const QString& chunk) {
  transcript_.appendChunk(chunk, clock_.elapsed());
  if (recorder_) recorder_->append(chunk);
  phase_->setVisible(false);
  progress_->setVisible(false);
  render();
}

void ChatPanel::onAnswerFinished(const AnswerResult& result) {
  transcript_.finish(result);
  if (recorder_ && recorder_->active()) recorder_->finish(result);
  ticker_.stop();
  render();
  renderFindings();
  updateEnabled();
  Q_EMIT answerFinished(result);
}

void ChatPanel::onPreview(const PreviewResult& preview) {
  const auto& info = preview.info;
  if (info.cropSize <= 0 || info.crop.size() != size_t(info.cropSize) * info.cropSize) return;
  QImage crop(info.crop.data(), info.cropSize, info.cropSize, info.cropSize, QImage::Format_Grayscale8);
  preview_->setPixmap(QPixmap::fromImage(crop.copy()).scaled(preview_->size(), Qt::KeepAspectRatio, Qt::SmoothTransformation));
  const QRectF rect = cropRectInSource(info, preview.sourceWidth, preview.sourceHeight);
  const bool cut = info.resizedWidth != info.cropSize || info.resizedHeight != info.cropSize;
  cropInfo_->setText(tr("%1×%1 model input from the image resized to %2×%3.%4")
                         .arg(info.cropSize)
                         .arg(info.resizedWidth)
                         .arg(info.resizedHeight)
                         .arg(cut ? tr(" The parts outside the outlined square are cut away.") : QString()));
  Q_EMIT cropRectChanged(rect);
}

// ---- Image ----------------------------------------------------------------------------------------

void ChatPanel::setImageSource(const ModelImageSource& source) {
  const bool sameFile = source.filePath == source_.filePath && source.sha256 == source_.sha256;
  const QImage before = chosenImage();
  source_ = source;
  imageChoice_->setItemText(1, source_.currentWindow.isNull() ? tr("Current on-screen window (none)")
                                                               : tr("Current on-screen window"));
  // A window change on screen only matters when the model is told to see the on-screen window.
  if (sameFile && chosenImage() == before) return;
  if (!continuedTurns_.isEmpty() && (source.filePath == continuedImage_.path ||
                                     (!source.sha256.isEmpty() && source.sha256 == continuedImage_.sha256))) {
    // The reopened conversation's image arrived after restoreConversation(): encode it and replay
    // the stored turns on it (setImage drops a pending replay in the worker).
    sendImageToEngine();
    engine_.restoreConversation(continuedTurns_);
    updateEnabled();
    return;
  }
  if (sameFile && !transcript_.isEmpty()) {
    // Dragging the window must not throw the conversation away: the new rendering waits for the
    // next conversation.
    imagePending_ = true;
    cropInfo_->setText(tr("The on-screen window changed. Start a new conversation to let the model see it."));
    return;
  }
  if (!transcript_.isEmpty()) newConversation();
  sendImageToEngine();
  updateEnabled();
}

void ChatPanel::setImageChoice(ModelImageChoice choice) { imageChoice_->setCurrentIndex(choice == ModelImageChoice::CurrentWindow ? 1 : 0); }

ModelImageChoice ChatPanel::imageChoice() const {
  return imageChoice_->currentIndex() == 1 ? ModelImageChoice::CurrentWindow : ModelImageChoice::DefaultWindow;
}

QImage ChatPanel::chosenImage() const {
  if (imageChoice() == ModelImageChoice::CurrentWindow && !source_.currentWindow.isNull()) return source_.currentWindow;
  return source_.defaultWindow;
}

QString ChatPanel::chosenWindowText() const {
  if (imageChoice() == ModelImageChoice::CurrentWindow && !source_.currentWindow.isNull()) return source_.currentWindowText;
  return source_.defaultWindowText;
}

void ChatPanel::sendImageToEngine() {
  const QImage image = chosenImage();
  if (image.isNull()) return;
  const ImageInput input = toImageInput(image);
  engine_.setImage(input);
  if (engine_.isModelLoaded()) engine_.requestPreview(input);
  if (engine_.isModelLoaded() && prepareWhileLooking_) engine_.prepare();
}

void ChatPanel::setPrepareWhileLooking(bool on) {
  if (on == prepareWhileLooking_) return;
  prepareWhileLooking_ = on;
  if (on && engine_.isModelLoaded() && !source_.isNull() && transcript_.isEmpty()) engine_.prepare();
}

// ---- Model ----------------------------------------------------------------------------------------

void ChatPanel::loadModel(const QString& folder, const LoadSettings& settings) {
  modelStatus_->setText(tr("Loading %1…").arg(QDir::toNativeSeparators(folder)));
  loadProgress_->setValue(0);
  loadProgress_->setVisible(true);
  cancelLoad_->setVisible(true);
  engine_.loadModel(folder, settings);
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
}

// ---- Rendering ------------------------------------------------------------------------------------

void ChatPanel::render() {
  const qint64 now = clock_.elapsed();
  QString html = QStringLiteral("<html><body>");
  const auto& entries = transcript_.entries();
  for (int i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const QString text = e.text.toHtmlEscaped().replace(u'\n', QStringLiteral("<br>"));
    if (e.role == TranscriptEntry::Role::User) {
      html += QStringLiteral("<p style=\"background:#eef3fb; padding:4px\"><b>%1</b><br>%2</p>").arg(tr("You"), text);
    } else {
      QString links = QStringLiteral("<a href=\"copy:%1\">%2</a>").arg(i).arg(tr("copy"));
      if (e.result)
        links += QStringLiteral(" · <a href=\"seed:%1\">%2</a>").arg(e.result->seed).arg(tr("reuse seed"));
      html += QStringLiteral("<p><b>%1</b><br>%2%3<br><span style=\"color:#666; font-size:small\">%4 · %5</span></p>")
                  .arg(tr("Assistant"), text, e.streaming ? QStringLiteral("▍") : QString(),
                       Transcript::statsText(e, now).toHtmlEscaped(), links);
    }
  }
  html += QStringLiteral("</body></html>");
  auto* bar = messages_->verticalScrollBar();
  const bool atBottom = bar->value() >= bar->maximum() - 4;
  messages_->setHtml(html);
  if (atBottom) bar->setValue(bar->maximum());
}

void ChatPanel::renderFindings() {
  const QString report = transcript_.reportText();
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
    if (i >= 0 && i < transcript_.entries().size()) QApplication::clipboard()->setText(transcript_.entries()[i].text);
  } else if (s.startsWith(QStringLiteral("seed:"))) {
    seed_->setText(s.mid(5));
  }
}

// ---- Export and history -------------------------------------------------------------------------

ExportDocument ChatPanel::exportDocument(ExportDocument::Scope scope) const {
  ExportDocument doc = makeExportDocument(transcript_, scope);
  doc.image = chosenImage();
  doc.windowText = chosenWindowText();
  doc.imageDescription = source_.description;
  doc.imageSource = {source_.filePath, source_.sha256, chosenWindowText()};
  doc.model = ModelIdentity::from(engine_.model().info);
  doc.includeIdentifying = includeIdentifying_;
  doc.patient = source_.patient;
  return doc;
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

void ChatPanel::restoreConversation(const ConversationRecord& record) {
  QList<TranscriptEntry> entries;
  for (const auto& m : record.messages) {
    TranscriptEntry e;
    e.role = m.role == QStringLiteral("user") ? TranscriptEntry::Role::User : TranscriptEntry::Role::Assistant;
    e.text = m.content;
    e.sentMessage = m.sentMessage;
    e.historyId = m.id;
    if (e.role == TranscriptEntry::Role::User && m.sentMessage == QString::fromUtf8(prompts::kReport)) e.kind = RequestKind::Report;
    if (e.role == TranscriptEntry::Role::Assistant) {
      if (!entries.isEmpty()) e.kind = entries.last().kind;
      AnswerResult r;
      r.text = m.content;
      r.sampling = m.sampling.value_or(SamplingSettings{});
      r.seed = r.sampling.seed.value_or(0);
      r.stopReason = m.complete ? StopReason::EndOfSequence : StopReason::Cancelled;
      e.result = r;
    }
    entries.push_back(e);
  }
  engine_.newConversation();
  transcript_.restore(entries);
  // The engine continues the conversation when it alternates user/answer and ends with an answer.
  QStringList turns;
  bool alternates = true;
  for (const auto& e : entries) {
    const bool user = e.role == TranscriptEntry::Role::User;
    alternates = alternates && user == (turns.size() % 2 == 0);
    turns.push_back(user && !e.sentMessage.isEmpty() ? e.sentMessage : e.text);
  }
  continuedTurns_.clear();
  continuedImage_ = record.image;
  if (alternates && !turns.isEmpty() && turns.size() % 2 == 0) {
    continuedTurns_ = turns;
    engine_.restoreConversation(turns);
    restored_ = false;
    conversationId_ = record.id;  // new turns are stored with the old ones
  } else {
    restored_ = true;
    conversationId_ = 0;  // new questions go to a new stored conversation
  }
  render();
  renderFindings();
  updateEnabled();
}

void ChatPanel::forgetStoredIds() {
  conversationId_ = 0;
  for (auto& e : transcript_.entries()) e.historyId = 0;
}

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
