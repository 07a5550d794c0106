#include "cxr/assistant/chat_session.h"

#include "cxr/assistant/prompting.h"

namespace cxr::assistant {

ChatSession::ChatSession(AssistantEngine& engine, HistoryStore* history, QObject* parent)
    : QObject(parent), engine_(engine) {
  setHistory(history);
  clock_.start();
  // A (new) model encodes the image again; the preview shows its crop.
  connect(&engine_, &AssistantEngine::modelLoaded, this, [this] {
    sendImageToEngine();
    Q_EMIT stateChanged();
  });
  connect(&engine_, &AssistantEngine::answerStarted, this, &ChatSession::onAnswerStarted);
  connect(&engine_, &AssistantEngine::tokenStreamed, this, [this](const QString& chunk, int) { onToken(chunk); });
  connect(&engine_, &AssistantEngine::answerFinished, this, &ChatSession::onAnswerFinished);
  connect(&engine_, &AssistantEngine::failed, this, &ChatSession::onFailed);
  connect(&engine_, &AssistantEngine::busyChanged, this, &ChatSession::stateChanged);
}

ChatSession::~ChatSession() {
  // The worker keeps running until the engine's owner deletes it; make sure a streaming answer is
  // closed in the history so the next start shows it as it was.
  if (recorder_ && recorder_->active()) recorder_->flush();
}

void ChatSession::setHistory(HistoryStore* history) {
  if (recorder_ && recorder_->active()) recorder_->flush();
  history_ = history;
  // Also for a history that is not writable now: the user may start a new one (HistoryBanner).
  recorder_ = history_ ? std::make_unique<StreamingRecorder>(*history_) : nullptr;
  forgetStoredIds();
}

// ---- The image --------------------------------------------------------------------------------

void ChatSession::setImageSource(const ModelImageSource& source) {
  const bool sameFile = source.filePath == source_.filePath && source.sha256 == source_.sha256;
  const QImage before = chosenImage();
  source_ = source;
  // A window change on screen only matters when the model is told to see the on-screen window.
  if (sameFile && chosenImage() == before) return;
  if (!continuedTurns_.isEmpty() && (source.filePath == continuedImage_.path ||
                                     (!source.sha256.isEmpty() && source.sha256 == continuedImage_.sha256))) {
    // The reopened conversation's image arrived after restoreConversation(): encode it and replay
    // the stored turns on it (setImage drops a pending replay in the worker).
    sendImageToEngine();
    engine_.restoreConversation(continuedTurns_);
    Q_EMIT stateChanged();
    return;
  }
  if (sameFile && !transcript_.isEmpty()) {
    imagePending_ = true;
    Q_EMIT imageWaiting();
    return;
  }
  if (!transcript_.isEmpty()) newConversation();
  sendImageToEngine();
  Q_EMIT stateChanged();
}

void ChatSession::setImageChoice(ModelImageChoice choice) {
  if (choice == choice_) return;
  choice_ = choice;
  if (!source_.isNull()) {
    imagePending_ = true;  // newConversation() sends the newly chosen rendering
    newConversation();
  }
}

QImage ChatSession::chosenImage() const {
  if (choice_ == ModelImageChoice::CurrentWindow && !source_.currentWindow.isNull()) return source_.currentWindow;
  return source_.defaultWindow;
}

QString ChatSession::chosenWindowText() const {
  if (choice_ == ModelImageChoice::CurrentWindow && !source_.currentWindow.isNull()) return source_.currentWindowText;
  return source_.defaultWindowText;
}

void ChatSession::sendImageToEngine() {
  const QImage image = chosenImage();
  if (image.isNull()) return;
  const ImageInput input = toImageInput(image);
  engine_.setImage(input, source_.identity(choice_));
  if (previews_ && engine_.isModelLoaded()) engine_.requestPreview(input);
  if (prepare_ && engine_.isModelLoaded()) engine_.prepare();
}

// ---- Requests ---------------------------------------------------------------------------------

bool ChatSession::canAsk() const { return engine_.isModelLoaded() && !source_.isNull() && !engine_.isBusy(); }

bool ChatSession::canRegenerate() const {
  return canAsk() && transcript_.exchangeCount() > 0 && !transcript_.isStreaming() && !restored_;
}

void ChatSession::ask(RequestKind kind, const QString& question, const SamplingSettings& sampling) {
  lastSampling_ = sampling;
  engine_.ask(kind, question, sampling);
}

void ChatSession::submitQuestion(const QString& question, const SamplingSettings& sampling) {
  if (editing_) {
    editing_ = false;
    dropLastExchangeEverywhere();
    lastSampling_ = sampling;
    engine_.editAndResend(question, sampling);
  } else {
    ask(RequestKind::Question, question, sampling);
  }
}

void ChatSession::dropLastExchangeEverywhere() {
  for (const auto& e : transcript_.dropLastExchange())
    if (history_ && e.historyId) history_->markSuperseded(e.historyId);
  Q_EMIT transcriptReset();
}

void ChatSession::regenerate(const SamplingSettings& sampling) {
  if (transcript_.exchangeCount() == 0) return;
  dropLastExchangeEverywhere();
  lastSampling_ = sampling;
  engine_.regenerate(sampling);
}

QString ChatSession::beginEdit() {
  const TranscriptEntry* user = transcript_.lastUser();
  if (!user) return {};
  editing_ = true;
  return user->text;
}

void ChatSession::newConversation() {
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
  Q_EMIT transcriptReset();
  Q_EMIT stateChanged();
}

// ---- Engine events ----------------------------------------------------------------------------

void ChatSession::onAnswerStarted(const QString& sent, RequestKind kind) {
  if (restored_) {
    // A conversation reopened from the history is for reading and exporting: the engine never saw
    // its turns, so a new request starts a new conversation on the image.
    restored_ = false;
    transcript_.clear();
    Q_EMIT transcriptReset();
  }
  continuedTurns_.clear();  // the engine has the reopened turns now
  transcript_.beginExchange(sent, kind, clock_.elapsed());
  if (history_ && history_->isOpen()) {  // a failed write reaches the store's failure handler
    if (conversationId_ == 0) {
      conversationId_ = history_->createConversation(displayedUserMessage(sent).left(80),
                                                     {source_.filePath, source_.sha256, chosenWindowText()},
                                                     ModelIdentity::from(engine_.model().info));
    }
    auto& entries = transcript_.entries();
    TranscriptEntry& user = entries[entries.size() - 2];
    if (conversationId_) user.historyId = history_->addUserMessage(conversationId_, user.text, sent);
    if (recorder_ && user.historyId) {
      recorder_->begin(conversationId_, lastSampling_);
      entries.last().historyId = recorder_->messageId();
    }
  }
  Q_EMIT answerStarted();
  Q_EMIT stateChanged();
}

void ChatSession::onToken(const QString& chunk) {
  if (!transcript_.isStreaming()) return;
  transcript_.appendChunk(chunk, clock_.elapsed());
  if (recorder_ && recorder_->active()) recorder_->append(chunk);
  Q_EMIT chunkAppended(chunk);
}

void ChatSession::onAnswerFinished(const AnswerResult& result) {
  transcript_.finish(result);
  if (recorder_ && recorder_->active()) recorder_->finish(result);
  Q_EMIT answerFinished(result);
  Q_EMIT stateChanged();
}

void ChatSession::onFailed(const QString& message) {
  lastError_ = message;
  Q_EMIT failed(message);
  // A turn that failed before it finished is closed as it is (kept in the history as stopped).
  if (transcript_.isStreaming()) {
    AnswerResult partial;
    partial.kind = transcript_.entries().last().kind;
    partial.text = transcript_.entries().last().text;
    partial.stopReason = StopReason::Cancelled;
    onAnswerFinished(partial);
  }
}

// ---- History ----------------------------------------------------------------------------------

void ChatSession::restoreConversation(const ConversationRecord& record) {
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
      r.kind = e.kind;
      r.text = m.content;
      r.sampling = m.sampling.value_or(SamplingSettings{});
      r.seed = r.sampling.seed.value_or(0);
      r.stopReason = m.complete ? StopReason::EndOfSequence : StopReason::Cancelled;
      e.result = r;
    }
    entries.push_back(e);
  }
  editing_ = false;
  engine_.newConversation();
  transcript_.restore(entries);
  // The engine continues the conversation when it alternates user/answer and ends with an answer.
  QStringList turns;
  std::vector<Message> messages;
  for (const auto& e : entries) {
    const bool user = e.role == TranscriptEntry::Role::User;
    turns.push_back(user && !e.sentMessage.isEmpty() ? e.sentMessage : e.text);
    messages.push_back({user ? Message::Role::User : Message::Role::Assistant, turns.last().toStdString()});
  }
  continuedTurns_.clear();
  continuedImage_ = record.image;
  if (!turns.isEmpty() && turnOrderProblem(messages).empty()) {
    continuedTurns_ = turns;
    engine_.restoreConversation(turns);
    restored_ = false;
    conversationId_ = record.id;  // new turns are stored with the old ones
  } else {
    restored_ = true;
    conversationId_ = 0;  // new questions go to a new stored conversation
  }
  Q_EMIT transcriptReset();
  Q_EMIT stateChanged();
}

void ChatSession::forgetStoredIds() {
  conversationId_ = 0;
  for (auto& e : transcript_.entries()) e.historyId = 0;
}

ExportDocument ChatSession::exportDocument(ExportDocument::Scope scope, bool includeIdentifying) const {
  ExportDocument doc = makeExportDocument(transcript_, scope);
  doc.image = chosenImage();
  doc.windowText = chosenWindowText();
  doc.imageDescription = source_.description;
  doc.imageSource = {source_.filePath, source_.sha256, chosenWindowText()};
  doc.model = ModelIdentity::from(engine_.model().info);
  doc.includeIdentifying = includeIdentifying;
  doc.patient = source_.patient;
  return doc;
}

}  // namespace cxr::assistant
