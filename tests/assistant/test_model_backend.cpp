// The assistant over the real engine, on the tiny golden checkpoint (../shared/data/golden-cxrllava/tiny64):
// greedy answer identical to the reference, signal order, follow-up prefill of new tokens only,
// regenerate reproduces a greedy answer, Stop at every stage leaves the engine usable, the preview
// is the exact crop, and a batch run exports the real answer to PDF.
#include "support/golden_data.h"
#include "cxr/assistant/batch_run.h"
#include "cxr/assistant/model_backend.h"
#include "cxr/assistant/prompting.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace cxr::assistant;

namespace {

using golden::checkpoint;
using golden::imagePath;
using golden::sharedData;

QJsonObject reference(const QString& which) {
  QFile f(sharedData() + QStringLiteral("/golden-cxrllava/tiny64/") + which + QStringLiteral("/reference.json"));
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QJsonDocument::fromJson(f.readAll()).object();
}

// The reference streamer's text: pieces joined, "▁" as space, the leading space dropped.
QString referenceText(const QJsonObject& ref) {
  QString text;
  for (const auto& piece : ref[QStringLiteral("cases")].toArray()[0].toObject()[QStringLiteral("greedy_pieces")].toArray())
    text += piece.toString();
  text.replace(QChar(0x2581), u' ');
  return text.startsWith(u' ') ? text.mid(1) : text;
}

LoadSettings f32() {
  LoadSettings s;
  s.dtype = QStringLiteral("f32");  // the golden numbers are fp32
  s.threads = 1;
  return s;
}

SamplingSettings greedy16() {
  SamplingSettings s = SamplingSettings::deterministic();
  s.maxNewTokens = 16;
  return s;
}

struct Run {
  std::unique_ptr<AssistantEngine> engine = std::make_unique<AssistantEngine>(createModelBackend());
  QStringList events;
  QList<AnswerResult> answers;
  QStringList failures;
  QString streamed;
  Run() {
    auto* e = engine.get();
    auto add = [this](const QString& ev) {
      if (events.isEmpty() || events.last() != ev) events << ev;
    };
    QObject::connect(e, &AssistantEngine::modelLoaded, e, [add](const ModelSummary&) { add(QStringLiteral("modelLoaded")); });
    QObject::connect(e, &AssistantEngine::loadFailed, e, [this](const QString& m) { failures << m; });
    QObject::connect(e, &AssistantEngine::failed, e, [this](const QString& m) { failures << m; });
    QObject::connect(e, &AssistantEngine::answerStarted, e, [add](const QString&, RequestKind) { add(QStringLiteral("answerStarted")); });
    QObject::connect(e, &AssistantEngine::phaseProgress, e, [add](cxr::Phase p, int, int) { add(phaseName(p)); });
    QObject::connect(e, &AssistantEngine::tokenStreamed, e, [this, add](const QString& c, int) { add(QStringLiteral("token")); streamed += c; });
    QObject::connect(e, &AssistantEngine::answerFinished, e, [this, add](const AnswerResult& r) { add(QStringLiteral("answerFinished")); answers << r; });
  }
  bool idle() { return QTest::qWaitFor([&] { return !engine->isBusy(); }, 60000); }
};

}  // namespace

class TestModelBackend : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void reportMatchesReferenceAndStreamsInOrder();
  void followUpPrefillsOnlyItsOwnTokens();
  void restoredConversationContinuesLikeTheLiveOne();
  void preparedImageAnswersAfterItsOwnText();
  void stopAtEachStageLeavesEngineUsable();
  void previewIsTheExactCrop();
  void batchRunExportsTheRealAnswer();
  void badFolderIsAReadableMessage();
};

void TestModelBackend::initTestCase() {
  if (!QFile::exists(checkpoint() + QStringLiteral("/config.json")))
    QSKIP("the tiny golden checkpoint (../shared/data/golden-cxrllava/tiny64) is not available");
}

void TestModelBackend::reportMatchesReferenceAndStreamsInOrder() {
  Run run;
  run.engine->loadModel(checkpoint(), f32());
  run.engine->setImage(toImageInput(QImage(imagePath())));
  QVERIFY(run.idle());
  QVERIFY2(run.failures.isEmpty(), qPrintable(run.failures.join(u'\n')));
  const ModelSummary& model = run.engine->model();
  QCOMPARE(QString::fromStdString(model.info.configSha256),
           reference(QStringLiteral("report"))[QStringLiteral("checkpoint")].toObject()[QStringLiteral("config_sha256")].toString());
  run.events.clear();
  run.engine->ask(RequestKind::Report, {}, greedy16());
  QVERIFY(run.idle());
  QVERIFY2(run.failures.isEmpty(), qPrintable(run.failures.join(u'\n')));
  QCOMPARE(run.answers.size(), 1);
  const AnswerResult& r = run.answers[0];
  QCOMPARE(r.text, referenceText(reference(QStringLiteral("report"))));
  QCOMPARE(run.streamed, r.text);
  QCOMPARE(r.promptIds, 98);                    // the reference's 98 ids (-200 once)
  QCOMPARE(r.timings.prefillPositions, 97 + 16);  // ids - 1 + 16 image tokens
  QCOMPARE(r.timings.decodeTokens, 16);
  QCOMPARE(int(r.stopReason), int(cxr::StopReason::MaxNewTokens));
  // Signal order: started, image encoding, prompt, tokens, finished.
  auto at = [&](const QString& e) { return run.events.indexOf(e); };
  QVERIFY2(at(QStringLiteral("answerStarted")) == 0, qPrintable(run.events.join(u' ')));
  QVERIFY2(at(phaseName(cxr::Phase::Vision)) > 0, qPrintable(run.events.join(u' ')));
  QVERIFY2(at(phaseName(cxr::Phase::Prefill)) > at(phaseName(cxr::Phase::Vision)), qPrintable(run.events.join(u' ')));
  QVERIFY2(at(QStringLiteral("token")) > at(phaseName(cxr::Phase::Prefill)), qPrintable(run.events.join(u' ')));
  QCOMPARE(run.events.last(), QStringLiteral("answerFinished"));
  QCOMPARE(run.events.count(QStringLiteral("token")), 1);  // no progress after the first token
}

void TestModelBackend::followUpPrefillsOnlyItsOwnTokens() {
  Run run;
  run.engine->loadModel(checkpoint(), f32());
  run.engine->setImage(toImageInput(QImage(imagePath())));
  run.engine->ask(RequestKind::Question, QStringLiteral("Is there a pleural effusion?"), greedy16());
  run.engine->ask(RequestKind::Question, QStringLiteral("Which side?"), greedy16());
  QVERIFY(run.idle());
  QVERIFY2(run.failures.isEmpty(), qPrintable(run.failures.join(u'\n')));
  QCOMPARE(run.answers.size(), 2);
  const AnswerResult first = run.answers[0];
  const AnswerResult second = run.answers[1];
  QCOMPARE(first.userMessage, QStringLiteral("<image>\nIs there a pleural effusion?"));
  QCOMPARE(first.promptIds, reference(QStringLiteral("ask"))[QStringLiteral("prompt")].toObject()[QStringLiteral("ids")].toArray().size());
  QCOMPARE(first.text, referenceText(reference(QStringLiteral("ask"))));
  QCOMPARE(second.userMessage, QStringLiteral("Which side?"));
  // The follow-up prefill covers only what the cache did not hold (the new turn's ~20 tokens and
  // the end of the previous answer), never the image (16 positions here) or the earlier turns.
  qInfo("first prefill %d positions, %d tokens (%s); follow-up prefill %d positions, %d tokens (%s); cache %d -> %d",
        first.timings.prefillPositions, first.timings.decodeTokens, qPrintable(first.stopReasonText()),
        second.timings.prefillPositions, second.timings.decodeTokens, qPrintable(second.stopReasonText()),
        first.cachedPositions, second.cachedPositions);
  QVERIFY(second.timings.prefillPositions > 0);
  QVERIFY(second.timings.prefillPositions < 40);
  QVERIFY(second.timings.prefillPositions < first.cachedPositions / 2);
  QVERIFY(second.cachedPositions > first.cachedPositions);
  // Regenerating a greedy answer reproduces it exactly.
  run.engine->regenerate(greedy16());
  QVERIFY(run.idle());
  QCOMPARE(run.answers.size(), 3);
  QCOMPARE(run.answers[2].text, second.text);
  QCOMPARE(run.answers[2].cachedPositions, second.cachedPositions);
}

// A conversation reopened from history (its turns as stored: the user messages as sent and the
// answers' text) continues exactly as the live conversation did: same prompt, same greedy answer.
void TestModelBackend::restoredConversationContinuesLikeTheLiveOne() {
  Run live;
  live.engine->loadModel(checkpoint(), f32());
  live.engine->setImage(toImageInput(QImage(imagePath())));
  live.engine->ask(RequestKind::Question, QStringLiteral("Is there a pleural effusion?"), greedy16());
  live.engine->ask(RequestKind::Question, QStringLiteral("Which side?"), greedy16());
  QVERIFY(live.idle());
  QVERIFY2(live.failures.isEmpty(), qPrintable(live.failures.join(u'\n')));
  QCOMPARE(live.answers.size(), 2);

  Run reopened;
  reopened.engine->loadModel(checkpoint(), f32());
  reopened.engine->setImage(toImageInput(QImage(imagePath())));  // the image first, then the turns
  reopened.engine->restoreConversation({live.answers[0].userMessage, live.answers[0].text});
  reopened.engine->ask(RequestKind::Question, QStringLiteral("Which side?"), greedy16());
  QVERIFY(reopened.idle());
  QVERIFY2(reopened.failures.isEmpty(), qPrintable(reopened.failures.join(u'\n')));
  QCOMPARE(reopened.answers.size(), 1);
  const AnswerResult& continued = reopened.answers[0];
  QCOMPARE(continued.userMessage, QStringLiteral("Which side?"));  // no <image>: not a first turn
  QCOMPARE(continued.promptIds, live.answers[1].promptIds);
  QCOMPARE(continued.text, live.answers[1].text);
  QCOMPARE(continued.cachedPositions, live.answers[1].cachedPositions);
  // The first answer after the restore processed the whole conversation, image included.
  QVERIFY(continued.timings.prefillPositions > live.answers[1].timings.prefillPositions);
  QVERIFY(continued.timings.visionSeconds > 0);
}

// "Prepare while the user looks" (issue 9): the image is encoded and its prompts' shared prefix
// computed before any question, without making the engine busy; the report then prefills only its
// own text and is still the reference's answer. A new image supersedes the preparation.
void TestModelBackend::preparedImageAnswersAfterItsOwnText() {
  Run run;
  QSignalSpy finished(run.engine.get(), &AssistantEngine::preparationFinished);
  QSignalSpy status(run.engine.get(), &AssistantEngine::preparationStatus);
  QSignalSpy busy(run.engine.get(), &AssistantEngine::busyChanged);
  run.engine->loadModel(checkpoint(), f32());
  run.engine->setImage(toImageInput(QImage(imagePath())));
  QVERIFY(run.idle());
  busy.clear();
  run.engine->prepare();
  QVERIFY(!run.engine->isBusy());  // nothing waits for it: the buttons stay enabled
  QVERIFY(QTest::qWaitFor([&] { return !finished.isEmpty(); }, 60000));
  QCOMPARE(finished.first().at(0).toBool(), true);
  QVERIFY(busy.isEmpty());
  QVERIFY(status.size() >= 2);
  QVERIFY2(status.first().at(0).toString().startsWith(QStringLiteral("Preparing the model for this image")),
           qPrintable(status.first().at(0).toString()));
  QVERIFY(run.answers.isEmpty() && run.failures.isEmpty());

  run.engine->ask(RequestKind::Report, {}, greedy16());
  QVERIFY(run.idle());
  QVERIFY2(run.failures.isEmpty(), qPrintable(run.failures.join(u'\n')));
  QCOMPARE(run.answers.size(), 1);
  const AnswerResult& r = run.answers[0];
  QCOMPARE(r.text, referenceText(reference(QStringLiteral("report"))));
  QCOMPARE(r.timings.reusedPrefixPositions, 42 + 16);  // 42 ids before the image, 16 image rows
  QCOMPARE(r.timings.prefillPositions, 98 - 43);      // only the ids after the image
  QVERIFY(!run.events.contains(phaseName(cxr::Phase::Vision)));  // encoded during the preparation

  // Another image right after prepare() supersedes it (it stops within one layer, or never starts;
  // which one depends on timing); no error either way, and the next question gets its answer.
  finished.clear();
  run.engine->prepare();
  QImage other(64, 80, QImage::Format_Grayscale8);
  other.fill(90);
  run.engine->setImage(toImageInput(other));
  QVERIFY(run.idle());
  QTest::qWait(200);
  for (const auto& f : finished) QVERIFY2(f.at(1).toString().isEmpty(), qPrintable(f.at(1).toString()));
  run.engine->ask(RequestKind::Question, QStringLiteral("Is there a pleural effusion?"), greedy16());
  QVERIFY(run.idle());
  QVERIFY2(run.failures.isEmpty(), qPrintable(run.failures.join(u'\n')));
  QCOMPARE(run.answers.size(), 2);
}

void TestModelBackend::stopAtEachStageLeavesEngineUsable() {
  // Drive the backend directly with the worker's kind of callbacks: each returns false at its stage.
  auto backend = createModelBackend();
  int loadCalls = 0;
  QVERIFY_THROWS_EXCEPTION(cxr::LoadCancelled, backend->load(checkpoint().toStdString(), f32().toEngine(),
                                                             [&](double, const std::string&) { return ++loadCalls < 2; }));
  QVERIFY(!backend->isLoaded());
  backend->load(checkpoint().toStdString(), f32().toEngine(), {});
  QVERIFY(backend->isLoaded());
  const cxr::ImageInput image = toImageInput(QImage(imagePath()));
  QVERIFY_THROWS_EXCEPTION(cxr::Cancelled, backend->startConversation(image, "sample", [](cxr::Phase p, int, int) {
    return p != cxr::Phase::Vision;
  }));
  backend->startConversation(image, "sample", {});
  const std::string message = composeUserMessage(RequestKind::Report, {}).toStdString();
  auto prefillStop = backend->send(message, greedy16().toEngine(), {}, [](cxr::Phase p, int, int) { return p != cxr::Phase::Prefill; });
  QCOMPARE(int(prefillStop.stopReason), int(cxr::StopReason::Cancelled));
  QVERIFY(prefillStop.tokenIds.empty());
  backend->reset();
  int tokens = 0;
  auto decodeStop = backend->send(message, greedy16().toEngine(), [&](const cxr::TokenEvent&) { return ++tokens < 3; }, {});
  QCOMPARE(int(decodeStop.stopReason), int(cxr::StopReason::Cancelled));
  QCOMPARE(int(decodeStop.tokenIds.size()), 3);
  // Usable right after: the full greedy answer, identical to the reference.
  backend->reset();
  auto full = backend->send(message, greedy16().toEngine(), {}, {});
  QCOMPARE(QString::fromStdString(full.text), referenceText(reference(QStringLiteral("report"))));
}

void TestModelBackend::previewIsTheExactCrop() {
  auto backend = createModelBackend();
  backend->load(checkpoint().toStdString(), f32().toEngine(), {});
  const cxr::PreprocessInfo info = backend->preprocess(toImageInput(QImage(imagePath())));
  const QImage golden(sharedData() + QStringLiteral("/golden-cxrllava/tiny64/report/nih_cxr14_00000001_000.crop_uint8.png"));
  QVERIFY(!golden.isNull());
  const cxr::ImageInput goldenBytes = toImageInput(golden);
  QCOMPARE(info.cropSize, golden.width());
  QVERIFY(info.crop == goldenBytes.pixels);
  QCOMPARE(cropRectInSource(info, 512, 512), QRectF(0, 0, 512, 512));  // square: nothing cut away
}

void TestModelBackend::batchRunExportsTheRealAnswer() {
  QTemporaryDir dir;
  AssistantEngine engine(createModelBackend());
  ModelImageSource source;
  source.defaultWindow = QImage(imagePath()).convertToFormat(QImage::Format_Grayscale8);
  source.defaultWindowText = QStringLiteral("8-bit PNG as stored");
  source.filePath = imagePath();
  BatchOptions options;
  options.modelFolder = checkpoint();
  options.load = f32();
  options.sampling = greedy16();
  options.request = {RequestKind::Report, {}};
  options.exportPdf = dir.filePath(QStringLiteral("report.pdf"));
  options.exportTxt = dir.filePath(QStringLiteral("report.txt"));
  BatchRun run(engine, source, options);
  QSignalSpy finished(&run, &BatchRun::finished);
  QSignalSpy lines(&run, &BatchRun::progress);
  run.start();
  QVERIFY(finished.wait(60000));
  QVERIFY2(finished[0][0].toInt() == 0, qPrintable(lines.isEmpty() ? QString() : lines.last()[0].toString()));
  QFile txt(options.exportTxt);
  QVERIFY(txt.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(txt.readAll());
  QVERIFY(text.contains(referenceText(reference(QStringLiteral("report")))));
  QVERIFY(text.contains(QStringLiteral("Seed 1: ")));
  QVERIFY(text.contains(QStringLiteral("greedy (deterministic), max new tokens 16")));
  QVERIFY(text.contains(QDir::toNativeSeparators(checkpoint())));
  if (QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty()) return;
  QProcess p;
  p.start(QStringLiteral("pdftotext"), {QStringLiteral("-enc"), QStringLiteral("UTF-8"), options.exportPdf, QStringLiteral("-")});
  QVERIFY(p.waitForFinished(30000));
  const QString pdf = QString::fromUtf8(p.readAllStandardOutput());
  QVERIFY2(pdf.contains(QString::fromUtf8("Киhor")), qPrintable(pdf.left(2000)));
  QVERIFY(pdf.contains(QStringLiteral("Research use only")));
}

void TestModelBackend::badFolderIsAReadableMessage() {
  Run run;
  QTemporaryDir empty;
  run.engine->loadModel(empty.path(), f32());
  QVERIFY(run.idle());
  QCOMPARE(run.failures.size(), 1);
  QVERIFY2(run.failures[0].contains(QStringLiteral("config.json")) || run.failures[0].contains(empty.path()),
           qPrintable(run.failures[0]));
  QVERIFY(!run.engine->isModelLoaded());
}

QTEST_MAIN(TestModelBackend)
#include "test_model_backend.moc"
