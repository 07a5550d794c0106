// History in SQLite: streamed writes survive kill -9, search, reopen, soft delete + undo.
#include "cxr/assistant/history.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>

using namespace cxr::assistant;

class TestHistory : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void streamedAnswerSurvivesKill();
  void finishedAnswerKeepsEverything();
  void searchByTextDateAndImage();
  void softDeleteAndUndo();
  void unwritableLocationSaysWhy();
};

void TestHistory::streamedAnswerSurvivesKill() {
  QTemporaryDir dir;
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  QProcess writer;
  writer.start(QStringLiteral(CXR_HISTORY_WRITER), {db, QStringLiteral("15")});
  QVERIFY2(writer.waitForStarted(10000), qPrintable(writer.errorString()));
  int lastCommitted = 0;
  QString out;
  while (lastCommitted < 12) {
    QVERIFY2(writer.waitForReadyRead(10000), "the writer stopped printing");
    out += QString::fromUtf8(writer.readAllStandardOutput());
    const auto matches = QRegularExpression(QStringLiteral("committed (\\d+)")).globalMatch(out);
    for (auto it = matches; it.hasNext();) lastCommitted = it.next().captured(1).toInt();
  }
  ::kill(pid_t(writer.processId()), SIGKILL);  // no chance to clean up: like a crash
  QVERIFY(writer.waitForFinished(10000));
  out += QString::fromUtf8(writer.readAllStandardOutput());
  for (auto it = QRegularExpression(QStringLiteral("committed (\\d+)")).globalMatch(out); it.hasNext();)
    lastCommitted = it.next().captured(1).toInt();

  HistoryStore store(db);  // "the next start"
  QVERIFY2(store.isOpen(), qPrintable(store.errorString()));
  const auto found = store.search({});
  QCOMPARE(found.size(), 1);
  const auto conv = store.conversation(found[0].id);
  QVERIFY(conv.has_value());
  QCOMPARE(conv->image.path, QStringLiteral("/data/cxr/ünïcode image.png"));
  QCOMPARE(conv->messages.size(), 2);
  QCOMPARE(conv->messages[0].role, QStringLiteral("user"));
  QCOMPARE(conv->messages[0].sentMessage, QStringLiteral("<image>\nWrite a report"));
  const MessageRecord& answer = conv->messages[1];
  QVERIFY(!answer.complete);
  // Every chunk reported as committed is there, in order; at most one more (the one being written).
  QString expected;
  for (int n = 1; n <= lastCommitted; ++n) expected += QStringLiteral("chunk%1 ").arg(n);
  QVERIFY2(answer.content == expected || answer.content == expected + QStringLiteral("chunk%1 ").arg(lastCommitted + 1),
           qPrintable(QStringLiteral("stored %1 chars, printed %2 chunks").arg(answer.content.size()).arg(lastCommitted)));
}

void TestHistory::finishedAnswerKeepsEverything() {
  QTemporaryDir dir;
  HistoryStore store(dir.filePath(QStringLiteral("h.sqlite")));
  QVERIFY(store.isOpen());
  const qint64 conv = store.createConversation(QStringLiteral("Report"), {QStringLiteral("/a.dcm"), QStringLiteral("abc"), QStringLiteral("default window")},
                                               {QStringLiteral("/m"), QStringLiteral("cfg"), QStringLiteral("idx"), QStringLiteral("cpu"), QStringLiteral("bf16")});
  store.addUserMessage(conv, QStringLiteral("Write report"), QStringLiteral("<image>\nWrite report"));
  StreamingRecorder rec(store, CommitPolicy{4, std::chrono::milliseconds(100000)});
  SamplingSettings s;
  rec.begin(conv, s);
  for (const char* chunk : {"No ", "pleural ", "effusion", ". 日本語"}) rec.append(QString::fromUtf8(chunk));
  QCOMPARE(rec.commits(), 1);  // four chunks, one commit with this policy
  AnswerResult result;
  result.text = QString::fromUtf8("No pleural effusion. 日本語");
  result.seed = 123456789012345ULL;
  result.sampling = s;
  result.sampling.seed = result.seed;
  result.timings.decodeTokens = 5;
  result.timings.decodeSeconds = 0.5;
  rec.finish(result);
  const auto r = store.conversation(conv);
  QVERIFY(r);
  QCOMPARE(r->model.configSha256, QStringLiteral("cfg"));
  QCOMPARE(r->image.windowText, QStringLiteral("default window"));
  QCOMPARE(r->messages[1].content, result.text);
  QVERIFY(r->messages[1].complete);
  QCOMPARE(r->messages[1].sampling->seed.value_or(0), 123456789012345ULL);
  QCOMPARE(r->messages[1].sampling->temperature, 0.2);
  QVERIFY(r->messages[1].timingsJson.contains(QStringLiteral("\"decode_tokens\":5")));
  QCOMPARE(r->messages[1].stopReason, QStringLiteral("end of answer"));
}

void TestHistory::searchByTextDateAndImage() {
  QTemporaryDir dir;
  HistoryStore store(dir.filePath(QStringLiteral("h.sqlite")));
  const qint64 a = store.createConversation(QStringLiteral("A"), {QStringLiteral("/data/patient1/chest.dcm"), QString(64, u'1'), {}}, {});
  store.addUserMessage(a, QStringLiteral("Is there a pneumothorax?"), {});
  const qint64 b = store.createConversation(QStringLiteral("B"), {QStringLiteral("/data/patient2/chest.png"), QString(64, u'2'), {}}, {});
  store.addUserMessage(b, QStringLiteral("Écrire un rapport 100%"), {});
  auto ids = [&](const HistoryQuery& q) {
    QList<qint64> out;
    for (const auto& c : store.search(q)) out << c.id;
    return out;
  };
  QCOMPARE(ids({}), (QList<qint64>{b, a}));  // newest first
  QCOMPARE(ids({QStringLiteral("PNEUMOTHORAX"), {}, {}, {}, false}), QList<qint64>{a});
  QCOMPARE(ids({QStringLiteral("Écrire"), {}, {}, {}, false}), QList<qint64>{b});
  QCOMPARE(ids({QStringLiteral("100%"), {}, {}, {}, false}), QList<qint64>{b});  // % is literal
  QCOMPARE(ids({QStringLiteral("0%"), {}, {}, {}, false}), QList<qint64>{b});
  QCOMPARE(ids({{}, QStringLiteral("patient1"), {}, {}, false}), QList<qint64>{a});
  QCOMPARE(ids({{}, QString(64, u'2'), {}, {}, false}), QList<qint64>{b});
  const QDate today = QDateTime::currentDateTimeUtc().date();
  QCOMPARE(ids({{}, {}, today, today, false}).size(), 2);
  QCOMPARE(ids({{}, {}, today.addDays(1), {}, false}).size(), 0);
  QCOMPARE(ids({{}, {}, {}, today.addDays(-1), false}).size(), 0);
}

void TestHistory::softDeleteAndUndo() {
  QTemporaryDir dir;
  HistoryStore store(dir.filePath(QStringLiteral("h.sqlite")));
  const qint64 a = store.createConversation(QStringLiteral("A"), {}, {});
  QVERIFY(store.softDelete(a));
  QVERIFY(store.search({}).isEmpty());
  HistoryQuery withDeleted;
  withDeleted.includeDeleted = true;
  QCOMPARE(store.search(withDeleted).size(), 1);
  QVERIFY(store.undoDelete(a));
  QCOMPARE(store.search({}).size(), 1);
  QVERIFY(store.softDelete(a));
  QCOMPARE(store.purgeDeletedBefore(QDateTime::currentDateTimeUtc().addSecs(5)), 1);
  QVERIFY(!store.undoDelete(a));
}

void TestHistory::unwritableLocationSaysWhy() {
  HistoryStore store(QStringLiteral("/proc/no/such/dir/history.sqlite"));
  QVERIFY(!store.isOpen());
  QVERIFY2(store.errorString().contains(QStringLiteral("history.sqlite")), qPrintable(store.errorString()));
}

QTEST_GUILESS_MAIN(TestHistory)
#include "test_history.moc"
