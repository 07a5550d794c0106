// History in SQLite: streamed writes survive kill -9, search, reopen, soft delete + undo; and it
// never loses a conversation silently: a truncated (0-byte), damaged, read-only or unwritable
// history is detected, kept aside, read where it can be, and said (files generated here).
#include "cxr/assistant/history.h"

#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <sys/stat.h>
#include <unistd.h>

using namespace cxr::assistant;

class TestHistory : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void streamedAnswerSurvivesKill();
  void finishedAnswerKeepsEverything();
  void searchByTextDateAndImage();
  void softDeleteAndUndo();
  void unwritableLocationSaysWhy();
  void zeroByteHistoryIsKeptAsideAndSaid();
  void keepAsideTakesWalAndShmAndNeverOverwrites();
  void corruptPagesAreFoundAtOpenAndKeptAside();
  void damagedHistoryCanBeReadOrReplaced();
  void scriptedRunLeavesADamagedHistoryForTheWindow();
  void failedWriteIsReported();
  void readOnlyFileOpensForReadingAndSaysSo();
  void readOnlyFolderOpensForReadingAndSaysSo();
  void historyFilesAreOwnerOnly();
  void looserExistingFilesAreTightened();
};

namespace {

const QRegularExpression kAsideName(QStringLiteral("history\\.sqlite\\.damaged-\\d{8}-\\d{6}(-\\d+)?$"));

// A healthy history with `n` conversations of a question and a long answer (many pages).
void writeHistory(const QString& path, int n) {
  HistoryStore store(path);
  QVERIFY2(store.isWritable(), qPrintable(store.conditionText()));
  for (int i = 0; i < n; ++i) {
    const qint64 c = store.createConversation(QStringLiteral("Report %1").arg(i), {QStringLiteral("/data/p%1.dcm").arg(i), QString(64, u'a'), {}}, {});
    store.addUserMessage(c, QStringLiteral("Write a report"), QStringLiteral("<image>\nWrite a report"));
    const qint64 m = store.beginAssistantMessage(c, SamplingSettings{});
    store.appendToMessage(m, QStringLiteral("No acute cardiopulmonary abnormality. ").repeated(60));
  }
}

// Overwrites pages [first, first + count) of a 4096-byte-page SQLite file with random bytes; the
// header (page 1) stays intact, so SQLite opens the file without complaint.
void corruptPages(const QString& path, int first, int count) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::ReadWrite));
  QVERIFY2(f.size() >= qint64(first + count) * 4096, qPrintable(QString::number(f.size())));
  QByteArray garbage(count * 4096, Qt::Uninitialized);
  QRandomGenerator rng(1234);
  for (auto& b : garbage) b = char(rng.generate() & 0xff);
  QVERIFY(f.seek(qint64(first) * 4096));
  QCOMPARE(f.write(garbage), qint64(garbage.size()));
}

unsigned modeOf(const QString& path) {
  struct stat st {};
  return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? unsigned(st.st_mode & 0777) : 0xffffu;
}

// File modes do not stop root: when the test runs as root, the read-only cases run with the
// effective user "nobody" (the real user stays root, so it can switch back).
struct AsUnprivilegedUser {
  bool switched = false;
  AsUnprivilegedUser() {
    if (::geteuid() == 0) switched = ::setegid(65534) == 0 && ::seteuid(65534) == 0;
  }
  ~AsUnprivilegedUser() {
    if (switched) {
      [[maybe_unused]] const int a = ::seteuid(0);
      [[maybe_unused]] const int b = ::setegid(0);
    }
  }
};

}  // namespace

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

// Before: SQLite read the empty file as an empty database and the four conversations it had held
// were gone without a word. Now the empty file is kept aside, a new history is started, and the
// condition says both.
void TestHistory::zeroByteHistoryIsKeptAsideAndSaid() {
  QTemporaryDir dir;
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  QStringList kept;
  for (int round = 0; round < 2; ++round) {  // twice in the same second: the first copy is not overwritten
    { QFile f(db); QVERIFY(f.open(QIODevice::WriteOnly)); }
    QCOMPARE(QFileInfo(db).size(), qint64(0));
    HistoryStore store(db);
    QCOMPARE(store.condition(), HistoryCondition::Truncated);
    QVERIFY2(kAsideName.match(store.keptAsidePath()).hasMatch(), qPrintable(store.keptAsidePath()));
    QVERIFY(QFileInfo(store.keptAsidePath()).isFile());
    QCOMPARE(QFileInfo(store.keptAsidePath()).size(), qint64(0));
    const QString text = store.conditionText();
    QVERIFY2(text.contains(u"0 bytes") && text.contains(db) && text.contains(store.keptAsidePath()), qPrintable(text));
    QVERIFY(store.isWritable());  // a new history was started in its place
    QVERIFY(store.createConversation(QStringLiteral("after"), {}, {}) > 0);
    kept << store.keptAsidePath();
  }
  QVERIFY(kept[0] != kept[1]);
  QVERIFY(QFileInfo::exists(kept[0]) && QFileInfo::exists(kept[1]));
  QVERIFY(QFileInfo(db).size() > 0);
}

// The -wal and -shm files go with the database (SQLite finds them by name); a name already taken
// is never reused.
void TestHistory::keepAsideTakesWalAndShmAndNeverOverwrites() {
  QTemporaryDir dir;
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  QStringList kept;
  for (int round = 0; round < 3; ++round) {
    for (const QString& suffix : {QString(), QStringLiteral("-wal"), QStringLiteral("-shm")}) {
      QFile f(db + suffix);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(QByteArray::number(round) + suffix.toLatin1());
    }
    QString error;
    const QString aside = HistoryStore::keepAside(db, &error);
    QVERIFY2(kAsideName.match(aside).hasMatch(), qPrintable(aside + error));
    for (const QString& suffix : {QString(), QStringLiteral("-wal"), QStringLiteral("-shm")}) {
      QVERIFY(!QFileInfo::exists(db + suffix));
      QFile f(aside + suffix);
      QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(aside + suffix));
      QCOMPARE(f.readAll(), QByteArray::number(round) + suffix.toLatin1());
    }
    kept << aside;
  }
  QCOMPARE(QSet<QString>(kept.begin(), kept.end()).size(), 3);
}

// Before: the header was intact, so the history opened as healthy and every later write failed
// unseen. Now quick_check finds the damage at open; the file (and its -wal/-shm) is kept aside.
void TestHistory::corruptPagesAreFoundAtOpenAndKeptAside() {
  QTemporaryDir dir;
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  writeHistory(db, 60);
  const qint64 size = QFileInfo(db).size();
  QVERIFY2(size > 40 * 4096, qPrintable(QString::number(size)));
  corruptPages(db, 10, 6);

  HistoryStore store(db);
  QCOMPARE(store.condition(), HistoryCondition::Damaged);
  QVERIFY(!store.isOpen());
  QVERIFY(!store.isWritable());
  QVERIFY(!QFileInfo::exists(db));
  const QString aside = store.keptAsidePath();
  QVERIFY2(kAsideName.match(aside).hasMatch(), qPrintable(aside));
  QCOMPARE(QFileInfo(aside).size(), size);
  const QString text = store.conditionText();
  QVERIFY2(text.contains(u"damaged") && text.contains(db) && text.contains(aside) && text.contains(u"not saved"),
           qPrintable(text));
  QCOMPARE(store.createConversation(QStringLiteral("lost?"), {}, {}), qint64(0));
}

// The user's two choices: read what can be read of the copy kept aside, or start a new history.
void TestHistory::damagedHistoryCanBeReadOrReplaced() {
  QTemporaryDir dir;
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  writeHistory(db, 60);
  corruptPages(db, 20, 4);
  const qint64 size = QFileInfo(db).size();
  HistoryStore store(db);
  QCOMPARE(store.condition(), HistoryCondition::Damaged);
  const QString aside = store.keptAsidePath();

  QVERIFY2(store.openKeptAsideReadOnly(), qPrintable(store.errorString()));
  QVERIFY(store.isOpen());
  QVERIFY(!store.isWritable());
  QCOMPARE(store.condition(), HistoryCondition::ReadOnly);
  QCOMPARE(store.path(), aside);
  QVERIFY2(store.readOnlyReason().contains(aside), qPrintable(store.readOnlyReason()));
  const auto found = store.search({});
  // What is readable is shown; what is not is said.
  QVERIFY2(!found.isEmpty() || !store.readError().isEmpty(), "neither rows nor a reason");
  QCOMPARE(store.createConversation(QStringLiteral("x"), {}, {}), qint64(0));
  QCOMPARE(QFileInfo(aside).size(), size);  // reading changed nothing

  QVERIFY2(store.startNewHistory(), qPrintable(store.errorString()));
  QCOMPARE(store.condition(), HistoryCondition::Healthy);
  QVERIFY(store.isWritable());
  QCOMPARE(store.path(), db);
  QVERIFY(store.search({}).isEmpty());
  QVERIFY(store.createConversation(QStringLiteral("new"), {}, {}) > 0);
  QVERIFY(QFileInfo::exists(aside));  // still there, untouched
}

// A scripted run (Repair::LeaveInPlace) saves nothing into a damaged or truncated history and
// moves nothing: the window's next start finds it, keeps it aside and tells the user.
void TestHistory::scriptedRunLeavesADamagedHistoryForTheWindow() {
  QTemporaryDir dir;
  const QString truncated = dir.filePath(QStringLiteral("empty.sqlite"));
  { QFile f(truncated); QVERIFY(f.open(QIODevice::WriteOnly)); }
  const QString damaged = dir.filePath(QStringLiteral("damaged.sqlite"));
  writeHistory(damaged, 60);
  corruptPages(damaged, 10, 4);
  for (const QString& db : {truncated, damaged}) {
    const qint64 size = QFileInfo(db).size();
    {
      HistoryStore store(db, HistoryStore::Access::ReadWrite, HistoryStore::Repair::LeaveInPlace);
      QCOMPARE(store.condition(), HistoryCondition::Damaged);
      QVERIFY(!store.isWritable());
      QVERIFY(store.keptAsidePath().isEmpty());
      QVERIFY2(store.conditionText().contains(db), qPrintable(store.conditionText()));
    }
    QCOMPARE(QFileInfo(db).size(), size);
    HistoryStore window(db);  // the window's next start
    QVERIFY(!window.keptAsidePath().isEmpty());
  }
}

// Before: every write's result was ignored. Now a failed write (here: another program holds the
// write lock past the busy timeout) reaches the failure handler with the file's name.
void TestHistory::failedWriteIsReported() {
  QTemporaryDir dir;
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  HistoryStore store(db);
  QVERIFY(store.isWritable());
  QStringList reported;
  store.setWriteFailureHandler([&](const QString& m) { reported << m; });
  {
    QSqlDatabase other = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("other"));
    other.setDatabaseName(db);
    QVERIFY(other.open());
    QSqlQuery lock(other);
    QVERIFY(lock.exec(QStringLiteral("BEGIN IMMEDIATE")));
    QCOMPARE(store.createConversation(QStringLiteral("blocked"), {}, {}), qint64(0));
    QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
    other.close();
  }
  QSqlDatabase::removeDatabase(QStringLiteral("other"));
  QCOMPARE(reported.size(), 1);
  QVERIFY2(reported[0].contains(db) && reported[0].contains(u"Could not save"), qPrintable(reported[0]));
  QCOMPARE(store.condition(), HistoryCondition::WriteFailed);
  QVERIFY2(store.conditionText().contains(u"export it"), qPrintable(store.conditionText()));
  QVERIFY(store.createConversation(QStringLiteral("later"), {}, {}) > 0);  // the lock is gone: saving works again
}

// Before: a read-only history stayed "enabled" and nothing was saved, silently. Now it opens for
// reading, says why nothing is saved, and the file stays where it is.
void TestHistory::readOnlyFileOpensForReadingAndSaysSo() {
  QTemporaryDir dir;
  QVERIFY(QFile::setPermissions(dir.path(), QFile::Permissions(0x7777)));  // others may create -shm here
  const QString db = dir.filePath(QStringLiteral("history.sqlite"));
  writeHistory(db, 3);
  QVERIFY(QFile::setPermissions(db, QFile::ReadOwner | QFile::ReadGroup | QFile::ReadOther));
  {
    AsUnprivilegedUser user;
    HistoryStore store(db);
    QCOMPARE(store.condition(), HistoryCondition::ReadOnly);
    QVERIFY(store.isOpen());
    QVERIFY(!store.isWritable());
    QVERIFY2(store.readOnlyReason().contains(u"read-only"), qPrintable(store.readOnlyReason()));
    QVERIFY2(store.conditionText().contains(u"not saved"), qPrintable(store.conditionText()));
    QCOMPARE(store.search({}).size(), 3);
    QCOMPARE(store.createConversation(QStringLiteral("x"), {}, {}), qint64(0));
  }
  QVERIFY(QFileInfo::exists(db));
}

void TestHistory::readOnlyFolderOpensForReadingAndSaysSo() {
  QTemporaryDir dir;
  const QString folder = dir.filePath(QStringLiteral("ro"));
  QVERIFY(QDir().mkpath(folder));
  const QString db = folder + QStringLiteral("/history.sqlite");
  writeHistory(db, 2);
  QVERIFY(QFile::setPermissions(dir.path(), QFile::Permissions(0x7755)));
  QVERIFY(QFile::setPermissions(db, QFile::Permissions(0x6666)));
  QVERIFY(QFile::setPermissions(folder, QFile::Permissions(0x5555)));
  {
    AsUnprivilegedUser user;
    HistoryStore store(db);
    QCOMPARE(store.condition(), HistoryCondition::ReadOnly);
    QVERIFY2(store.readOnlyReason().contains(u"folder"), qPrintable(store.readOnlyReason()));
    QCOMPARE(store.search({}).size(), 2);
    QCOMPARE(store.createConversation(QStringLiteral("x"), {}, {}), qint64(0));
  }
  QVERIFY(QFile::setPermissions(folder, QFile::Permissions(0x7700)));  // so that the temporary folder can go
}

// The folders it creates are 0700, the database and its -wal/-shm 0600, whatever the umask.
void TestHistory::historyFilesAreOwnerOnly() {
  QTemporaryDir dir;
  const mode_t old = ::umask(022);
  const QString db = dir.filePath(QStringLiteral("new/sub/history.sqlite"));
  {
    HistoryStore store(db);
    QVERIFY(store.isWritable());
    QVERIFY(store.createConversation(QStringLiteral("c"), {}, {}) > 0);
    QCOMPARE(modeOf(dir.filePath(QStringLiteral("new"))), 0700u);
    QCOMPARE(modeOf(dir.filePath(QStringLiteral("new/sub"))), 0700u);
    QCOMPARE(modeOf(db), 0600u);
    QVERIFY(QFileInfo::exists(db + QStringLiteral("-wal")));
    QCOMPARE(modeOf(db + QStringLiteral("-wal")), 0600u);
    QCOMPARE(modeOf(db + QStringLiteral("-shm")), 0600u);
  }
  ::umask(old);
}

// Files made by an earlier version (0644 in 0755 folders) are tightened at the next start, and the
// log says so.
void TestHistory::looserExistingFilesAreTightened() {
  QTemporaryDir dataHome;
  qputenv("XDG_DATA_HOME", QFile::encodeName(dataHome.path()));
  const QString db = HistoryStore::defaultPath();
  QVERIFY2(db.startsWith(dataHome.path()), qPrintable(db));
  const QString folder = QFileInfo(db).absolutePath();
  writeHistory(db, 1);
  QVERIFY(QFile::setPermissions(folder, QFile::Permissions(0x7755)));
  QVERIFY(QFile::setPermissions(db, QFile::Permissions(0x6644)));
  QTest::ignoreMessage(QtInfoMsg, QRegularExpression(QStringLiteral("Tightened the permissions of .*history\\.sqlite from 0644 to 0600")));
  QTest::ignoreMessage(QtInfoMsg, QRegularExpression(QStringLiteral("Tightened the permissions of .* from 0755 to 0700")));
  HistoryStore store(db);
  QVERIFY(store.isWritable());
  QCOMPARE(modeOf(db), 0600u);
  QCOMPARE(modeOf(folder), 0700u);
  qunsetenv("XDG_DATA_HOME");
}

QTEST_GUILESS_MAIN(TestHistory)
#include "test_history.moc"
