// cxr-assistant --run ... --quit-when-done, the whole executable, headless: a report with the tiny
// golden checkpoint (exit 0, exports with the text and the seed), and each way it can fail (exit
// code non-zero, one line on stderr that says why).
#include "cxr/assistant/history.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

namespace {

const QString kExe = QStringLiteral(CXR_ASSISTANT_EXE);
const QString kSample = QStringLiteral(CXR_SAMPLE_IMAGE);
const QString kCheckpoint = QStringLiteral(CXR_GOLDEN_CHECKPOINT);

struct Run {
  int exitCode = -1;
  QString out, err;
};

// Each run gets its own HOME (and XDG folders): the history and settings it writes are the test's.
Run runAssistant(const QStringList& args, int timeoutMs = 90000, const QString& home = {}) {
  QTemporaryDir scratch;
  const QString h = home.isEmpty() ? scratch.path() : home;
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  env.remove(QStringLiteral("CXR_LLAVA_MODEL"));
  env.insert(QStringLiteral("HOME"), h);
  env.insert(QStringLiteral("XDG_DATA_HOME"), h + QStringLiteral("/.local/share"));
  env.insert(QStringLiteral("XDG_CONFIG_HOME"), h + QStringLiteral("/.config"));
  env.insert(QStringLiteral("XDG_CACHE_HOME"), h + QStringLiteral("/.cache"));
  p.setProcessEnvironment(env);
  p.start(kExe, args);
  Run r;
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    r.err = QStringLiteral("timed out");
    return r;
  }
  r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

unsigned modeOf(const QString& path) {
  struct stat st {};
  return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? unsigned(st.st_mode & 0777) : 0xffffu;
}

QString historyIn(const QString& home) {
  return home + QStringLiteral("/.local/share/CXR Assistant/cxr-assistant/history.sqlite");
}

QString readText(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

}  // namespace

class TestAppBatch : public QObject {
  Q_OBJECT
  QTemporaryDir reportHome_;
  Run reportRun_;

 private Q_SLOTS:
  void initTestCase() { QVERIFY2(QFileInfo(kExe).isExecutable(), qPrintable(kExe)); }

  void reportWithTheGoldenCheckpoint() {
    if (!QFileInfo(kCheckpoint + u"/config.json").exists())
      QSKIP(qPrintable(u"no tiny golden checkpoint at " + kCheckpoint));
    QTemporaryDir& out = reportHome_;  // also its HOME: scriptedRunIsKeptInTheHistory reads its history
    const QString pdf = out.filePath(QStringLiteral("report.pdf"));
    const QString txt = out.filePath(QStringLiteral("report.txt"));
    const QString md = out.filePath(QStringLiteral("report.md"));
    const Run r = runAssistant({QStringLiteral("--open"), kSample, QStringLiteral("--model"), kCheckpoint,
                                QStringLiteral("--run"), QStringLiteral("report"), QStringLiteral("--temperature"),
                                QStringLiteral("0"), QStringLiteral("--seed"), QStringLiteral("4242"),
                                QStringLiteral("--export-pdf"), pdf, QStringLiteral("--export-txt"), txt,
                                QStringLiteral("--export-md"), md, QStringLiteral("--quit-when-done")},
                               90000, out.path());
    QVERIFY2(r.exitCode == 0, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
    reportRun_ = r;
    const QString generated = r.out.trimmed();  // the answer, streamed to stdout
    QVERIFY2(!generated.isEmpty(), "nothing was generated");
    const QString text = readText(txt);
    QVERIFY2(text.contains(generated), qPrintable(text));
    QVERIFY2(text.contains(u"4242"), "the seed is not in the text export");
    // Markdown escapes punctuation; its first word is enough to know the answer is there.
    const QString md1 = readText(md);
    QVERIFY2(md1.contains(generated.section(u' ', 0, 0)), qPrintable(md1.left(2000)));
    QVERIFY2(md1.contains(u"4242"), "the seed is not in the Markdown export");
    QVERIFY(QFileInfo(pdf).size() > 0);
    const QString pdftotext = QStandardPaths::findExecutable(QStringLiteral("pdftotext"));
    if (pdftotext.isEmpty())
      QSKIP("pdftotext (poppler-utils) is not installed: the PDF's text is not checked");
    QProcess p;
    p.start(pdftotext, {QStringLiteral("-layout"), pdf, QStringLiteral("-")});
    QVERIFY(p.waitForFinished(30000));
    const QString pdfText = QString::fromUtf8(p.readAllStandardOutput());
    // The PDF breaks lines where it likes; compare the first words of the answer.
    const QString firstWords = generated.section(u' ', 0, 2).simplified();
    QVERIFY2(pdfText.contains(u"Findings") || pdfText.simplified().contains(firstWords), qPrintable(pdfText.left(2000)));
    QVERIFY2(pdfText.contains(u"4242"), "the seed is not in the PDF");
  }

  // Before: --quit-when-done runs wrote no history, so an exported report's provenance could not be
  // found later. Now the run is kept as the window keeps one: image path and hash, model, seed, text.
  void scriptedRunIsKeptInTheHistory() {
    if (reportRun_.exitCode != 0)
      QSKIP("the report run above did not complete");
    cxr::assistant::HistoryStore history(historyIn(reportHome_.path()));
    QVERIFY2(history.isOpen(), qPrintable(history.conditionText()));
    const auto found = history.search({});
    QCOMPARE(found.size(), 1);
    const auto conv = history.conversation(found[0].id);
    QVERIFY(conv);
    QCOMPARE(conv->image.path, QFileInfo(kSample).absoluteFilePath());
    QCOMPARE(conv->image.sha256.size(), 64);
    QCOMPARE(QFileInfo(conv->model.folder).canonicalFilePath(), QFileInfo(kCheckpoint).canonicalFilePath());
    QVERIFY(!conv->model.configSha256.isEmpty());
    QCOMPARE(conv->messages.size(), 2);
    QCOMPARE(conv->messages[1].content.trimmed(), reportRun_.out.trimmed());
    QVERIFY(conv->messages[1].complete);
    QCOMPARE(conv->messages[1].sampling->seed.value_or(0), 4242ULL);
  }

  // Before: the history, its -wal/-shm and the settings file were 0644 in 0755 folders, readable by
  // every local user. Now the folders are 0700 and the files 0600 whatever the umask, and looser
  // ones left by an earlier version are tightened at the next start.
  void filesHoldingPathsAreOwnerOnly() {
    QTemporaryDir home;
    const mode_t old = ::umask(022);
    const QString shot = home.filePath(QStringLiteral("shot.png"));
    const QStringList gui{kSample, QStringLiteral("--screenshot"), shot, QStringLiteral("--screenshot-delay"), QStringLiteral("100")};
    Run r = runAssistant(gui, 60000, home.path());
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QString db = historyIn(home.path());
    const QString settings = home.filePath(QStringLiteral(".config/CXR Assistant/cxr-assistant.conf"));
    QCOMPARE(modeOf(QFileInfo(db).absolutePath()), 0700u);
    QCOMPARE(modeOf(home.filePath(QStringLiteral(".local/share/CXR Assistant"))), 0700u);
    QCOMPARE(modeOf(db), 0600u);
    QCOMPARE(modeOf(QFileInfo(settings).absolutePath()), 0700u);
    QCOMPARE(modeOf(settings), 0600u);

    // As an earlier version left them.
    for (const QString& file : {db, settings})
      QVERIFY(::chmod(QFile::encodeName(file).constData(), 0644) == 0);
    for (const QString& folder : {QFileInfo(db).absolutePath(), QFileInfo(settings).absolutePath()})
      QVERIFY(::chmod(QFile::encodeName(folder).constData(), 0755) == 0);
    r = runAssistant(gui, 60000, home.path());
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    ::umask(old);
    QCOMPARE(modeOf(db), 0600u);
    QCOMPARE(modeOf(settings), 0600u);
    QCOMPARE(modeOf(QFileInfo(db).absolutePath()), 0700u);
    QCOMPARE(modeOf(QFileInfo(settings).absolutePath()), 0700u);
  }

  // Issue 12: a question that fills the context gave an empty answer, empty exports and exit 0.
  void questionThatFillsTheContextFails() {
    if (!QFileInfo(kCheckpoint + u"/config.json").exists())
      QSKIP(qPrintable(u"no tiny golden checkpoint at " + kCheckpoint));
    QTemporaryDir out;
    const QString txt = out.filePath(QStringLiteral("answer.txt"));
    QString question = QStringLiteral("ask:Describe");
    for (int i = 0; i < 2100; ++i)  // more than the 2048 ids of the reference's context
      question += QStringLiteral(" lung");
    const Run r = runAssistant({QStringLiteral("--open"), kSample, QStringLiteral("--model"), kCheckpoint,
                                QStringLiteral("--run"), question, QStringLiteral("--temperature"), QStringLiteral("0"),
                                QStringLiteral("--export-txt"), txt, QStringLiteral("--quit-when-done")});
    QVERIFY2(r.exitCode == 3, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
    const QStringList lines = r.err.trimmed().split(u'\n');
    QVERIFY2(lines.size() == 1 && lines.first().startsWith(u"cxr-assistant: The question is "), qPrintable(r.err));
    QVERIFY2(lines.first().contains(u"Shorten it or start a new conversation."), qPrintable(r.err));
    QVERIFY2(r.out.trimmed().isEmpty(), qPrintable(r.out));
    QVERIFY2(!QFileInfo::exists(txt), "no export of an answer that was never given");
  }

  // Issue 12: an export path that is a folder, or one file for two formats, is refused before the
  // model loads (exit 2, the reason first on stderr); nothing is written.
  void badExportDestinationsAreRefusedUpFront_data() {
    QTest::addColumn<QStringList>("exports");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("pdf into an existing folder") << QStringList{QStringLiteral("--export-pdf"), QStringLiteral("@")}
                                                 << QStringLiteral("is a folder");
    QTest::newRow("txt and md in one file")
        << QStringList{QStringLiteral("--export-txt"), QStringLiteral("@/a.out"), QStringLiteral("--export-md"), QStringLiteral("@/a.out")}
        << QStringLiteral("--export-txt and --export-md both name");
  }
  void badExportDestinationsAreRefusedUpFront() {
    QFETCH(QStringList, exports);
    QFETCH(QString, mentions);
    QTemporaryDir out;
    for (QString& a : exports)
      a.replace(u'@', out.path());
    const Run r = runAssistant(QStringList{QStringLiteral("--open"), kSample, QStringLiteral("--model"), kCheckpoint,
                                           QStringLiteral("--run"), QStringLiteral("report"), QStringLiteral("--quit-when-done")} +
                               exports);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.startsWith(u"cxr-assistant: --export-") && r.err.section(u'\n', 0, 0).contains(mentions), qPrintable(r.err));
    QVERIFY2(QDir(out.path()).isEmpty(), "nothing is written");
  }

  // Every failure: a non-zero exit code and exactly one line on stderr that says why.
  void failuresExplainThemselvesInOneLine_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("mentions");
    const QString cmake = QStringLiteral(CXR_NOT_AN_IMAGE);
    QTest::newRow("model folder does not exist")
        << QStringList{QStringLiteral("--open"), kSample, QStringLiteral("--model"), QStringLiteral("/nonexistent/cxr-model"),
                       QStringLiteral("--run"), QStringLiteral("report"), QStringLiteral("--quit-when-done")}
        << 2 << QStringLiteral("/nonexistent/cxr-model");
    QTest::newRow("model folder is not a model")
        << QStringList{QStringLiteral("--open"), kSample, QStringLiteral("--model"), QStringLiteral(CXR_TEST_DATA_DIR),
                       QStringLiteral("--run"), QStringLiteral("report"), QStringLiteral("--quit-when-done")}
        << 2 << QStringLiteral(CXR_TEST_DATA_DIR);
    QTest::newRow("not an image")
        << QStringList{QStringLiteral("--open"), cmake, QStringLiteral("--model"), QStringLiteral("/nonexistent"),
                       QStringLiteral("--run"), QStringLiteral("report"), QStringLiteral("--quit-when-done")}
        << 5 << QStringLiteral("CMakeLists.txt");
  }
  void failuresExplainThemselvesInOneLine() {
    QFETCH(QStringList, args);
    QFETCH(int, exitCode);
    QFETCH(QString, mentions);
    const Run r = runAssistant(args, 60000);
    QCOMPARE(r.exitCode, exitCode);
    const QStringList lines = r.err.trimmed().split(u'\n');
    QVERIFY2(lines.size() == 1, qPrintable(r.err));
    QVERIFY2(lines.first().startsWith(u"cxr-assistant: "), qPrintable(r.err));
    QVERIFY2(lines.first().contains(mentions), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestAppBatch)
#include "test_app_batch.moc"
