// The engine runs in its own thread; the GUI talks to it through AssistantEngine.
//
// Shape (Qt's Mandelbrot example and the Worker/Controller pattern): EngineWorker lives in a
// QThread and owns the backend; requests go in as queued invocations, results come out as signals
// carrying value types. Stop cannot be a queued slot (it would wait behind the busy request), so
// it is an atomic "cancel every request up to id N" that the engine's progress/token callbacks
// poll. Exceptions never leave the worker: they become failed()/loadFailed() messages.
#pragma once

#include "cxr/assistant/engine_backend.h"
#include "cxr/assistant/types.h"

#include <QObject>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>

namespace cxr::assistant {

// Shared between the controller (writes) and the worker (reads from the engine's callbacks).
struct StopControl {
  std::atomic<quint64> cancelledUpTo{0};
  // Preparations (EngineWorker::prepare) issued before another image or model: no longer wanted.
  std::atomic<quint64> preparationsSupersededUpTo{0};
  bool isCancelled(quint64 requestId) const { return requestId <= cancelledUpTo.load(); }
  bool isSuperseded(quint64 requestId) const {
    return isCancelled(requestId) || requestId <= preparationsSupersededUpTo.load();
  }
};

// Work that drives the loaded model directly on the worker thread, between the chat's requests (a
// dataset run). `model` is null when none is loaded (or the backend has none); `cancelled` turns
// true when AssistantEngine::stop() is called and must be polled (the engine's progress and token
// callbacks can return !cancelled()). The job must not throw: it reports its own outcome.
using ModelJob = std::function<void(cxr::Model* model, const std::function<bool()>& cancelled)>;

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  EngineWorker(std::unique_ptr<EngineBackend> backend, std::shared_ptr<StopControl> stop);
  ~EngineWorker() override;

  // Invoked queued from AssistantEngine, run in the worker thread.
  Q_INVOKABLE void load(quint64 requestId, const QString& folder, const cxr::assistant::LoadSettings& settings);
  Q_INVOKABLE void setImage(quint64 requestId, const cxr::ImageInput& image, const QString& identity);
  Q_INVOKABLE void preview(quint64 requestId, const cxr::ImageInput& image);
  Q_INVOKABLE void ask(quint64 requestId, cxr::assistant::RequestKind kind, const QString& question,
                       const cxr::assistant::SamplingSettings& sampling);
  Q_INVOKABLE void regenerate(quint64 requestId, const cxr::assistant::SamplingSettings& sampling);
  Q_INVOKABLE void editAndResend(quint64 requestId, const QString& newQuestion,
                                 const cxr::assistant::SamplingSettings& sampling);
  Q_INVOKABLE void newConversation(quint64 requestId);
  // Continue a stored conversation: `turns` alternate user message (verbatim, as sent) and answer,
  // ending with an answer. Applied to the backend with the next question (after the image set
  // before it is encoded); a later setImage or newConversation drops it.
  Q_INVOKABLE void restoreConversation(quint64 requestId, const QStringList& turns);
  // Runs `job` with the backend's model. The chat's conversation is left as it was.
  void runModelJob(quint64 requestId, const ModelJob& job);
  // "Prepare while the user looks": encodes the image set last and computes the shared prefix of
  // its prompts (EngineBackend::prepare), so that the first question prefills only its own text.
  // Not a request the panel waits for (no requestDone): it reports through preparationProgress and
  // preparationFinished, and stops within one layer when another image or model is set, or on Stop.
  // A question asked meanwhile waits behind it and continues on what it computed.
  Q_INVOKABLE void prepare(quint64 requestId);

 Q_SIGNALS:
  void loadProgress(double fraction, const QString& stage);
  void modelLoaded(const cxr::assistant::ModelSummary& summary);
  void loadFailed(const QString& message);
  void loadCancelled();
  void previewReady(const cxr::assistant::PreviewResult& preview);
  // A turn starts: the exact user message that will be sent.
  void answerStarted(const QString& userMessage, cxr::assistant::RequestKind kind);
  void phaseProgress(cxr::Phase phase, int done, int total);
  void tokenStreamed(const QString& chunk, int index);
  void answerFinished(const cxr::assistant::AnswerResult& result);
  void failed(const QString& message);
  void conversationReset();
  void requestDone(quint64 requestId);
  void preparationProgress(cxr::Phase phase, int done, int total);
  // ready: the image's prefix is computed; else stopped, failed (message) or nothing to do.
  void preparationFinished(bool ready, const QString& message);

 private:
  void runTurn(quint64 requestId, RequestKind kind, const QString& message,
               const SamplingSettings& sampling);
  bool ensureConversation(quint64 requestId);
  // ensureConversation, then hands a pending restored conversation to the backend.
  bool ensureConversationRestored(quint64 requestId);
  template <typename Fn>
  void guarded(quint64 requestId, Fn&& fn);

  std::unique_ptr<EngineBackend> backend_;
  std::shared_ptr<StopControl> stop_;
  ImageInput image_;
  // Names image_'s pixels for the backend (ModelImageSource::identity); an image handed over
  // without one gets "unnamed image N", new at each setImage.
  std::string imageIdentity_;
  quint64 unnamedImages_ = 0;
  bool imageChanged_ = false;
  int exchanges_ = 0;  // user+assistant turns in the backend's conversation
  RequestKind lastKind_ = RequestKind::Question;
  // The last turn requested, and whether it reached the engine's conversation (a turn stopped while
  // the image was being encoded did not, so regenerate/edit must not pop anything for it).
  QString lastMessage_;
  bool lastReached_ = false;
  // A stored conversation waiting to be handed to the backend (restoreConversation).
  bool restorePending_ = false;
  QStringList restoredTurns_;
};

// GUI-thread facade: owns the thread and the worker, numbers requests, tracks busy state.
class AssistantEngine : public QObject {
  Q_OBJECT
 public:
  explicit AssistantEngine(std::unique_ptr<EngineBackend> backend, QObject* parent = nullptr);
  ~AssistantEngine() override;  // stops whatever runs and waits for the thread

  void loadModel(const QString& folder, const LoadSettings& settings = {});
  // `identity`: what the pixels are (ModelImageSource::identity: the file's SHA-256, frame and
  // window). The engine encodes an image once per identity; empty: these pixels count as new.
  void setImage(const ImageInput& image, const QString& identity = {});
  void requestPreview(const ImageInput& image);
  void ask(RequestKind kind, const QString& question, const SamplingSettings& sampling);
  void regenerate(const SamplingSettings& sampling);
  void editAndResend(const QString& newQuestion, const SamplingSettings& sampling);
  void newConversation();
  // Continue a conversation reopened from history on the image set last (setImage first):
  // `turns` alternate the user messages as sent and the answers. See EngineWorker.
  void restoreConversation(const QStringList& turns);
  // Queues `job` on the engine's thread (see ModelJob); the engine is busy until it returns, and
  // stop() cancels it like any request.
  void runModelJob(ModelJob job);
  // Prepares the image set last ahead of the first question (EngineWorker::prepare). Does not make
  // the engine busy; setImage, loadModel and stop() end it.
  void prepare();
  // Cancels everything issued so far: the running request stops within one layer / token.
  void stop();

  bool isBusy() const { return pending_ > 0; }
  bool isModelLoaded() const { return loaded_; }
  const ModelSummary& model() const { return model_; }

 Q_SIGNALS:
  void loadProgress(double fraction, const QString& stage);
  void modelLoaded(const cxr::assistant::ModelSummary& summary);
  void loadFailed(const QString& message);
  void loadCancelled();
  void previewReady(const cxr::assistant::PreviewResult& preview);
  void answerStarted(const QString& userMessage, cxr::assistant::RequestKind kind);
  void phaseProgress(cxr::Phase phase, int done, int total);
  void tokenStreamed(const QString& chunk, int index);
  void answerFinished(const cxr::assistant::AnswerResult& result);
  void failed(const QString& message);
  void conversationReset();
  void busyChanged(bool busy);
  // What the preparation does, for a status bar ("" when it ends without news).
  void preparationStatus(const QString& text);
  // The preparation ended: ready (the image's prefix is computed), else stopped or failed (message).
  void preparationFinished(bool ready, const QString& message);

 private:
  quint64 nextId();
  void supersedePreparations() { stop_->preparationsSupersededUpTo.store(lastId_); }
  void onRequestDone(quint64 requestId);

  QThread thread_;
  EngineWorker* worker_ = nullptr;  // lives in thread_, deleted when it finishes
  std::shared_ptr<StopControl> stop_ = std::make_shared<StopControl>();
  quint64 lastId_ = 0;
  int pending_ = 0;
  bool loaded_ = false;
  ModelSummary model_;
};

}  // namespace cxr::assistant
