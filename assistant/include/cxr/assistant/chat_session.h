// One conversation with the assistant, without widgets: the transcript, the answer being recorded
// into the history as it streams, the history ids, which rendering of the image the model sees,
// continuing a conversation reopened from the history, regenerate and edit.
//
// The chat panel shows a ChatSession and forwards clicks to it; the scripted run (BatchRun) drives
// the same class. Tests drive it directly over the scripted backend (test_chat_session).
//
// Signals say what changed so that a view can follow cheaply: answerStarted() appends an exchange,
// chunkAppended() appends streamed text to the last answer (a view appends it, never re-renders the
// conversation), answerFinished() closes it, transcriptReset() means "show everything again".
#pragma once

#include "cxr/assistant/engine_worker.h"
#include "cxr/assistant/history.h"
#include "cxr/assistant/image_source.h"
#include "cxr/assistant/report_export.h"
#include "cxr/assistant/transcript.h"

#include <QElapsedTimer>
#include <QObject>
#include <QStringList>
#include <memory>

namespace cxr::assistant {

class ChatSession : public QObject {
  Q_OBJECT
 public:
  // history may be null (nothing is stored). Neither is owned.
  ChatSession(AssistantEngine& engine, HistoryStore* history, QObject* parent = nullptr);
  ~ChatSession() override;  // a streaming answer is closed in the history as it is

  AssistantEngine& engine() const { return engine_; }
  // Where the next exchanges are stored (null: nowhere). Not owned.
  void setHistory(HistoryStore* history);

  // ---- The image ------------------------------------------------------------------------------
  // The image on screen. A new image starts a new conversation; a new rendering of the same file
  // (the window dragged) waits for the next conversation (imageWaiting()), so that a conversation
  // is never thrown away by a mouse move.
  void setImageSource(const ModelImageSource& source);
  const ModelImageSource& imageSource() const { return source_; }
  // Which rendering the model sees. Changing it starts a new conversation on the new rendering.
  void setImageChoice(ModelImageChoice choice);
  ModelImageChoice imageChoice() const { return choice_; }
  QImage chosenImage() const;       // the on-screen window when chosen and present, else the default
  QString chosenWindowText() const;
  // Whether setImage also asks the engine for the model-input preview (the panel shows it; a
  // scripted run does not need it).
  void setPreviewsWanted(bool wanted) { previews_ = wanted; }
  // "Prepare the model while I look": each image sent to a loaded engine is also prepared
  // (AssistantEngine::prepare: encoding and the shared prompt prefix) before the first question.
  void setPrepareWhileLooking(bool on) { prepare_ = on; }

  // ---- Requests -------------------------------------------------------------------------------
  bool canAsk() const;  // a model, an image, nothing running
  void ask(RequestKind kind, const QString& question, const SamplingSettings& sampling);
  // A typed question: asks it, or, after beginEdit(), replaces the last exchange with it.
  void submitQuestion(const QString& question, const SamplingSettings& sampling);
  // Drops the last exchange (marked superseded in the history) and asks it again.
  void regenerate(const SamplingSettings& sampling);
  bool canRegenerate() const;  // an answered exchange the engine holds
  // Starts editing the last question: returns its text; the next submitQuestion replaces it.
  QString beginEdit();
  void cancelEdit() { editing_ = false; }
  bool isEditing() const { return editing_; }
  void newConversation();
  void stop() { engine_.stop(); }

  // ---- The history ----------------------------------------------------------------------------
  // Shows a stored conversation and lets the next question continue it: the engine replays the
  // stored turns (its image encoded again) before answering, and the new turns are stored in the
  // same history conversation. A conversation that cannot be continued (one ending with an
  // unanswered question) is read-only: the next question starts a new one on the image.
  //
  // Ordering: give the session the reopened image (setImageSource with the record's file) before
  // calling this. A source for the record's image (same path or SHA-256) arriving after the call
  // also works: it replaces the image without wiping the restored conversation. Any other image
  // starts a new conversation, as always.
  void restoreConversation(const ConversationRecord& record);
  bool isReadOnlyRestore() const { return restored_; }
  // The history store now writes another file: the conversation is stored anew from its next turn.
  void forgetStoredIds();
  qint64 historyConversationId() const { return conversationId_; }

  // ---- What a view reads ----------------------------------------------------------------------
  const Transcript& transcript() const { return transcript_; }
  qint64 nowMs() const { return clock_.elapsed(); }  // the transcript's clock (Transcript::statsText)
  QString lastError() const { return lastError_; }
  // The transcript with the image, its window, the model and (when asked) the patient's fields.
  ExportDocument exportDocument(ExportDocument::Scope scope, bool includeIdentifying) const;

 Q_SIGNALS:
  void transcriptReset();  // cleared, restored or an exchange dropped: show it all again
  void answerStarted();    // a user turn and an empty, streaming answer were appended
  void chunkAppended(const QString& chunk);  // text streamed onto the last answer
  void answerFinished(const cxr::assistant::AnswerResult& result);
  void failed(const QString& message);
  // The same file arrived with another rendering while a conversation runs: it waits for the next.
  void imageWaiting();
  // canAsk / canRegenerate / busy may have changed.
  void stateChanged();

 private:
  void sendImageToEngine();
  void dropLastExchangeEverywhere();
  void onAnswerStarted(const QString& sent, RequestKind kind);
  void onToken(const QString& chunk);
  void onAnswerFinished(const AnswerResult& result);
  void onFailed(const QString& message);

  AssistantEngine& engine_;
  HistoryStore* history_;
  std::unique_ptr<StreamingRecorder> recorder_;
  Transcript transcript_;
  QElapsedTimer clock_;
  ModelImageSource source_;
  ModelImageChoice choice_ = ModelImageChoice::DefaultWindow;
  bool previews_ = true;
  bool prepare_ = true;
  qint64 conversationId_ = 0;
  bool editing_ = false;
  bool restored_ = false;  // showing a conversation from the history (read-only for the engine)
  // A reopened conversation the engine will continue: its turns (user as sent, answer, ...) and its
  // image, until the first new answer starts.
  QStringList continuedTurns_;
  ImageProvenance continuedImage_;
  bool imagePending_ = false;  // a new rendering of the same file waits for the next conversation
  SamplingSettings lastSampling_;  // of the request that is running (recorded with its answer)
  QString lastError_;
};

}  // namespace cxr::assistant
