// ChatSession, the state of one conversation, driven without any widget over the scripted backend:
// transcript and history ids, the image-source policy, regenerate, edit, continuing a stored
// conversation, and failures closing the streaming answer.
#include "cxr/assistant/chat_session.h"
#include "cxr/assistant/scripted_backend.h"
#include "support/image_sources.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace cxr::assistant;
using namespace std::chrono_literals;

namespace {

BackendScript script(std::chrono::milliseconds tokenDelay = 1ms) {
  BackendScript s;
  s.answers = {"Mild cardiomegaly. No pneumothorax.", "Left side.", "Right side.", "Small."};
  s.loadStepDelay = s.visionLayerDelay = s.prefillLayerDelay = 1ms;
  s.tokenDelay = tokenDelay;
  return s;
}

using cxr::test::fakeImageSource;

struct Harness {
  QTemporaryDir dir;
  std::unique_ptr<HistoryStore> history;
  ScriptedBackend* backend = nullptr;
  std::unique_ptr<AssistantEngine> engine;
  std::unique_ptr<ChatSession> session;

  explicit Harness(BackendScript s = script()) {
    history = std::make_unique<HistoryStore>(dir.filePath(QStringLiteral("history.sqlite")));
    auto b = std::make_unique<ScriptedBackend>(std::move(s));
    backend = b.get();
    engine = std::make_unique<AssistantEngine>(std::move(b));
    session = std::make_unique<ChatSession>(*engine, history.get());
    engine->loadModel(QStringLiteral("/models/fake"));
    session->setImageSource(fakeImageSource());
  }
  ~Harness() {
    session.reset();
    engine.reset();
  }
  bool idle() { return QTest::qWaitFor([&] { return !engine->isBusy(); }, 20000); }
  const QList<TranscriptEntry>& entries() const { return session->transcript().entries(); }
};

}  // namespace

class TestChatSession : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void answerStreamsIntoTranscriptAndHistory();
  void onlyTheFirstTurnCarriesTheImage();
  void regenerateReplacesTheLastAnswer();
  void editReplacesTheLastQuestion();
  void imageChoiceAndWindowDrag();
  void anotherFileStartsOver();
  void continuesAConversationFromTheHistory();
  void unansweredStoredConversationIsReadOnly();
  void failureClosesTheStreamingAnswer();
  void withoutHistoryNothingIsStored();
};

void TestChatSession::answerStreamsIntoTranscriptAndHistory() {
  Harness h;
  QVERIFY(h.idle());
  QVERIFY(h.session->canAsk());
  QSignalSpy started(h.session.get(), &ChatSession::answerStarted);
  QSignalSpy chunks(h.session.get(), &ChatSession::chunkAppended);
  QSignalSpy finished(h.session.get(), &ChatSession::answerFinished);
  h.session->ask(RequestKind::Report, {}, SamplingSettings::deterministic());
  QVERIFY(h.idle());
  QCOMPARE(started.count(), 1);
  QCOMPARE(finished.count(), 1);
  // The chunks, appended in order, are the answer: a view that only appends shows it whole.
  QString streamed;
  for (const auto& c : chunks) streamed += c[0].toString();
  QCOMPARE(streamed, QStringLiteral("Mild cardiomegaly. No pneumothorax."));
  QCOMPARE(h.entries().size(), 2);
  QCOMPARE(h.entries()[1].text, streamed);
  QVERIFY(h.entries()[1].result);
  QVERIFY(h.entries()[0].historyId > 0);
  QVERIFY(h.entries()[1].historyId > 0);
  const auto stored = h.history->conversation(h.session->historyConversationId());
  QVERIFY(stored);
  QCOMPARE(stored->image.windowText, QStringLiteral("center 2048, width 4096 (file default)"));
  QCOMPARE(stored->messages.size(), 2);
  QCOMPARE(stored->messages[1].content, streamed);
  QVERIFY(stored->messages[1].complete);
  QVERIFY(h.session->canRegenerate());
}

void TestChatSession::onlyTheFirstTurnCarriesTheImage() {
  Harness h;
  QVERIFY(h.idle());
  h.session->submitQuestion(QStringLiteral("Is there an effusion?"), {});
  QVERIFY(h.idle());
  h.session->submitQuestion(QStringLiteral("Which side?"), {});
  QVERIFY(h.idle());
  QCOMPARE(h.entries().size(), 4);
  QCOMPARE(h.entries()[0].sentMessage, QStringLiteral("<image>\nIs there an effusion?"));
  QCOMPARE(h.entries()[0].text, QStringLiteral("Is there an effusion?"));
  QCOMPARE(h.entries()[2].sentMessage, QStringLiteral("Which side?"));
}

void TestChatSession::regenerateReplacesTheLastAnswer() {
  Harness h;
  QVERIFY(h.idle());
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  h.session->ask(RequestKind::Question, QStringLiteral("Which side?"), {});
  QVERIFY(h.idle());
  const qint64 oldAnswerId = h.entries().last().historyId;
  QSignalSpy reset(h.session.get(), &ChatSession::transcriptReset);
  h.session->regenerate({});
  QCOMPARE(reset.count(), 1);  // the dropped exchange disappears from a view at once
  QVERIFY(h.idle());
  QCOMPARE(h.session->transcript().exchangeCount(), 2);
  QCOMPARE(h.entries()[2].sentMessage, QStringLiteral("Which side?"));
  QCOMPARE(h.entries()[3].text, QStringLiteral("Right side."));
  QVERIFY(h.entries()[3].historyId != oldAnswerId);
  // The history reads as the conversation now does (the superseded turn is hidden).
  const auto stored = h.history->conversation(h.session->historyConversationId());
  QCOMPARE(stored->messages.size(), 4);
  QCOMPARE(stored->messages[3].content, QStringLiteral("Right side."));
}

void TestChatSession::editReplacesTheLastQuestion() {
  Harness h;
  QVERIFY(h.idle());
  h.session->submitQuestion(QStringLiteral("Is there an effusion?"), {});
  QVERIFY(h.idle());
  QCOMPARE(h.session->beginEdit(), QStringLiteral("Is there an effusion?"));
  QVERIFY(h.session->isEditing());
  h.session->submitQuestion(QStringLiteral("Is there a pneumothorax?"), {});
  QVERIFY(h.idle());
  QVERIFY(!h.session->isEditing());
  QCOMPARE(h.session->transcript().exchangeCount(), 1);
  // Still the first turn: the edited question carries the image again.
  QCOMPARE(h.entries()[0].sentMessage, QStringLiteral("<image>\nIs there a pneumothorax?"));
  const auto stored = h.history->conversation(h.session->historyConversationId());
  QCOMPARE(stored->messages.size(), 2);
  QCOMPARE(stored->messages[0].content, QStringLiteral("Is there a pneumothorax?"));
  // Edit, then change one's mind: the next question is a new one.
  h.session->beginEdit();
  h.session->cancelEdit();
  h.session->submitQuestion(QStringLiteral("Which side?"), {});
  QVERIFY(h.idle());
  QCOMPARE(h.session->transcript().exchangeCount(), 2);
}

void TestChatSession::imageChoiceAndWindowDrag() {
  Harness h;
  QVERIFY(h.idle());
  QCOMPARE(h.session->chosenImage(), fakeImageSource().defaultWindow);
  h.session->setImageChoice(ModelImageChoice::CurrentWindow);
  QCOMPARE(h.session->chosenImage(), fakeImageSource().currentWindow);
  QCOMPARE(h.session->chosenWindowText(), QStringLiteral("center 1000, width 500 (on screen)"));
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  QCOMPARE(h.backend->encodeCount(), 1);
  // Dragging the window while a conversation runs keeps it; the new rendering waits.
  QSignalSpy waiting(h.session.get(), &ChatSession::imageWaiting);
  ModelImageSource dragged = fakeImageSource();
  dragged.currentWindow.fill(230);
  dragged.currentWindowText = QStringLiteral("center 1200, width 500 (on screen)");  // the window's identity
  h.session->setImageSource(dragged);
  QCOMPARE(waiting.count(), 1);
  QCOMPARE(h.session->transcript().exchangeCount(), 1);
  h.session->ask(RequestKind::Question, QStringLiteral("And the heart?"), {});
  QVERIFY(h.idle());
  QCOMPARE(h.backend->encodeCount(), 1);
  h.session->newConversation();
  QVERIFY(h.session->transcript().isEmpty());
  QCOMPARE(h.session->historyConversationId(), 0);
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  QCOMPARE(h.backend->encodeCount(), 2);  // now the dragged rendering
  const auto stored = h.history->conversation(h.session->historyConversationId());
  QCOMPARE(stored->image.windowText, QStringLiteral("center 1200, width 500 (on screen)"));
  // Without an on-screen rendering, the default one is used whatever the choice.
  ModelImageSource onlyDefault = fakeImageSource(QStringLiteral("/data/cxr/plain.png"));
  onlyDefault.currentWindow = {};
  h.session->setImageSource(onlyDefault);
  QCOMPARE(h.session->chosenImage(), onlyDefault.defaultWindow);
}

void TestChatSession::anotherFileStartsOver() {
  Harness h;
  QVERIFY(h.idle());
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  const qint64 first = h.session->historyConversationId();
  h.session->setImageSource(fakeImageSource(QStringLiteral("/data/cxr/other.png"), 20));
  QVERIFY(h.session->transcript().isEmpty());
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  QVERIFY(h.session->historyConversationId() != first);
  QCOMPARE(h.backend->encodeCount(), 2);
}

void TestChatSession::continuesAConversationFromTheHistory() {
  Harness h;
  QVERIFY(h.idle());
  h.session->ask(RequestKind::Question, QStringLiteral("Is there a pneumothorax?"), {});
  QVERIFY(h.idle());
  const qint64 id = h.session->historyConversationId();
  h.session->setImageSource(fakeImageSource(QStringLiteral("/data/cxr/other.png"), 20));  // elsewhere
  QVERIFY(h.idle());
  // Reopen: the record's image arrives after the record (the app opens the file meanwhile).
  const auto record = h.history->conversation(id);
  QVERIFY(record);
  h.session->restoreConversation(*record);
  QVERIFY(!h.session->isReadOnlyRestore());
  QCOMPARE(h.session->transcript().exchangeCount(), 1);
  h.session->setImageSource(fakeImageSource());
  QCOMPARE(h.session->transcript().exchangeCount(), 1);  // kept, not wiped by its own image
  QVERIFY(h.idle());
  h.session->submitQuestion(QStringLiteral("Any effusion?"), {});
  QVERIFY(h.idle());
  QCOMPARE(h.session->transcript().exchangeCount(), 2);
  QCOMPARE(h.entries()[2].sentMessage, QStringLiteral("Any effusion?"));  // a follow-up, no image
  QCOMPARE(h.backend->restoreCount(), 1);
  QCOMPARE(h.session->historyConversationId(), id);  // stored with the old turns
  QCOMPARE(h.history->conversation(id)->messages.size(), 4);
}

void TestChatSession::unansweredStoredConversationIsReadOnly() {
  Harness h;
  QVERIFY(h.idle());
  ConversationRecord record;
  record.id = 77;
  record.image = {QStringLiteral("/data/cxr/chest.dcm"), QString(64, u'a'), QString()};
  MessageRecord question;
  question.role = QStringLiteral("user");
  question.content = QStringLiteral("Is there a pneumothorax?");
  question.sentMessage = QStringLiteral("<image>\nIs there a pneumothorax?");
  record.messages = {question};
  h.session->restoreConversation(record);
  QVERIFY(h.session->isReadOnlyRestore());
  QVERIFY(!h.session->canRegenerate());
  QCOMPARE(h.session->historyConversationId(), 0);
  // The next question starts a new conversation on the image.
  h.session->submitQuestion(QStringLiteral("Heart size?"), {});
  QVERIFY(h.idle());
  QCOMPARE(h.session->transcript().exchangeCount(), 1);
  QCOMPARE(h.entries()[0].sentMessage, QStringLiteral("<image>\nHeart size?"));
  QVERIFY(h.session->historyConversationId() != 0);
  QVERIFY(h.session->historyConversationId() != 77);
}

void TestChatSession::failureClosesTheStreamingAnswer() {
  BackendScript s = script();
  s.failSendWith = "the engine ran out of memory";
  Harness h(s);
  QVERIFY(h.idle());
  QSignalSpy failed(h.session.get(), &ChatSession::failed);
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  QCOMPARE(failed.count(), 1);
  QVERIFY(failed[0][0].toString().contains(QStringLiteral("out of memory")));
  QCOMPARE(h.session->lastError(), failed[0][0].toString());
  QVERIFY(!h.session->transcript().isStreaming());  // closed, so the next request can start
  QVERIFY(h.entries().last().result);
  QCOMPARE(int(h.entries().last().result->stopReason), int(cxr::StopReason::Cancelled));
  QVERIFY(h.session->canAsk());
}

void TestChatSession::withoutHistoryNothingIsStored() {
  Harness h;
  h.session->setHistory(nullptr);
  QVERIFY(h.idle());
  h.session->ask(RequestKind::Report, {}, {});
  QVERIFY(h.idle());
  QCOMPARE(h.session->transcript().exchangeCount(), 1);
  QCOMPARE(h.session->historyConversationId(), 0);
  QCOMPARE(h.entries()[0].historyId, 0);
  QVERIFY(h.history->search(HistoryQuery{}).isEmpty());
}

QTEST_GUILESS_MAIN(TestChatSession)
#include "test_chat_session.moc"
