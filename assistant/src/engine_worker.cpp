#include "cxr/assistant/engine_worker.h"

#include "cxr/assistant/prompting.h"

#include <QFile>
#include <chrono>

namespace cxr::assistant {

// ---- EngineWorker (runs in the worker thread) -----------------------------------------------

namespace {
// Resident memory of this process (Linux /proc); 0 where unavailable.
qint64 residentBytes() {
  QFile status(QStringLiteral("/proc/self/status"));
  if (!status.open(QIODevice::ReadOnly)) return 0;
  for (const QByteArray& line : status.readAll().split('\n'))
    if (line.startsWith("VmRSS:")) return line.mid(6).trimmed().split(' ').value(0).toLongLong() * 1024;
  return 0;
}

QString exactUserMessage(const QString& message, bool firstTurn) {
  return QString::fromStdString(userTurnMessage(message.toStdString(), firstTurn, /*withImage=*/true));
}
}  // namespace

EngineWorker::EngineWorker(std::unique_ptr<EngineBackend> backend, std::shared_ptr<StopControl> stop)
    : backend_(std::move(backend)), stop_(std::move(stop)) {}

EngineWorker::~EngineWorker() = default;

template <typename Fn>
void EngineWorker::guarded(quint64 requestId, Fn&& fn) {
  // Nothing thrown by the engine may reach Qt's event loop: every failure becomes a message.
  try {
    fn();
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromUtf8(e.what()));
  } catch (...) {
    Q_EMIT failed(QStringLiteral("The assistant failed with an unknown error."));
  }
  Q_EMIT requestDone(requestId);
}

void EngineWorker::load(quint64 requestId, const QString& folder, const LoadSettings& settings) {
  guarded(requestId, [&] {
    if (stop_->isCancelled(requestId)) {
      Q_EMIT loadCancelled();
      return;
    }
    exchanges_ = 0;
    try {
      const auto start = std::chrono::steady_clock::now();
      ModelSummary summary;
      summary.info = backend_->load(
          folder.toStdString(), settings.toEngine(), [&](double fraction, const std::string& stage) {
            Q_EMIT loadProgress(fraction, QString::fromStdString(stage));
            return !stop_->isCancelled(requestId);
          });
      summary.loadSeconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      summary.residentBytes = residentBytes();
      imageChanged_ = true;  // a new model needs a new encoding and conversation
      Q_EMIT modelLoaded(summary);
    } catch (const LoadCancelled&) {
      Q_EMIT loadCancelled();
    } catch (const std::exception& e) {
      Q_EMIT loadFailed(QString::fromUtf8(e.what()));
    }
  });
}

void EngineWorker::setImage(quint64 requestId, const ImageInput& image, const QString& identity) {
  guarded(requestId, [&] {
    image_ = image;
    imageIdentity_ = identity.isEmpty() ? "unnamed image " + std::to_string(++unnamedImages_) : identity.toStdString();
    imageChanged_ = true;
    exchanges_ = 0;
    lastMessage_.clear();
    restorePending_ = false;
  });
}

void EngineWorker::preview(quint64 requestId, const ImageInput& image) {
  guarded(requestId, [&] {
    if (!backend_->isLoaded()) return;  // nothing to show yet; the panel says so
    PreviewResult result;
    result.info = backend_->preprocess(image);
    result.sourceWidth = image.width;
    result.sourceHeight = image.height;
    Q_EMIT previewReady(result);
  });
}

bool EngineWorker::ensureConversation(quint64 requestId) {
  if (backend_->hasConversation() && !imageChanged_) return true;
  if (image_.pixels.empty()) throw ModelError("no image: open a radiograph first");
  try {
    backend_->startConversation(image_, imageIdentity_, [&](Phase phase, int done, int total) {
      Q_EMIT phaseProgress(phase, done, total);
      return !stop_->isCancelled(requestId);
    });
  } catch (const Cancelled&) {
    return false;
  }
  imageChanged_ = false;
  exchanges_ = 0;
  return true;
}

bool EngineWorker::ensureConversationRestored(quint64 requestId) {
  if (!ensureConversation(requestId)) return false;
  if (!restorePending_) return true;
  const std::vector<Message> turns = toMessages(restoredTurns_);
  restorePending_ = false;  // a refused restore is reported once, then the panel starts afresh
  backend_->restore(turns);
  exchanges_ = int(turns.size() / 2);
  return true;
}

void EngineWorker::runTurn(quint64 requestId, RequestKind kind, const QString& message,
                           const SamplingSettings& sampling) {
  Q_EMIT answerStarted(message, kind);
  lastKind_ = kind;
  lastMessage_ = message;
  lastReached_ = false;
  AnswerResult answer;
  answer.kind = kind;
  answer.userMessage = message;
  answer.sampling = sampling;
  if (!ensureConversationRestored(requestId)) {  // stopped while encoding the image: nothing was sent
    answer.stopReason = StopReason::Cancelled;
    Q_EMIT answerFinished(answer);
    return;
  }
  lastReached_ = true;
  GenerationResult result;
  try {
    result = backend_->send(
        message.toStdString(), sampling.toEngine(),
        [&](const TokenEvent& event) {
          if (!event.text.empty()) Q_EMIT tokenStreamed(QString::fromStdString(event.text), event.index);
          return !stop_->isCancelled(requestId);
        },
        [&](Phase phase, int done, int total) {
          Q_EMIT phaseProgress(phase, done, total);
          return !stop_->isCancelled(requestId);
        });
  } catch (const ModelError&) {
    // A refused turn (one that does not fit the context, say) leaves the engine's conversation as it
    // was: regenerate / edit must treat it as never sent, not pop the exchange before it.
    lastReached_ = false;
    throw;
  }
  ++exchanges_;
  answer.text = QString::fromStdString(result.text);
  answer.seed = result.seed;
  answer.sampling.seed = result.seed;
  answer.stopReason = result.stopReason;
  answer.timings = result.timings;
  answer.promptIds = int(result.promptIds.size());
  answer.cachedPositions = backend_->cachedPositions();
  Q_EMIT answerFinished(answer);
}

void EngineWorker::ask(quint64 requestId, RequestKind kind, const QString& question,
                       const SamplingSettings& sampling) {
  guarded(requestId, [&] {
    if (stop_->isCancelled(requestId)) return;
    if (!backend_->isLoaded()) throw ModelError("No model is loaded yet: choose a CXR-LLaVA model folder first.");
    // The message exactly as the conversation will hold it (the engine's rule puts "<image>\n" on
    // the first turn; applied here too so that the transcript and the history record it exactly).
    const bool firstTurn = restorePending_ ? restoredTurns_.isEmpty()
                                           : !backend_->hasConversation() || imageChanged_ || exchanges_ == 0;
    runTurn(requestId, kind, exactUserMessage(composeUserMessage(kind, question), firstTurn), sampling);
  });
}

void EngineWorker::regenerate(quint64 requestId, const SamplingSettings& sampling) {
  guarded(requestId, [&] {
    if (stop_->isCancelled(requestId)) return;
    if (!lastMessage_.isEmpty() && !lastReached_) {  // (setImage clears lastMessage_)
      runTurn(requestId, lastKind_, lastMessage_, sampling);  // never reached the engine: just run it
      return;
    }
    if (restorePending_) {
      if (!ensureConversationRestored(requestId)) return;
      lastKind_ = RequestKind::Question;
    }
    if (exchanges_ == 0 || imageChanged_) throw ModelError("There is no answer to regenerate yet.");
    const QString message = QString::fromStdString(backend_->popLastExchange());
    --exchanges_;
    runTurn(requestId, lastKind_, message, sampling);
  });
}

void EngineWorker::editAndResend(quint64 requestId, const QString& newQuestion,
                                 const SamplingSettings& sampling) {
  guarded(requestId, [&] {
    if (stop_->isCancelled(requestId)) return;
    const bool reached = lastMessage_.isEmpty() || lastReached_;
    if (reached && restorePending_ && !ensureConversationRestored(requestId)) return;
    if (reached) {
      if (exchanges_ == 0 || imageChanged_) throw ModelError("There is no question to edit yet.");
      backend_->popLastExchange();
      --exchanges_;
    }
    runTurn(requestId, RequestKind::Question, exactUserMessage(newQuestion, exchanges_ == 0), sampling);
  });
}

void EngineWorker::restoreConversation(quint64 requestId, const QStringList& turns) {
  guarded(requestId, [&] {
    if (const std::string problem = turnOrderProblem(toMessages(turns)); !problem.empty())
      throw ModelError("The stored conversation cannot be continued as is: " + problem + ".");
    restorePending_ = true;
    restoredTurns_ = turns;
    exchanges_ = 0;
    lastMessage_.clear();
  });
}

void EngineWorker::runModelJob(quint64 requestId, const ModelJob& job) {
  guarded(requestId, [&] {
    job(backend_->loadedModel(), [this, requestId] { return stop_->isCancelled(requestId); });
  });
}

void EngineWorker::newConversation(quint64 requestId) {
  guarded(requestId, [&] {
    if (backend_->hasConversation() && !imageChanged_) backend_->reset();
    exchanges_ = 0;
    lastMessage_.clear();
    restorePending_ = false;
    Q_EMIT conversationReset();
  });
}

void EngineWorker::prepare(quint64 requestId) {
  // Optional work: it never fails loudly, and it is not a request (no requestDone).
  auto wanted = [&] { return !stop_->isSuperseded(requestId); };
  if (!wanted() || !backend_->isLoaded() || image_.pixels.empty()) return;
  try {
    const bool ready = backend_->prepare(image_, imageIdentity_, [&](Phase phase, int done, int total) {
      Q_EMIT preparationProgress(phase, done, total);
      return wanted();
    });
    Q_EMIT preparationFinished(ready, {});
  } catch (const Cancelled&) {
    Q_EMIT preparationFinished(false, {});
  } catch (const std::exception& e) {
    Q_EMIT preparationFinished(false, QString::fromUtf8(e.what()));
  }
}

// ---- AssistantEngine (GUI thread) -----------------------------------------------------------

AssistantEngine::AssistantEngine(std::unique_ptr<EngineBackend> backend, QObject* parent)
    : QObject(parent) {
  registerAssistantMetaTypes();
  worker_ = new EngineWorker(std::move(backend), stop_);
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &EngineWorker::loadProgress, this, &AssistantEngine::loadProgress);
  connect(worker_, &EngineWorker::modelLoaded, this, [this](const ModelSummary& summary) {
    loaded_ = true;
    model_ = summary;
    Q_EMIT modelLoaded(summary);
  });
  connect(worker_, &EngineWorker::loadFailed, this, [this](const QString& message) {
    loaded_ = false;
    Q_EMIT loadFailed(message);
  });
  connect(worker_, &EngineWorker::loadCancelled, this, [this] {
    loaded_ = false;  // the backend dropped the old model before loading the new one
    Q_EMIT loadCancelled();
  });
  connect(worker_, &EngineWorker::previewReady, this, &AssistantEngine::previewReady);
  connect(worker_, &EngineWorker::answerStarted, this, &AssistantEngine::answerStarted);
  connect(worker_, &EngineWorker::phaseProgress, this, &AssistantEngine::phaseProgress);
  connect(worker_, &EngineWorker::tokenStreamed, this, &AssistantEngine::tokenStreamed);
  connect(worker_, &EngineWorker::answerFinished, this, &AssistantEngine::answerFinished);
  connect(worker_, &EngineWorker::failed, this, &AssistantEngine::failed);
  connect(worker_, &EngineWorker::conversationReset, this, &AssistantEngine::conversationReset);
  connect(worker_, &EngineWorker::requestDone, this, &AssistantEngine::onRequestDone);
  connect(worker_, &EngineWorker::preparationProgress, this, [this](Phase phase, int done, int total) {
    const QString what = phase == Phase::Prefill   ? tr("reading the system prompt and the image, layer %1 of %2").arg(done).arg(total)
                         : phase == Phase::Vision ? tr("encoding the image, layer %1 of %2").arg(done).arg(total)
                                                  : tr("preparing the image");
    Q_EMIT preparationStatus(tr("Preparing the model for this image: %1…").arg(what));
    // A question asked meanwhile waits behind the preparation: its progress is this one's.
    if (isBusy()) Q_EMIT phaseProgress(phase, done, total);
  });
  connect(worker_, &EngineWorker::preparationFinished, this, [this](bool ready, const QString& message) {
    if (!message.isEmpty()) Q_EMIT preparationStatus(tr("Could not prepare the model for this image: %1").arg(message));
    else Q_EMIT preparationStatus(ready ? tr("The model has read this image: its first answer starts at once.") : QString());
    Q_EMIT preparationFinished(ready, message);
  });
  thread_.setObjectName(QStringLiteral("cxr-engine"));
  thread_.start();
}

AssistantEngine::~AssistantEngine() {
  stop();
  thread_.quit();
  thread_.wait();
}

quint64 AssistantEngine::nextId() {
  if (pending_++ == 0) Q_EMIT busyChanged(true);
  return ++lastId_;
}

void AssistantEngine::onRequestDone(quint64) {
  if (pending_ > 0 && --pending_ == 0) Q_EMIT busyChanged(false);
}

void AssistantEngine::loadModel(const QString& folder, const LoadSettings& settings) {
  supersedePreparations();
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id, folder, settings] { w->load(id, folder, settings); },
                            Qt::QueuedConnection);
}

void AssistantEngine::setImage(const ImageInput& image, const QString& identity) {
  supersedePreparations();
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id, image, identity] { w->setImage(id, image, identity); },
                            Qt::QueuedConnection);
}

void AssistantEngine::requestPreview(const ImageInput& image) {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id, image] { w->preview(id, image); },
                            Qt::QueuedConnection);
}

void AssistantEngine::ask(RequestKind kind, const QString& question, const SamplingSettings& sampling) {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(
      worker_, [w = worker_, id, kind, question, sampling] { w->ask(id, kind, question, sampling); },
      Qt::QueuedConnection);
}

void AssistantEngine::regenerate(const SamplingSettings& sampling) {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id, sampling] { w->regenerate(id, sampling); },
                            Qt::QueuedConnection);
}

void AssistantEngine::editAndResend(const QString& newQuestion, const SamplingSettings& sampling) {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(
      worker_, [w = worker_, id, newQuestion, sampling] { w->editAndResend(id, newQuestion, sampling); },
      Qt::QueuedConnection);
}

void AssistantEngine::newConversation() {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id] { w->newConversation(id); },
                            Qt::QueuedConnection);
}

void AssistantEngine::restoreConversation(const QStringList& turns) {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id, turns] { w->restoreConversation(id, turns); },
                            Qt::QueuedConnection);
}

void AssistantEngine::runModelJob(ModelJob job) {
  const quint64 id = nextId();
  QMetaObject::invokeMethod(worker_, [w = worker_, id, job = std::move(job)] { w->runModelJob(id, job); },
                            Qt::QueuedConnection);
}

void AssistantEngine::prepare() {
  const quint64 id = ++lastId_;  // not counted as busy: nothing waits for it
  QMetaObject::invokeMethod(worker_, [w = worker_, id] { w->prepare(id); }, Qt::QueuedConnection);
}

void AssistantEngine::stop() { stop_->cancelledUpTo.store(lastId_); }

}  // namespace cxr::assistant
