// cxr-assistant --run ... --quit-when-done, the whole executable, headless: a report with the tiny
// golden checkpoint (exit 0, exports with the text and the seed), and each way it can fail (exit
// code non-zero, one line on stderr that says why).
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

namespace {

const QString kExe = QStringLiteral(CXR_ASSISTANT_EXE);
const QString kSample = QStringLiteral(CXR_SAMPLE_IMAGE);
const QString kCheckpoint = QStringLiteral(CXR_GOLDEN_CHECKPOINT);

struct Run {
  int exitCode = -1;
  QString out, err;
};

Run runAssistant(const QStringList& args, int timeoutMs = 90000) {
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  env.remove(QStringLiteral("CXR_LLAVA_MODEL"));
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

QString readText(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

}  // namespace

class TestAppBatch : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { QVERIFY2(QFileInfo(kExe).isExecutable(), qPrintable(kExe)); }

  void reportWithTheGoldenCheckpoint() {
    if (!QFileInfo(kCheckpoint + u"/config.json").exists())
      QSKIP(qPrintable(u"no tiny golden checkpoint at " + kCheckpoint));
    QTemporaryDir out;
    const QString pdf = out.filePath(QStringLiteral("report.pdf"));
    const QString txt = out.filePath(QStringLiteral("report.txt"));
    const QString md = out.filePath(QStringLiteral("report.md"));
    const Run r = runAssistant({QStringLiteral("--open"), kSample, QStringLiteral("--model"), kCheckpoint,
                                QStringLiteral("--run"), QStringLiteral("report"), QStringLiteral("--temperature"),
                                QStringLiteral("0"), QStringLiteral("--seed"), QStringLiteral("4242"),
                                QStringLiteral("--export-pdf"), pdf, QStringLiteral("--export-txt"), txt,
                                QStringLiteral("--export-md"), md, QStringLiteral("--quit-when-done")});
    QVERIFY2(r.exitCode == 0, qPrintable(QStringLiteral("exit %1: %2").arg(r.exitCode).arg(r.err)));
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
#include "tst_app_batch.moc"
