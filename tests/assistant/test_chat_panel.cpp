// The chat panel, history browser and batch runner over the scripted backend (offscreen).
#include "cxr/assistant/batch_run.h"
#include "cxr/assistant/chat_panel.h"
#include "cxr/assistant/history_browser.h"
#include "support/image_sources.h"
#include "cxr/assistant/question_box.h"
#include "cxr/assistant/scripted_backend.h"

#include <QAbstractSpinBox>
#include <QApplication>
#include <QClipboard>
#include <QFile>
#include <QLineEdit>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextDocument>
#include <QTextList>
#include <QToolButton>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QSettings>
#include <QTest>
#include <QTextBrowser>

using namespace cxr::assistant;
using namespace std::chrono_literals;
Q_DECLARE_METATYPE(cxr::assistant::QuestionKeyAction)

namespace {

const char* const kReportAnswer =
    "The cardiac silhouette is mildly enlarged. No pneumothorax. Possible small left pleural effusion.";

BackendScript script(std::chrono::milliseconds tokenDelay = 1ms) {
  BackendScript s;
  s.answers = {kReportAnswer, "Left side.", "Right side."};
  s.loadStepDelay = s.visionLayerDelay = s.prefillLayerDelay = 1ms;
  s.tokenDelay = tokenDelay;
  return s;
}

ModelImageSource imageSource() {
  ModelImageSource src = cxr::test::fakeImageSource();
  src.patient = {QStringLiteral("DOE^JANE"), QStringLiteral("ID42"), {}, {}};
  return src;
}

struct PanelHarness {
  QTemporaryDir dir;
  std::unique_ptr<HistoryStore> history;
  ScriptedBackend* backend = nullptr;
  std::unique_ptr<AssistantEngine> engine;
  std::unique_ptr<ChatPanel> panel;

  explicit PanelHarness(BackendScript s = script(), bool load = true) {
    history = std::make_unique<HistoryStore>(dir.filePath(QStringLiteral("history.sqlite")));
    auto b = std::make_unique<ScriptedBackend>(std::move(s));
    backend = b.get();
    engine = std::make_unique<AssistantEngine>(std::move(b));
    panel = std::make_unique<ChatPanel>(*engine, history.get());
    panel->resize(700, 900);
    panel->show();
    if (load) {
      panel->loadModel(QStringLiteral("/models/fake"));
      panel->setImageSource(imageSource());
    }
  }
  ~PanelHarness() {
    panel.reset();
    engine.reset();
  }
  bool idle() {
    return QTest::qWaitFor([&] { return !engine->isBusy(); }, 20000);
  }
  QPushButton* button(const char* name) { return panel->findChild<QPushButton*>(QString::fromUtf8(name)); }
  QString findingStatus(int row) {
    auto* table = panel->findChild<QTableWidget*>(QStringLiteral("findings"));
    return table->item(row, 1) ? table->item(row, 1)->text() : QString();
  }
};

}  // namespace

class TestChatPanel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void keyRule_data();
  void keyRule();
  void enterSendsShiftEnterAddsLine();
  void reportStreamsIntoPanelChecklistAndHistory();
  void questionsGetImagePrefixOnlyFirst();
  void previewAndCropRectangle();
  void regenerateAndEditReplaceTheLastExchange();
  void windowDragKeepsTheConversation();
  void stopButtonStopsStreaming();
  void seedIsShownAndReusable();
  void samplingControlsCannotHoldOutOfRangeValues();
  void withoutModelSaysHowToGetIt();
  void cancelLoadingThenLoadAgain();
  void exportFromPanelIsAnonymised();
  void historyBrowserSearchDeleteUndoReopen();
  void reopenedImageArrivingLateKeepsTheConversation();
  void runSpec_data();
  void runSpec();
  void batchRunWritesExports();
  void streamingOnlyAppendsToTheTranscript();
  void answersReadAsParagraphsAndListsWithTheirChecklist();
  void theTranscriptGetsMostOfTheHeight();
  void requestButtonsWrapWhenThePanelIsNarrow();
  void controlsHaveNamesAndKeys();
};

void TestChatPanel::keyRule_data() {
  QTest::addColumn<int>("key");
  QTest::addColumn<int>("modifiers");
  QTest::addColumn<QuestionKeyAction>("expected");
  QTest::newRow("Enter") << int(Qt::Key_Return) << int(Qt::NoModifier) << QuestionKeyAction::Send;
  QTest::newRow("keypad Enter") << int(Qt::Key_Enter) << int(Qt::KeypadModifier) << QuestionKeyAction::Send;
  QTest::newRow("Shift+Enter") << int(Qt::Key_Return) << int(Qt::ShiftModifier) << QuestionKeyAction::NewLine;
  QTest::newRow("Ctrl+Enter") << int(Qt::Key_Return) << int(Qt::ControlModifier) << QuestionKeyAction::NewLine;
  QTest::newRow("letter") << int(Qt::Key_A) << int(Qt::NoModifier) << QuestionKeyAction::Default;
  QTest::newRow("Alt+Enter") << int(Qt::Key_Return) << int(Qt::AltModifier) << QuestionKeyAction::Default;
}

void TestChatPanel::keyRule() {
  QFETCH(int, key);
  QFETCH(int, modifiers);
  QFETCH(QuestionKeyAction, expected);
  QCOMPARE(int(questionKeyAction(key, Qt::KeyboardModifiers(modifiers))), int(expected));
}

void TestChatPanel::enterSendsShiftEnterAddsLine() {
  QuestionBox box;
  box.show();
  QSignalSpy submitted(&box, &QuestionBox::submitted);
  QTest::keyClicks(&box, QStringLiteral("first line"));
  QTest::keyClick(&box, Qt::Key_Return, Qt::ShiftModifier);
  QTest::keyClicks(&box, QStringLiteral("second"));
  QCOMPARE(submitted.count(), 0);
  QCOMPARE(box.toPlainText(), QStringLiteral("first line\nsecond"));
  QTest::keyClick(&box, Qt::Key_Return);
  QCOMPARE(submitted.count(), 1);
  QCOMPARE(submitted[0][0].toString(), QStringLiteral("first line\nsecond"));
  box.clear();
  QTest::keyClick(&box, Qt::Key_Return);  // nothing to send
  QCOMPARE(submitted.count(), 1);
}

void TestChatPanel::reportStreamsIntoPanelChecklistAndHistory() {
  PanelHarness h;
  QVERIFY(h.idle());
  QTRY_VERIFY(h.button("writeReport")->isEnabled());
  QTest::mouseClick(h.button("writeReport"), Qt::LeftButton);
  QTRY_VERIFY(h.button("stop")->isEnabled() || h.panel->transcript().exchangeCount() == 1);
  QVERIFY(h.idle());
  const auto& entries = h.panel->transcript().entries();
  QCOMPARE(entries.size(), 2);
  QCOMPARE(entries[0].sentMessage, QString::fromUtf8(cxr::prompts::kReport));
  QVERIFY(entries[0].text.startsWith(QStringLiteral("Write a radiologic report")));
  QCOMPARE(entries[1].text, QString::fromUtf8(kReportAnswer));
  QVERIFY(entries[1].result.has_value());
  QVERIFY(h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"))->toPlainText().contains(QStringLiteral("No pneumothorax.")));
  // Checklist rows follow allFindings(): atelectasis, cardiomegaly, consolidation, edema, effusion, pneumothorax.
  QCOMPARE(h.findingStatus(0), QStringLiteral("not mentioned"));
  QCOMPARE(h.findingStatus(1), QStringLiteral("present"));
  QCOMPARE(h.findingStatus(4), QStringLiteral("uncertain"));
  QCOMPARE(h.findingStatus(5), QStringLiteral("absent"));
  // Stored as it streamed, complete at the end, with the image and model identity.
  const auto stored = h.history->conversation(h.panel->historyConversationId());
  QVERIFY(stored);
  QCOMPARE(stored->image.path, QStringLiteral("/data/cxr/chest.dcm"));
  QCOMPARE(stored->image.windowText, QStringLiteral("center 2048, width 4096 (file default)"));
  QCOMPARE(stored->model.folder, QStringLiteral("/models/fake"));
  QCOMPARE(stored->messages.size(), 2);
  QCOMPARE(stored->messages[0].sentMessage, QString::fromUtf8(cxr::prompts::kReport));
  QCOMPARE(stored->messages[1].content, QString::fromUtf8(kReportAnswer));
  QVERIFY(stored->messages[1].complete);
}

void TestChatPanel::questionsGetImagePrefixOnlyFirst() {
  PanelHarness h;
  QVERIFY(h.idle());
  QTest::keyClicks(h.panel->questionBox(), QStringLiteral("Is there an effusion?"));
  QTest::keyClick(h.panel->questionBox(), Qt::Key_Return);
  QVERIFY(h.idle());
  QVERIFY(h.panel->questionBox()->toPlainText().isEmpty());
  QTest::keyClicks(h.panel->questionBox(), QStringLiteral("Which side?"));
  QTest::keyClick(h.panel->questionBox(), Qt::Key_Return);
  QVERIFY(h.idle());
  const auto& e = h.panel->transcript().entries();
  QCOMPARE(e.size(), 4);
  QCOMPARE(e[0].sentMessage, QStringLiteral("<image>\nIs there an effusion?"));
  QCOMPARE(e[0].text, QStringLiteral("Is there an effusion?"));
  QCOMPARE(e[2].sentMessage, QStringLiteral("Which side?"));
}

void TestChatPanel::previewAndCropRectangle() {
  PanelHarness h(script(), false);
  QSignalSpy crop(h.panel.get(), &ChatPanel::cropRectChanged);
  h.panel->loadModel(QStringLiteral("/models/fake"));
  h.panel->setImageSource(imageSource());
  QVERIFY(h.idle());
  QTRY_VERIFY(crop.count() >= 1);
  // 80x64 -> shortest edge 64 (the fake's image size) -> 80x64, centre crop 64x64 at x = 8.
  QCOMPARE(crop.last()[0].toRectF(), QRectF(8, 0, 64, 64));
  // Choosing the on-screen window sends that rendering instead (and starts a new conversation).
  h.panel->setImageChoice(ModelImageChoice::CurrentWindow);
  QVERIFY(h.idle());
  QCOMPARE(h.panel->imageChoice(), ModelImageChoice::CurrentWindow);
  QTest::mouseClick(h.button("writeReport"), Qt::LeftButton);
  QVERIFY(h.idle());
  const auto stored = h.history->conversation(h.panel->historyConversationId());
  QVERIFY(stored);
  QCOMPARE(stored->image.windowText, QStringLiteral("center 1000, width 500 (on screen)"));
}

void TestChatPanel::regenerateAndEditReplaceTheLastExchange() {
  PanelHarness h;
  QVERIFY(h.idle());
  h.panel->writeReport();
  QVERIFY(h.idle());
  h.panel->askQuestion(QStringLiteral("Which side?"));
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().entries().last().text, QStringLiteral("Left side."));
  QTRY_VERIFY(h.button("regenerate")->isEnabled());
  QTest::mouseClick(h.button("regenerate"), Qt::LeftButton);
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().exchangeCount(), 2);
  QCOMPARE(h.panel->transcript().entries()[2].sentMessage, QStringLiteral("Which side?"));
  QCOMPARE(h.panel->transcript().entries().last().text, QStringLiteral("Right side."));
  // Edit: the last question goes back into the box; sending replaces the exchange.
  h.panel->editLastQuestion();
  QCOMPARE(h.panel->questionBox()->toPlainText(), QStringLiteral("Which side?"));
  h.panel->questionBox()->setPlainText(QStringLiteral("Is it large?"));
  QTest::keyClick(h.panel->questionBox(), Qt::Key_Return);
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().exchangeCount(), 2);
  QCOMPARE(h.panel->transcript().entries()[2].sentMessage, QStringLiteral("Is it large?"));
  QCOMPARE(h.backend->userMessages().size(), size_t(2));
  // The history shows the conversation as it now reads (superseded turns are kept but hidden).
  const auto stored = h.history->conversation(h.panel->historyConversationId());
  QCOMPARE(stored->messages.size(), 4);
  QCOMPARE(stored->messages[2].content, QStringLiteral("Is it large?"));
}

void TestChatPanel::windowDragKeepsTheConversation() {
  PanelHarness h;
  h.panel->setImageChoice(ModelImageChoice::CurrentWindow);
  QVERIFY(h.idle());
  h.panel->writeReport();
  QVERIFY(h.idle());
  QCOMPARE(h.backend->encodeCount(), 1);
  ModelImageSource dragged = imageSource();
  dragged.currentWindow.fill(200);  // the user drags the window on screen
  dragged.currentWindowText = QStringLiteral("center 1200, width 500 (on screen)");
  h.panel->setImageSource(dragged);
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().exchangeCount(), 1);  // kept
  h.panel->askQuestion(QStringLiteral("Follow-up on the same input?"));
  QVERIFY(h.idle());
  QCOMPARE(h.backend->encodeCount(), 1);  // still the image the conversation started with
  QCOMPARE(h.panel->transcript().entries()[2].sentMessage, QStringLiteral("Follow-up on the same input?"));
  h.panel->newConversation();             // now the new rendering goes to the model
  h.panel->writeReport();
  QVERIFY(h.idle());
  QCOMPARE(h.backend->encodeCount(), 2);
  // A different file always starts over.
  ModelImageSource other = imageSource();
  other.filePath = QStringLiteral("/data/cxr/other.png");
  other.defaultWindow.fill(10);
  other.currentWindow.fill(20);
  h.panel->setImageSource(other);
  QVERIFY(h.panel->transcript().isEmpty());
}

void TestChatPanel::stopButtonStopsStreaming() {
  BackendScript s = script(40ms);
  std::string longAnswer;
  for (int i = 0; i < 200; ++i) longAnswer += "word ";
  s.answers = {longAnswer};
  PanelHarness h(s);
  QVERIFY(h.idle());
  h.panel->writeReport();
  QTRY_VERIFY_WITH_TIMEOUT(h.panel->transcript().isStreaming() && !h.panel->transcript().entries().last().text.isEmpty(), 20000);
  QVERIFY(h.button("stop")->isEnabled());
  // Already in the history while it streams (what a crash now would leave behind).
  const auto midStream = h.history->conversation(h.panel->historyConversationId());
  QVERIFY(midStream && midStream->messages.size() == 2);
  QVERIFY(!midStream->messages[1].complete);
  QVERIFY(midStream->messages[1].content.startsWith(QStringLiteral("word")));
  QTest::mouseClick(h.button("stop"), Qt::LeftButton);
  QVERIFY(h.idle());
  const auto& last = h.panel->transcript().entries().last();
  QVERIFY(last.result);
  QCOMPARE(int(last.result->stopReason), int(cxr::StopReason::Cancelled));
  QVERIFY(last.text.size() < int(longAnswer.size()));
  QVERIFY(!h.button("stop")->isEnabled());
  QVERIFY(h.button("writeReport")->isEnabled());  // usable right after
}

void TestChatPanel::seedIsShownAndReusable() {
  PanelHarness h;
  QVERIFY(h.idle());
  h.panel->writeReport();
  QVERIFY(h.idle());
  auto* messages = h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"));
  QVERIFY(messages->toPlainText().contains(QStringLiteral("seed 4242")));
  QVERIFY(messages->toHtml().contains(QStringLiteral("seed:4242")));
  Q_EMIT messages->anchorClicked(QUrl(QStringLiteral("seed:4242")));
  QCOMPARE(h.panel->samplingSettings().seed.value_or(0), quint64(4242));
  QCOMPARE(h.panel->findChild<QLineEdit*>(QStringLiteral("seed"))->text(), QStringLiteral("4242"));
  SamplingSettings greedy = SamplingSettings::deterministic();
  h.panel->setSamplingSettings(greedy);
  QVERIFY(h.panel->samplingSettings().isGreedy());
  QCOMPARE(h.panel->samplingSettings().maxNewTokens, 512);
}

// Issue 12: the settings the panel hands the engine are always within SamplingParams' ranges: the
// spin boxes clamp, NaN from a settings file falls back to the default, and the seed field takes
// digits only (a typed "-1" used to be dropped silently for a random seed).
void TestChatPanel::samplingControlsCannotHoldOutOfRangeValues() {
  PanelHarness h;
  SamplingSettings wild;
  wild.temperature = 1e9;
  wild.topP = -3;
  wild.topK = -5;
  wild.maxNewTokens = 2147483647;
  h.panel->setSamplingSettings(wild);
  const SamplingSettings s = h.panel->samplingSettings();
  QVERIFY2(cxr::checkSampling(s.toEngine()).empty(), cxr::checkSampling(s.toEngine()).c_str());
  auto* seed = h.panel->findChild<QLineEdit*>(QStringLiteral("seed"));
  seed->clear();
  QTest::keyClicks(seed, QStringLiteral("-1x2"));
  QCOMPARE(seed->text(), QStringLiteral("12"));
  QCOMPARE(h.panel->samplingSettings().seed.value_or(0), quint64(12));
  {
    QSettings settings;
    settings.beginGroup(QStringLiteral("assistant"));
    settings.setValue(QStringLiteral("temperature"), QStringLiteral("nan"));
    settings.setValue(QStringLiteral("topP"), QStringLiteral("inf"));
    settings.setValue(QStringLiteral("deterministic"), false);
  }
  h.panel->restoreSettings();
  const SamplingSettings restored = h.panel->samplingSettings();
  QSettings settings;
  settings.beginGroup(QStringLiteral("assistant"));
  for (const char* key : {"temperature", "topP", "deterministic"})
    settings.remove(QString::fromUtf8(key));
  QVERIFY2(cxr::checkSampling(restored.toEngine()).empty(), cxr::checkSampling(restored.toEngine()).c_str());
}

void TestChatPanel::withoutModelSaysHowToGetIt() {
  PanelHarness h(script(), false);
  QVERIFY(h.panel->statusText().contains(QString::fromStdString(cxr::howToGetModel()).left(30)));
  QVERIFY(!h.button("writeReport")->isEnabled());
  QVERIFY(h.button("chooseModelFolder")->isEnabled());
}

void TestChatPanel::cancelLoadingThenLoadAgain() {
  BackendScript s = script();
  s.loadSteps = 200;
  s.loadStepDelay = 20ms;  // 4 s unless cancelled
  PanelHarness h(s, false);
  h.panel->setImageSource(imageSource());
  h.panel->loadModel(QStringLiteral("/models/fake"));
  auto* cancel = h.button("cancelLoad");
  QTRY_VERIFY(cancel->isVisible());
  QTest::mouseClick(cancel, Qt::LeftButton);
  QVERIFY(h.idle());
  QVERIFY(!h.engine->isModelLoaded());
  QVERIFY2(h.panel->statusText().contains(QStringLiteral("cancelled")), qPrintable(h.panel->statusText()));
  QVERIFY(!cancel->isVisible());
  QVERIFY(!h.button("writeReport")->isEnabled());
  h.panel->loadModel(QStringLiteral("/models/fake"));
  QTRY_VERIFY_WITH_TIMEOUT(h.engine->isModelLoaded(), 20000);
  QVERIFY(h.idle());
  QVERIFY(h.button("writeReport")->isEnabled());
}

void TestChatPanel::exportFromPanelIsAnonymised() {
  PanelHarness h;
  QVERIFY(h.idle());
  h.panel->writeReport();
  QVERIFY(h.idle());
  const QString path = h.dir.filePath(QStringLiteral("report.txt"));
  QString error;
  QVERIFY2(h.panel->exportTo(path, ExportFormat::PlainText, ExportDocument::Scope::Report, &error), qPrintable(error));
  QFile f(path);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(f.readAll());
  QVERIFY(text.contains(QString::fromUtf8(kReportAnswer)));
  QVERIFY(text.contains(QStringLiteral("center 2048, width 4096")));
  QVERIFY(text.contains(QStringLiteral("Model folder: /models/fake")));
  QVERIFY(!text.contains(QStringLiteral("DOE^JANE")));
  QVERIFY(!text.contains(QStringLiteral("chest.dcm")));
  h.panel->setIncludeIdentifyingInExports(true);
  QVERIFY(h.panel->exportTo(path, ExportFormat::PlainText, ExportDocument::Scope::Report, &error));
  QFile g(path);
  QVERIFY(g.open(QIODevice::ReadOnly));
  QVERIFY(QString::fromUtf8(g.readAll()).contains(QStringLiteral("DOE^JANE")));
}

void TestChatPanel::historyBrowserSearchDeleteUndoReopen() {
  PanelHarness h;
  QVERIFY(h.idle());
  h.panel->askQuestion(QStringLiteral("Is there a pneumothorax?"));
  QVERIFY(h.idle());
  h.panel->newConversation();
  h.panel->askQuestion(QStringLiteral("Heart size?"));
  QVERIFY(h.idle());
  HistoryBrowser browser(*h.history);
  QCOMPARE(browser.rowCount(), 2);
  browser.findChild<QLineEdit*>()->setText(QStringLiteral("pneumothorax"));
  QCOMPARE(browser.rowCount(), 1);
  browser.selectRow(0);
  const qint64 id = browser.selectedId();
  QVERIFY(id != 0);
  QVERIFY(browser.deleteSelected(/*confirm=*/false));
  QCOMPARE(browser.rowCount(), 0);
  QVERIFY(browser.undoLastDelete());
  QCOMPARE(browser.rowCount(), 1);
  QSignalSpy reopen(&browser, &HistoryBrowser::reopenRequested);
  QSignalSpy imageRequest(h.panel.get(), &ChatPanel::reopenImageRequested);
  connect(&browser, &HistoryBrowser::reopenRequested, h.panel.get(), [&](const ConversationRecord& r) {
    Q_EMIT h.panel->reopenImageRequested(r.image.path);
    h.panel->restoreConversation(r);
  });
  browser.selectRow(0);
  const auto buttons = browser.findChildren<QPushButton*>();
  for (auto* b : buttons)
    if (b->text().startsWith(QStringLiteral("Reopen"))) QTest::mouseClick(b, Qt::LeftButton);
  QCOMPARE(reopen.count(), 1);
  QCOMPARE(imageRequest.count(), 1);
  QCOMPARE(imageRequest[0][0].toString(), QStringLiteral("/data/cxr/chest.dcm"));
  QCOMPARE(h.panel->transcript().entries().size(), 2);
  QCOMPARE(h.panel->transcript().entries()[0].text, QStringLiteral("Is there a pneumothorax?"));
  // The reopened conversation continues: the engine replays its turns, the next question is a
  // follow-up (no <image>), and the new turns are stored with the old ones.
  QTRY_VERIFY(h.button("regenerate")->isEnabled());
  h.panel->askQuestion(QStringLiteral("Any effusion?"));
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().entries().size(), 4);
  QCOMPARE(h.panel->transcript().entries()[2].sentMessage, QStringLiteral("Any effusion?"));
  QCOMPARE(h.backend->restoreCount(), 1);
  QCOMPARE(h.backend->userMessages(),
           (std::vector<std::string>{"<image>\nIs there a pneumothorax?", "Any effusion?"}));
  QCOMPARE(h.panel->historyConversationId(), id);
  QCOMPARE(h.history->conversation(id)->messages.size(), 4);
}

// The app may deliver the reopened image after restoreConversation() (chat_panel.h): a source for
// the record's image must not wipe the restored conversation, and the engine must see that image.
void TestChatPanel::reopenedImageArrivingLateKeepsTheConversation() {
  PanelHarness h;
  QVERIFY(h.idle());
  h.panel->askQuestion(QStringLiteral("Is there a pneumothorax?"));
  QVERIFY(h.idle());
  const qint64 id = h.panel->historyConversationId();
  const auto record = h.history->conversation(id);
  QVERIFY(record);
  ModelImageSource other = imageSource();
  other.filePath = QStringLiteral("/data/cxr/other.png");
  other.sha256 = QString(64, u'b');
  other.defaultWindow.fill(30);
  h.panel->setImageSource(other);  // the user moved on to another image and asked about it
  h.panel->askQuestion(QStringLiteral("Heart size?"));
  QVERIFY(h.idle());
  const int encodedBefore = h.backend->encodeCount();
  h.panel->restoreConversation(*record);
  h.panel->setImageSource(imageSource());  // the reopened image, late
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().entries().size(), 2);
  h.panel->askQuestion(QStringLiteral("Any effusion?"));
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().entries().size(), 4);
  QCOMPARE(h.backend->encodeCount(), encodedBefore + 1);  // the reopened image was encoded again
  QCOMPARE(h.backend->userMessages(),
           (std::vector<std::string>{"<image>\nIs there a pneumothorax?", "Any effusion?"}));
}

void TestChatPanel::runSpec_data() {
  QTest::addColumn<QString>("spec");
  QTest::addColumn<bool>("valid");
  QTest::addColumn<int>("kind");
  QTest::addColumn<QString>("question");
  QTest::newRow("report") << QStringLiteral("report") << true << int(RequestKind::Report) << QString();
  QTest::newRow("differential") << QStringLiteral("differential") << true << int(RequestKind::Differential) << QString();
  QTest::newRow("ask") << QStringLiteral("ask:Is there an effusion?") << true << int(RequestKind::Question) << QStringLiteral("Is there an effusion?");
  QTest::newRow("ask with colon") << QStringLiteral("ask:Size: large?") << true << int(RequestKind::Question) << QStringLiteral("Size: large?");
  QTest::newRow("empty ask") << QStringLiteral("ask:") << false << 0 << QString();
  QTest::newRow("unknown") << QStringLiteral("summary") << false << 0 << QString();
}

void TestChatPanel::runSpec() {
  QFETCH(QString, spec);
  QFETCH(bool, valid);
  QFETCH(int, kind);
  QFETCH(QString, question);
  QString error;
  const auto r = parseRunSpec(spec, &error);
  QCOMPARE(r.has_value(), valid);
  if (!valid) {
    QVERIFY(error.contains(spec));
    return;
  }
  QCOMPARE(int(r->kind), kind);
  QCOMPARE(r->question, question);
}

void TestChatPanel::batchRunWritesExports() {
  QTemporaryDir dir;
  AssistantEngine engine(std::make_unique<ScriptedBackend>(script()));
  BatchOptions options;
  options.modelFolder = QStringLiteral("/models/fake");
  options.request = {RequestKind::Report, {}};
  options.exportTxt = dir.filePath(QStringLiteral("out.txt"));
  options.exportPdf = dir.filePath(QStringLiteral("out.pdf"));
  BatchRun run(engine, imageSource(), options);
  QSignalSpy finished(&run, &BatchRun::finished);
  run.start();
  QVERIFY(finished.wait(20000));
  QCOMPARE(finished[0][0].toInt(), 0);
  QFile txt(options.exportTxt);
  QVERIFY(txt.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(txt.readAll());
  QVERIFY(text.contains(QString::fromUtf8(kReportAnswer)));
  QVERIFY(text.contains(QStringLiteral("- Pneumothorax: absent")));
  QVERIFY(QFile(options.exportPdf).size() > 1000);

  BatchOptions bad = options;
  bad.exportTxt = QStringLiteral("/proc/no/such/out.txt");
  AssistantEngine engine2(std::make_unique<ScriptedBackend>(script()));
  BatchRun failing(engine2, imageSource(), bad);
  QSignalSpy failed(&failing, &BatchRun::finished);
  QSignalSpy lines(&failing, &BatchRun::progress);
  failing.start();
  // A destination in a folder that does not exist is refused at once, before the model loads.
  QCOMPARE(failed.count(), 1);
  QCOMPARE(failed[0][0].toInt(), 1);
  QVERIFY(lines.last()[0].toString().contains(QStringLiteral("out.txt")));
}

// Issue 11: the panel rebuilt the whole conversation for every token (the work per token grew with
// the answer). Now streamed text is only appended: no change of the document removes text while
// streaming, and chunks that arrive within one update interval (33 ms) go in as one insertion.
void TestChatPanel::streamingOnlyAppendsToTheTranscript() {
  BackendScript s = script(10ms);  // 1.2 s of streaming: several updates, even on a loaded machine
  std::string longAnswer = "word0";
  for (int i = 1; i < 120; ++i) longAnswer += " word" + std::to_string(i);
  s.answers = {kReportAnswer, longAnswer};
  PanelHarness h(s);
  QVERIFY(h.idle());
  h.panel->writeReport();  // an earlier exchange the rebuilds would have redrawn
  QVERIFY(h.idle());
  auto* messages = h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"));
  int chunks = 0, removals = 0, changes = 0;
  bool streaming = false;
  connect(&h.panel->session(), &ChatSession::chunkAppended, messages, [&] { ++chunks; });
  connect(&h.panel->session(), &ChatSession::answerStarted, messages, [&] { streaming = true; });
  connect(&h.panel->session(), &ChatSession::answerFinished, messages, [&] { streaming = false; });
  // Connected after the panel's own reactions, so the render at the start (streaming not yet set)
  // and the one at the end (after the 120th chunk) are not counted: every chunk's change is.
  connect(messages->document(), &QTextDocument::contentsChange, messages, [&](int, int removed, int) {
    if (!streaming || chunks >= 120) return;
    ++changes;
    removals += removed > 0;
  });
  h.panel->askQuestion(QStringLiteral("Describe it word by word."));
  QVERIFY(h.idle());
  QCOMPARE(chunks, 120);
  QVERIFY2(changes >= 1, "the answer should show while it streams, not only once it is finished");
  QVERIFY2(changes <= chunks, qPrintable(QStringLiteral("%1 changes for %2 chunks").arg(changes).arg(chunks)));
  QCOMPARE(removals, 0);
  // Once finished, the whole answer is there (rendered once more, with its statistics).
  QVERIFY(messages->toPlainText().contains(QStringLiteral("word0 word1")));
  QVERIFY(messages->toPlainText().contains(QStringLiteral("word119")));
  QVERIFY(messages->toPlainText().contains(QStringLiteral("No pneumothorax.")));
}

void TestChatPanel::answersReadAsParagraphsAndListsWithTheirChecklist() {
  BackendScript s = script();
  s.answers = {"Findings: The heart is enlarged.\n\nImpression:\n- Cardiomegaly.\n- No pneumothorax.", "1. Edema\n2. Effusion"};
  PanelHarness h(s);
  QVERIFY(h.idle());
  h.panel->writeReport();
  QVERIFY(h.idle());
  h.panel->differentialDiagnosis();
  QVERIFY(h.idle());
  auto* doc = h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"))->document();
  int bullets = 0, numbers = 0;
  bool findingsParagraph = false;
  for (QTextBlock b = doc->begin(); b.isValid(); b = b.next()) {
    if (QTextList* list = b.textList())
      (list->format().style() == QTextListFormat::ListDecimal ? numbers : bullets) += 1;
    findingsParagraph |= b.text() == QStringLiteral("Findings: The heart is enlarged.");
  }
  QVERIFY(findingsParagraph);  // its own paragraph, not run into "Impression:"
  QCOMPARE(bullets, 2);
  QCOMPARE(numbers, 2);
  // The checklist sits under the report it came from, not under the differential.
  const QString text = doc->toPlainText();
  const int checklist = text.indexOf(QStringLiteral("Findings checklist"));
  QVERIFY(checklist > text.indexOf(QStringLiteral("No pneumothorax.")));
  QVERIFY(checklist < text.indexOf(QStringLiteral("Edema")));
  QCOMPARE(text.count(QStringLiteral("Findings checklist")), 1);
  // One copy link per answer, each copying its own answer.
  QCOMPARE(doc->toHtml().count(QStringLiteral("href=\"copy:")), 2);
  Q_EMIT h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"))->anchorClicked(QUrl(QStringLiteral("copy:3")));
  QCOMPARE(QApplication::clipboard()->text(), QStringLiteral("1. Edema\n2. Effusion"));
}

// Issue 11: at 1400x900 the report had about 130 px. The panel (about 2/5 of the window) now gives
// the transcript at least half of its height, with the settings folded away.
void TestChatPanel::theTranscriptGetsMostOfTheHeight() {
  PanelHarness h;
  QVERIFY(h.idle());
  h.panel->resize(560, 820);  // the panel's share of a 1400x900 window
  QTest::qWait(50);
  auto* messages = h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"));
  QVERIFY2(messages->height() * 2 >= h.panel->height(),
           qPrintable(QStringLiteral("transcript %1 of %2 px").arg(messages->height()).arg(h.panel->height())));
  // Unfolding the sampling settings and the model input keeps it at half.
  h.panel->findChild<QToolButton*>(QStringLiteral("samplingToggle"))->setChecked(true);
  h.panel->findChild<QToolButton*>(QStringLiteral("modelInputToggle"))->setChecked(true);
  QTest::qWait(50);
  QVERIFY(h.panel->findChild<QWidget*>(QStringLiteral("samplingSettings"))->isVisible());
  QVERIFY2(messages->height() * 2 >= h.panel->height(),
           qPrintable(QStringLiteral("transcript %1 of %2 px").arg(messages->height()).arg(h.panel->height())));
}

// At 1.5x scale on a 1400x900 screen the single row of request buttons set the panel's minimum
// width and left the viewer about 280 pixels. The row now wraps into two when the panel is narrow.
void TestChatPanel::requestButtonsWrapWhenThePanelIsNarrow() {
  PanelHarness h;
  QVERIFY(h.idle());
  auto* report = h.panel->findChild<QPushButton*>(QStringLiteral("writeReport"));
  auto* history = h.panel->findChild<QPushButton*>(QStringLiteral("history"));
  const auto top = [&](QWidget* w) { return w->mapTo(h.panel.get(), QPoint()).y(); };
  h.panel->resize(1000, 820);
  QTest::qWait(50);
  QCOMPARE(top(report), top(history));  // wide: one row
  const int oneRow = history->mapTo(h.panel.get(), QPoint(history->width(), 0)).x() - report->mapTo(h.panel.get(), QPoint()).x();
  const int narrowest = h.panel->minimumSizeHint().width();
  QVERIFY2(narrowest < oneRow, qPrintable(QStringLiteral("the panel needs %1 px, the row of buttons %2").arg(narrowest).arg(oneRow)));
  h.panel->resize(narrowest, 820);
  QTest::qWait(50);
  QVERIFY2(top(history) > top(report), "narrow: the conversation's buttons go under the requests");
  for (QPushButton* b : {report, history})  // and every button stays inside the panel
    QVERIFY(h.panel->rect().contains(QRect(b->mapTo(h.panel.get(), QPoint()), b->size())));
  // The transcript still gets half of the height.
  auto* messages = h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"));
  QVERIFY(messages->height() * 2 >= h.panel->height());
}

void TestChatPanel::controlsHaveNamesAndKeys() {
  PanelHarness h;
  QVERIFY(h.idle());
  // Every control a screen reader lands on says what it is.
  for (QWidget* w : h.panel->findChildren<QWidget*>()) {
    if (!w->isVisibleTo(h.panel.get()) || w->focusPolicy() == Qt::NoFocus || qobject_cast<QScrollBar*>(w)) continue;
    if (w->parent() && qobject_cast<QAbstractSpinBox*>(w->parent())) continue;  // a spin box's own line edit
    if (qobject_cast<QAbstractScrollArea*>(w->parentWidget())) continue;     // viewports
    QVERIFY2(!w->accessibleName().isEmpty() || !w->property("text").toString().isEmpty(),
             qPrintable(QString::fromLatin1(w->metaObject()->className()) + u' ' + w->objectName()));
  }
  // Tab walks from the transcript through the request buttons to the question box.
  QWidget* w = h.panel->findChild<QTextBrowser*>(QStringLiteral("messages"));
  QStringList order;
  for (int i = 0; i < 80 && w && order.size() < 12; ++i) {
    if ((w->focusPolicy() & Qt::TabFocus) && w->isVisibleTo(h.panel.get()) && !w->objectName().isEmpty())
      order << w->objectName();
    w = w->nextInFocusChain();
  }
  QVERIFY2(order.indexOf(QStringLiteral("writeReport")) > 0, qPrintable(order.join(u',')));
  QVERIFY2(order.indexOf(QStringLiteral("question")) > order.indexOf(QStringLiteral("writeReport")), qPrintable(order.join(u',')));
  // Regenerate and copy have keys that work anywhere in the panel.
  h.panel->writeReport();
  QVERIFY(h.idle());
  h.panel->questionBox()->setFocus();
  QTest::keyClick(h.panel->questionBox(), Qt::Key_C, Qt::ControlModifier | Qt::ShiftModifier);
  QCOMPARE(QApplication::clipboard()->text(), QString::fromUtf8(kReportAnswer));
  QTest::keyClick(h.panel->questionBox(), Qt::Key_R, Qt::ControlModifier | Qt::ShiftModifier);
  QVERIFY(h.idle());
  QCOMPARE(h.panel->transcript().exchangeCount(), 1);
  QCOMPARE(h.backend->sendCount(), 2);  // answered again
}

QTEST_MAIN(TestChatPanel)
#include "test_chat_panel.moc"
