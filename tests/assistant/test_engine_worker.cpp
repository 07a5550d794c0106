// The worker thread over the scripted backend: streaming order, Stop at every stage, follow-ups,
// regenerate / edit, failures as messages, a responsive GUI thread, and a destructor that stops.
#include "cxr/assistant/engine_worker.h"
#include "cxr/assistant/scripted_backend.h"
#include "support/image_sources.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

using namespace cxr::assistant;
using namespace std::chrono_literals;

namespace {

using cxr::test::grayImageInput;

struct Harness {
  ScriptedBackend* backend = nullptr;  // owned by the worker; read only while idle
  std::unique_ptr<AssistantEngine> engine;
  QStringList events;
  QString streamed;
  QList<AnswerResult> answers;
  QStringList failures;

  explicit Harness(BackendScript script = {}) {
    auto b = std::make_unique<ScriptedBackend>(std::move(script));
    backend = b.get();
    engine = std::make_unique<AssistantEngine>(std::move(b));
    auto* e = engine.get();
    QObject::connect(e, &AssistantEngine::loadProgress, e, [this](double, const QString&) { add(QStringLiteral("loadProgress")); });
    QObject::connect(e, &AssistantEngine::modelLoaded, e, [this](const ModelSummary&) { add(QStringLiteral("modelLoaded")); });
    QObject::connect(e, &AssistantEngine::loadCancelled, e, [this] { add(QStringLiteral("loadCancelled")); });
    QObject::connect(e, &AssistantEngine::loadFailed, e, [this](const QString& m) { add(QStringLiteral("loadFailed")); failures << m; });
    QObject::connect(e, &AssistantEngine::answerStarted, e, [this](const QString&, RequestKind) { add(QStringLiteral("answerStarted")); });
    QObject::connect(e, &AssistantEngine::phaseProgress, e, [this](cxr::Phase p, int, int) {
      add(p == cxr::Phase::Vision ? QStringLiteral("vision") : p == cxr::Phase::Prefill ? QStringLiteral("prefill") : QStringLiteral("preprocess"));
    });
    QObject::connect(e, &AssistantEngine::tokenStreamed, e, [this](const QString& chunk, int) { add(QStringLiteral("token")); streamed += chunk; });
    QObject::connect(e, &AssistantEngine::answerFinished, e, [this](const AnswerResult& r) { add(QStringLiteral("answerFinished")); answers << r; });
    QObject::connect(e, &AssistantEngine::failed, e, [this](const QString& m) { add(QStringLiteral("failed")); failures << m; });
  }
  void add(const QString& event) {
    if (events.isEmpty() || events.last() != event) events << event;  // collapse repeats
  }
  bool waitIdle() { return QTest::qWaitFor([&] { return !engine->isBusy(); }, 30000); }
  bool loadAndSetImage() {
    engine->loadModel(QStringLiteral("/models/fake"));
    engine->setImage(grayImageInput());
    return waitIdle() && engine->isModelLoaded();
  }
};

BackendScript fastScript() {
  BackendScript s;
  s.answers = {"Heart size is normal. No pleural effusion. Ünïcödé ✓ text.", "Second answer here.",
               "Third answer."};
  s.loadStepDelay = s.visionLayerDelay = s.prefillLayerDelay = s.tokenDelay = 1ms;
  return s;
}

}  // namespace

class TestEngineWorker : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void signalOrderDuringStreaming();
  void firstQuestionGetsImagePrefixFollowUpVerbatim();
  void stopAtEachStage_data();
  void stopAtEachStage();
  void regenerateAndEdit();
  void newConversationReusesEncoding();
  void anImageIsEncodedOncePerIdentity();
  void regenerateAfterStopDuringEncoding();
  void failuresArriveAsMessages();
  void refusedTurnLeavesTheConversationUsable();
  void guiThreadStaysResponsive();
  void destructorStopsAndWaits();
  void askWithoutModelSaysWhatToDo();
};

void TestEngineWorker::signalOrderDuringStreaming() {
  Harness h(fastScript());
  QVERIFY(h.loadAndSetImage());
  QCOMPARE(h.events, (QStringList{QStringLiteral("loadProgress"), QStringLiteral("modelLoaded")}));
  // Status line: model, device, dtype, threads, memory.
  const QString status = h.engine->model().statusText();
  for (const QString& part : {QStringLiteral("cpu"), QStringLiteral("bf16"), QStringLiteral("2 threads"),
                              QStringLiteral("weights"), QStringLiteral("memory"), QStringLiteral("/models/fake")})
    QVERIFY2(status.contains(part), qPrintable(status));
  h.events.clear();
  h.engine->ask(RequestKind::Report, {}, SamplingSettings{});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.events, (QStringList{QStringLiteral("answerStarted"), QStringLiteral("preprocess"), QStringLiteral("vision"),
                                  QStringLiteral("prefill"), QStringLiteral("token"), QStringLiteral("answerFinished")}));
  QCOMPARE(h.answers.size(), 1);
  const AnswerResult& r = h.answers[0];
  QCOMPARE(r.userMessage, QString::fromUtf8(cxr::prompts::kReport));  // the stock prompt verbatim
  QCOMPARE(r.text, QString::fromUtf8("Heart size is normal. No pleural effusion. Ünïcödé ✓ text."));
  QCOMPARE(h.streamed, r.text);  // chunks add up to the answer, in order
  QCOMPARE(r.stopReasonText(), QString::fromUtf8(stopReasonName(cxr::StopReason::EndOfSequence)));
  QCOMPARE(r.seed, quint64(4242));
  QCOMPARE(r.sampling.seed.value_or(0), quint64(4242));
  QVERIFY(r.timings.decodeTokens > 0);
}

void TestEngineWorker::firstQuestionGetsImagePrefixFollowUpVerbatim() {
  Harness h(fastScript());
  QVERIFY(h.loadAndSetImage());
  h.engine->ask(RequestKind::Question, QStringLiteral("Is there a pleural effusion?"), {});
  h.engine->ask(RequestKind::Question, QStringLiteral("Which side?"), {});
  h.engine->ask(RequestKind::Differential, {}, {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers.size(), 3);
  QCOMPARE(h.answers[0].userMessage, QStringLiteral("<image>\nIs there a pleural effusion?"));
  QCOMPARE(h.answers[1].userMessage, QStringLiteral("Which side?"));
  // A stock prompt as a follow-up loses "<image>\n": only the first turn may carry the image.
  QCOMPARE(h.answers[2].userMessage, QString::fromUtf8(cxr::prompts::kDifferential).mid(8));
  // Follow-ups add only their own positions to the cache.
  QVERIFY(h.answers[1].cachedPositions > h.answers[0].cachedPositions);
  QVERIFY(h.answers[1].timings.prefillPositions < h.answers[0].timings.prefillPositions);
  QCOMPARE(h.backend->encodeCount(), 1);
}

void TestEngineWorker::stopAtEachStage_data() {
  QTest::addColumn<QString>("stage");
  QTest::newRow("load") << QStringLiteral("loadProgress");
  QTest::newRow("image encoding") << QStringLiteral("vision");
  QTest::newRow("prefill") << QStringLiteral("prefill");
  QTest::newRow("decode") << QStringLiteral("token");
}

void TestEngineWorker::stopAtEachStage() {
  QFETCH(QString, stage);
  // Every stage is slow (40 units x 25 ms = 1 s): Stop must cut it short within one unit.
  BackendScript s;
  s.loadSteps = s.visionLayers = s.prefillLayers = 40;
  s.loadStepDelay = s.visionLayerDelay = s.prefillLayerDelay = s.tokenDelay = 25ms;
  std::string longAnswer;
  for (int i = 0; i < 40; ++i) longAnswer += "word" + std::to_string(i) + " ";
  s.answers = {longAnswer};
  Harness h(s);
  int unitsAfterStop = 0;
  bool stopped = false;
  auto onEvent = [&](const QString& event) {
    if (event != stage) return;
    if (stopped) {
      ++unitsAfterStop;
      return;
    }
    stopped = true;
    h.engine->stop();
  };
  QObject::connect(h.engine.get(), &AssistantEngine::loadProgress, h.engine.get(), [&] { onEvent(QStringLiteral("loadProgress")); });
  QObject::connect(h.engine.get(), &AssistantEngine::phaseProgress, h.engine.get(), [&](cxr::Phase p, int, int) {
    onEvent(p == cxr::Phase::Vision ? QStringLiteral("vision") : p == cxr::Phase::Prefill ? QStringLiteral("prefill") : QString());
  });
  QObject::connect(h.engine.get(), &AssistantEngine::tokenStreamed, h.engine.get(), [&] { onEvent(QStringLiteral("token")); });

  h.engine->loadModel(QStringLiteral("/models/fake"));
  h.engine->setImage(grayImageInput());
  QVERIFY(h.waitIdle());
  if (stage == QStringLiteral("loadProgress")) {
    QVERIFY(stopped);
    QVERIFY(h.events.contains(QStringLiteral("loadCancelled")));
    QVERIFY(!h.engine->isModelLoaded());
    stopped = true;  // from here on the test must not stop again
    stage = QStringLiteral("none");
    h.engine->loadModel(QStringLiteral("/models/fake"));  // usable right after
    QVERIFY(h.waitIdle());
    QVERIFY(h.engine->isModelLoaded());
  } else {
    h.engine->ask(RequestKind::Report, {}, {});
    QVERIFY(h.waitIdle());
    QVERIFY(stopped);
    QCOMPARE(h.answers.size(), 1);
    QCOMPARE(h.answers[0].stopReasonText(), QString::fromUtf8(stopReasonName(cxr::StopReason::Cancelled)));
    if (stage == QStringLiteral("token")) {
      QVERIFY(!h.answers[0].text.isEmpty());
      QVERIFY(h.answers[0].text.size() < int(longAnswer.size()) - 1);
    } else {
      QVERIFY(h.answers[0].text.isEmpty());
    }
    stage = QStringLiteral("none");
  }
  // The worker stops at its next unit; the GUI may still receive a few signals that were queued
  // before Stop (how many depends on machine load), but nowhere near the 40 the stage has.
  QVERIFY2(unitsAfterStop < 20, qPrintable(QString::number(unitsAfterStop)));
  // The engine is usable right after: a full answer follows.
  h.answers.clear();
  h.engine->ask(RequestKind::Question, QStringLiteral("Again?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers.size(), 1);
  QCOMPARE(h.answers[0].stopReasonText(), QString::fromUtf8(stopReasonName(cxr::StopReason::EndOfSequence)));
  QCOMPARE(h.answers[0].text, QString::fromStdString(longAnswer));
  QVERIFY(h.failures.isEmpty());
}

void TestEngineWorker::regenerateAndEdit() {
  Harness h(fastScript());
  QVERIFY(h.loadAndSetImage());
  h.engine->ask(RequestKind::Report, {}, {});
  h.engine->ask(RequestKind::Question, QStringLiteral("Is the heart enlarged?"), {});
  QVERIFY(h.waitIdle());
  const int cachedAfterTwo = h.answers[1].cachedPositions;
  SamplingSettings seeded;
  seeded.seed = 7;
  h.engine->regenerate(seeded);
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers.size(), 3);
  QCOMPARE(h.answers[2].userMessage, QStringLiteral("Is the heart enlarged?"));
  QCOMPARE(h.answers[2].seed, quint64(7));
  QCOMPARE(h.answers[2].text, QStringLiteral("Third answer."));
  QCOMPARE(h.backend->userMessages().size(), size_t(2));  // replaced, not appended
  QVERIFY(h.answers[2].cachedPositions <= cachedAfterTwo + 4);
  h.engine->editAndResend(QStringLiteral("Is there a pneumothorax?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.backend->userMessages().size(), size_t(2));
  QCOMPARE(QString::fromStdString(h.backend->userMessages().back()), QStringLiteral("Is there a pneumothorax?"));
  QVERIFY(h.failures.isEmpty());
}

void TestEngineWorker::newConversationReusesEncoding() {
  Harness h(fastScript());
  QVERIFY(h.loadAndSetImage());
  h.engine->ask(RequestKind::Report, {}, {});
  h.engine->newConversation();
  h.engine->ask(RequestKind::Question, QStringLiteral("Effusion?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers[1].userMessage, QStringLiteral("<image>\nEffusion?"));
  QCOMPARE(h.backend->encodeCount(), 1);
  h.engine->setImage(grayImageInput(80, 64, 99));  // another image: encoded again, fresh conversation
  h.engine->ask(RequestKind::Question, QStringLiteral("And here?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers[2].userMessage, QStringLiteral("<image>\nAnd here?"));
  QCOMPARE(h.backend->encodeCount(), 2);
}

void TestEngineWorker::anImageIsEncodedOncePerIdentity() {
  // The identity (file hash + frame + window) decides, not the pixels: the same identity handed
  // over again is not encoded again; the same pixels under another window's identity are.
  Harness h(fastScript());
  h.engine->loadModel(QStringLiteral("/models/fake"));
  const QString first = QStringLiteral("sha256:%1 frame:0 window:center 40, width 400").arg(QString(64, u'a'));
  h.engine->setImage(grayImageInput(), first);
  h.engine->ask(RequestKind::Report, {}, {});
  QVERIFY(h.waitIdle());
  h.engine->setImage(grayImageInput(), first);  // the same file fed again (a new conversation on it)
  h.engine->ask(RequestKind::Question, QStringLiteral("Effusion?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.backend->encodeCount(), 1);
  h.engine->setImage(grayImageInput(), QStringLiteral("sha256:%1 frame:0 window:center 60, width 400").arg(QString(64, u'a')));
  h.engine->ask(RequestKind::Question, QStringLiteral("And now?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.backend->encodeCount(), 2);
  h.engine->setImage(grayImageInput());  // no identity: counts as a new image every time
  h.engine->ask(RequestKind::Question, QStringLiteral("Here?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.backend->encodeCount(), 3);
  QVERIFY(h.failures.isEmpty());
}

void TestEngineWorker::regenerateAfterStopDuringEncoding() {
  BackendScript s = fastScript();
  s.visionLayers = 40;
  s.visionLayerDelay = 25ms;
  Harness h(s);
  QVERIFY(h.loadAndSetImage());
  bool stopped = false;
  QObject::connect(h.engine.get(), &AssistantEngine::phaseProgress, h.engine.get(), [&](cxr::Phase p, int, int) {
    if (p == cxr::Phase::Vision && !stopped) {
      stopped = true;
      h.engine->stop();
    }
  });
  h.engine->ask(RequestKind::Question, QStringLiteral("Effusion?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(int(h.answers.last().stopReason), int(cxr::StopReason::Cancelled));
  QCOMPARE(h.backend->sendCount(), 0);  // the question never reached the engine
  h.engine->regenerate({});               // so regenerate runs it instead of popping anything
  QVERIFY(h.waitIdle());
  QVERIFY2(h.failures.isEmpty(), qPrintable(h.failures.join(u'\n')));
  QCOMPARE(h.answers.last().userMessage, QStringLiteral("<image>\nEffusion?"));
  QCOMPARE(int(h.answers.last().stopReason), int(cxr::StopReason::EndOfSequence));
  QCOMPARE(h.backend->userMessages().size(), size_t(1));
}

void TestEngineWorker::failuresArriveAsMessages() {
  BackendScript s = fastScript();
  s.failSendWith = "model-00002-of-00002.safetensors: read error";
  Harness h(s);
  QVERIFY(h.loadAndSetImage());
  h.engine->ask(RequestKind::Report, {}, {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.failures, QStringList{QStringLiteral("model-00002-of-00002.safetensors: read error")});
  BackendScript bad = fastScript();
  bad.failLoadWith = "config.json: missing key 'mm_hidden_size'";
  Harness h2(bad);
  h2.engine->loadModel(QStringLiteral("/models/bad"));
  QVERIFY(h2.waitIdle());
  QVERIFY(h2.events.contains(QStringLiteral("loadFailed")));
  QCOMPARE(h2.failures, QStringList{QStringLiteral("config.json: missing key 'mm_hidden_size'")});
  QVERIFY(!h2.engine->isModelLoaded());
}

// Issue 12: a turn the engine refuses (it does not fit the context) is shown as a failure with the
// engine's message, and the exchanges before it stay: regenerate retries the refused question
// (it used to drop the report before it and regenerate that), edit replaces the refused question.
void TestEngineWorker::refusedTurnLeavesTheConversationUsable() {
  BackendScript s = fastScript();
  s.refuseSendContaining = "LONG";
  Harness h(s);
  QVERIFY(h.loadAndSetImage());
  h.engine->ask(RequestKind::Report, {}, {});
  h.engine->ask(RequestKind::Question, QStringLiteral("LONG question"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers.size(), 1);
  QCOMPARE(h.failures.size(), 1);
  QVERIFY2(h.failures[0].contains(u"Shorten it or start a new conversation."), qPrintable(h.failures[0]));
  h.engine->regenerate({});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers.size(), 1);   // the report was not regenerated in its place
  QCOMPARE(h.failures.size(), 2);  // the refused question was tried again, and refused again
  QCOMPARE(h.backend->userMessages().size(), size_t(1));
  h.engine->editAndResend(QStringLiteral("Is the heart enlarged?"), {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.answers.size(), 2);
  QCOMPARE(h.answers[1].userMessage, QStringLiteral("Is the heart enlarged?"));  // a follow-up: no image prefix
  QCOMPARE(h.backend->userMessages().size(), size_t(2));  // the report is still there
}

void TestEngineWorker::guiThreadStaysResponsive() {
  BackendScript s = fastScript();
  s.visionLayerDelay = s.prefillLayerDelay = 20ms;
  s.tokenDelay = 30ms;
  Harness h(s);
  QVERIFY(h.loadAndSetImage());
  int ticks = 0, ticksBeforeFirstToken = 0, ticksWhileStreaming = 0;
  bool streaming = false;
  QTimer timer;
  timer.setInterval(5);
  QObject::connect(&timer, &QTimer::timeout, &timer, [&] {
    ++ticks;
    if (streaming) ++ticksWhileStreaming;
  });
  QObject::connect(h.engine.get(), &AssistantEngine::tokenStreamed, &timer, [&] {
    if (!streaming) ticksBeforeFirstToken = ticks;
    streaming = true;
  });
  QObject::connect(h.engine.get(), &AssistantEngine::answerFinished, &timer, [&] { streaming = false; });
  timer.start();
  h.engine->ask(RequestKind::Report, {}, {});
  QVERIFY(h.waitIdle());
  // The GUI thread's timer kept firing while the worker encoded, prefilled and decoded.
  QVERIFY2(ticksBeforeFirstToken >= 3, qPrintable(QString::number(ticksBeforeFirstToken)));
  QVERIFY2(ticksWhileStreaming >= 3, qPrintable(QString::number(ticksWhileStreaming)));
}

void TestEngineWorker::destructorStopsAndWaits() {
  BackendScript s = fastScript();
  s.tokenDelay = 50ms;
  std::string endless;
  for (int i = 0; i < 2000; ++i) endless += "token ";  // 100 s if nobody stops it
  s.answers = {endless};
  auto h = std::make_unique<Harness>(s);
  QVERIFY(h->loadAndSetImage());
  h->engine->ask(RequestKind::Report, {}, {});
  QTRY_VERIFY_WITH_TIMEOUT(!h->streamed.isEmpty(), 20000);
  QElapsedTimer clock;
  clock.start();
  h.reset();  // ~AssistantEngine: stop, quit, wait
  QVERIFY2(clock.elapsed() < 10000, "the destructor did not stop the generation");
}

void TestEngineWorker::askWithoutModelSaysWhatToDo() {
  Harness h(fastScript());
  h.engine->ask(RequestKind::Report, {}, {});
  QVERIFY(h.waitIdle());
  QCOMPARE(h.failures.size(), 1);
  QVERIFY(h.failures[0].contains(QStringLiteral("model folder")));
}

QTEST_GUILESS_MAIN(TestEngineWorker)
#include "test_engine_worker.moc"
