// Export to TXT / Markdown / PDF: content, anonymisation, Unicode (PDF checked with pdftotext).
#include "cxr/assistant/report_export.h"

#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace cxr::assistant;

namespace {

const QString kAnswer = QString::fromUtf8(
    "The cardiac silhouette is enlarged. No pneumothorax. Cannot exclude a small left pleural effusion.\n"
    "Ελληνικά και кириллица: Ünïcödé çé.");

ExportDocument sampleDocument() {
  Transcript t;
  t.beginExchange(QString::fromUtf8(cxr::prompts::kReport), RequestKind::Report, 0);
  t.appendChunk(kAnswer, 10);
  AnswerResult r;
  r.kind = RequestKind::Report;
  r.userMessage = QString::fromUtf8(cxr::prompts::kReport);
  r.text = kAnswer;
  r.seed = 987654321;
  r.sampling.seed = r.seed;
  r.timings.prefillPositions = 1121;
  r.timings.prefillSeconds = 61.5;
  r.timings.decodeTokens = 80;
  r.timings.decodeSteps = 79;
  r.timings.decodeSeconds = 20;
  t.finish(r);
  t.beginExchange(QStringLiteral("Which side is the effusion on?"), RequestKind::Question, 20);
  AnswerResult r2 = r;
  r2.kind = RequestKind::Question;
  r2.text = QStringLiteral("Left.");
  t.finish(r2);
  ExportDocument doc = makeExportDocument(t, ExportDocument::Scope::Conversation);
  QImage image(200, 240, QImage::Format_Grayscale8);
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) image.scanLine(y)[x] = uchar((x + y) % 256);
  doc.image = image;
  doc.windowText = QStringLiteral("default window: center 2048, width 4096");
  doc.imageSource = {QStringLiteral("/data/DOE_JOHN_2024-01-02.dcm"), QString(64, u'e'), {}};
  doc.model = {QStringLiteral("/models/CXR-LLAVA-v2"), QString(64, u'c'), QString(64, u'w'), QStringLiteral("cpu"), QStringLiteral("bf16")};
  doc.patient = {QStringLiteral("DOE^JOHN"), QStringLiteral("PID-12345"), QStringLiteral("19700101"), QStringLiteral("20240102")};
  return doc;
}

QString pdfText(const QString& pdf) {
  QProcess p;
  p.start(QStringLiteral("pdftotext"), {QStringLiteral("-enc"), QStringLiteral("UTF-8"), pdf, QStringLiteral("-")});
  if (!p.waitForFinished(30000)) return {};
  return QString::fromUtf8(p.readAllStandardOutput());
}

}  // namespace

class TestExport : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void plainTextHoldsEverything();
  void markdownEscapesModelText();
  void reportScopeHasOnlyTheReport();
  void anonymisedByDefault();
  void pdfTextAndUnicode();
  void unwritablePathSaysWhy();
  void exportToAFolderSaysWhy();
  void exportIntoAReadOnlyPlaceSaysWhy();
  void badDestinationsAreFoundBeforeWriting();
};

void TestExport::plainTextHoldsEverything() {
  const QString txt = toPlainText(sampleDocument());
  for (const QString& needle : QStringList
       {kAnswer, QStringLiteral("Left."), QStringLiteral("- Cardiomegaly: present"), QStringLiteral("- Pneumothorax: absent"),
        QStringLiteral("- Pleural effusion: uncertain (\"Cannot exclude a small left pleural effusion.\")"),
        QStringLiteral("- Atelectasis: not mentioned"), QStringLiteral("default window: center 2048, width 4096"),
        QStringLiteral("config.json sha256: ") + QString(64, u'c'), QStringLiteral("Weight index sha256: ") + QString(64, u'w'),
        QStringLiteral("Device / dtype: cpu / bf16"), QStringLiteral("Seed 1: 987654321"),
        QStringLiteral("Prompt 1 (exact): <image>\\nWrite a radiologic report"),
        QStringLiteral("Prompt 2 (exact): Which side is the effusion on?"),
        QStringLiteral("temperature 0.2, top-p 0.8, top-k 50, max new tokens 512"),
        QStringLiteral("prompt 1121 positions"), QStringLiteral("CXR Assistant ") + QStringLiteral(CXR_VERSION_STRING),
        QString::fromUtf8(kResearchDisclaimer), QString::fromUtf8(cxr::prompts::kSystem)})
    QVERIFY2(txt.contains(needle), qPrintable(needle));
}

void TestExport::markdownEscapesModelText() {
  ExportDocument doc = sampleDocument();
  doc.entries[3].text = QStringLiteral("*not bold* and <b>not html</b>");
  const QString md = toMarkdown(doc);
  QVERIFY(md.contains(QStringLiteral("\\*not bold\\* and \\<b\\>not html\\</b\\>")));
  QVERIFY(md.contains(QStringLiteral("| Pneumothorax | absent | No pneumothorax. |")));
  QVERIFY(md.contains(QStringLiteral("## Provenance")));
  QVERIFY(md.contains(QString::fromUtf8("кириллица")));
}

void TestExport::reportScopeHasOnlyTheReport() {
  ExportDocument doc = sampleDocument();
  doc.scope = ExportDocument::Scope::Report;
  const QString txt = toPlainText(doc);
  QVERIFY(txt.contains(kAnswer));
  QVERIFY(!txt.contains(QStringLiteral("Which side")));
  QVERIFY(!txt.contains(QStringLiteral("Left.")));
}

void TestExport::anonymisedByDefault() {
  ExportDocument doc = sampleDocument();
  for (const QString& text : QStringList{toPlainText(doc), toMarkdown(doc), toHtml(doc)}) {
    for (const QString& secret : QStringList{QStringLiteral("DOE"), QStringLiteral("PID-12345"), QStringLiteral("19700101"),
                                  QStringLiteral("20240102"), QStringLiteral("2024-01-02"), QStringLiteral("Exported")})
      QVERIFY2(!text.contains(secret), qPrintable(secret));
    QVERIFY(text.contains(QStringLiteral("anonymised export")));
  }
  doc.includeIdentifying = true;
  const QString txt = toPlainText(doc);
  QVERIFY(txt.contains(QStringLiteral("Patient name: DOE^JOHN")));
  QVERIFY(txt.contains(QStringLiteral("Patient ID: PID-12345")));
  QVERIFY(txt.contains(QStringLiteral("DOE_JOHN_2024-01-02.dcm")));
}

void TestExport::pdfTextAndUnicode() {
  if (QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty())
    QSKIP("pdftotext (poppler-utils) is not installed");
  QTemporaryDir dir;
  const QString keep = qEnvironmentVariable("CXR_EXPORT_KEEP_DIR");  // to look at the PDF yourself
  const QString pdf = (keep.isEmpty() ? dir.path() : keep) + QStringLiteral("/conversation.pdf");
  QString error;
  QVERIFY2(writePdf(sampleDocument(), pdf, &error), qPrintable(error));
  QVERIFY(QFile(pdf).size() > 1000);
  const QString text = pdfText(pdf);
  QVERIFY2(!text.isEmpty(), "pdftotext produced nothing");
  const QString flat = QString(text).replace(u'\n', u' ').simplified();
  for (const QString& needle : QStringList
       {QStringLiteral("The cardiac silhouette is enlarged."), QString::fromUtf8("Ελληνικά και кириллица: Ünïcödé çé."),
        QStringLiteral("Findings checklist"), QStringLiteral("Cardiomegaly present"), QStringLiteral("Pneumothorax absent"),
        QStringLiteral("Pleural effusion uncertain"), QStringLiteral("default window: center 2048, width 4096"),
        QStringLiteral("987654321"), QStringLiteral("Research use only"), QStringLiteral("Provenance")})
    QVERIFY2(flat.contains(needle), qPrintable(needle + QStringLiteral(" not in: ") + flat.left(3000)));
  QVERIFY(!flat.contains(QStringLiteral("DOE")));
}

void TestExport::unwritablePathSaysWhy() {
  QString error;
  QVERIFY(!writeTextFile(QStringLiteral("x"), QStringLiteral("/proc/no/such/report.txt"), &error));
  QVERIFY2(error.contains(QStringLiteral("report.txt")), qPrintable(error));
  QVERIFY(!writePdf(sampleDocument(), QStringLiteral("/proc/no/such/report.pdf"), &error));
  QVERIFY2(error.contains(QStringLiteral("report.pdf")), qPrintable(error));
}

// Issue 12: a PDF export pointed at an existing folder wrote nothing and reported success (the
// folder "existed" with a non-zero size).
void TestExport::exportToAFolderSaysWhy() {
  QTemporaryDir dir;
  QString error;
  QVERIFY(!writePdf(sampleDocument(), dir.path(), &error));
  QVERIFY2(error.contains(dir.path()) && error.contains(u"it is a folder"), qPrintable(error));
  error.clear();
  QVERIFY(!writeTextFile(QStringLiteral("x"), dir.path(), &error));
  QVERIFY2(error.contains(dir.path()) && error.contains(u"it is a folder"), qPrintable(error));
}

// A place nobody may create files in (not even root): /proc. The error names the file.
void TestExport::exportIntoAReadOnlyPlaceSaysWhy() {
  QString error;
  QVERIFY(!writePdf(sampleDocument(), QStringLiteral("/proc/report.pdf"), &error));
  QVERIFY2(error.startsWith(u"Cannot write /proc/report.pdf: "), qPrintable(error));
  QVERIFY(!writeTextFile(QStringLiteral("x"), QStringLiteral("/proc/report.txt"), &error));
  QVERIFY2(error.startsWith(u"Cannot write /proc/report.txt: "), qPrintable(error));
}

void TestExport::badDestinationsAreFoundBeforeWriting() {
  QTemporaryDir dir;
  const QString pdf = dir.filePath(QStringLiteral("r.pdf")), txt = dir.filePath(QStringLiteral("r.txt"));
  QCOMPARE(checkExportDestinations({{QStringLiteral("--export-pdf"), pdf}, {QStringLiteral("--export-txt"), txt},
                                    {QStringLiteral("--export-md"), QString()}}),
           QString());
  QString problem = checkExportDestinations({{QStringLiteral("--export-pdf"), dir.path()}});
  QVERIFY2(problem.startsWith(QStringLiteral("--export-pdf %1 is a folder").arg(dir.path())), qPrintable(problem));
  problem = checkExportDestinations({{QStringLiteral("--export-pdf"), pdf}, {QStringLiteral("--export-md"), pdf}});
  QVERIFY2(problem.startsWith(u"--export-pdf and --export-md both name "), qPrintable(problem));
  // The same file under another name: through a link to the folder.
  QVERIFY(QFile::link(dir.path(), dir.filePath(QStringLiteral("again"))));
  QVERIFY(writeTextFile(QStringLiteral("old"), txt));
  problem = checkExportDestinations({{QStringLiteral("--export-txt"), txt},
                                     {QStringLiteral("--export-md"), dir.filePath(QStringLiteral("again/r.txt"))}});
  QVERIFY2(problem.contains(u"both name"), qPrintable(problem));
  problem = checkExportDestinations({{QStringLiteral("--export-md"), QStringLiteral("/nonexistent/dir/r.md")}});
  QVERIFY2(problem.contains(u"the folder /nonexistent/dir does not exist"), qPrintable(problem));
}

QTEST_MAIN(TestExport)
#include "test_export.moc"
