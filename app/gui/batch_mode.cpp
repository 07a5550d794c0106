#include "batch_mode.h"

#include "image_budget.h"
#include "model_image_feed.h"

#include "cxr/assistant/model_backend.h"
#include "cxr/viewer/radiograph.h"

#include <QCoreApplication>
#include <QDir>
#include <QTimer>

#include <cstdio>
#include <unistd.h>

namespace cxr::app {

namespace {

void printLine(FILE* stream, const QString& text) {
  std::fputs(text.toLocal8Bit().constData(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

// Engine messages may list several problems on separate lines ("2 problems found:\n  - a\n  - b");
// a script reads one line: "2 problems found: a; b".
QString oneLine(const QString& message) {
  QString out;
  for (QString line : message.split(u'\n')) {
    line = line.trimmed();
    if (line.startsWith(QStringLiteral("- ")))
      line = line.mid(2).trimmed();
    if (line.isEmpty())
      continue;
    if (!out.isEmpty())
      out += out.endsWith(u':') ? QStringLiteral(" ") : QStringLiteral("; ");
    out += line;
  }
  return out;
}

// Qt's own diagnostics (font fallbacks while the PDF is laid out, platform notes) would break the
// promise of one line on stderr; they are shown only to a person at a terminal.
void quietQtMessages(QtMsgType type, const QMessageLogContext&, const QString& message) {
  if (type == QtCriticalMsg || type == QtFatalMsg || isatty(fileno(stderr)))
    printLine(stderr, message);
}

}  // namespace

void installBatchMessageHandler() { qInstallMessageHandler(quietQtMessages); }

cxr::assistant::BatchOptions batchOptions(const AssistantRun& run) {
  cxr::assistant::BatchOptions o;
  o.modelFolder = run.modelFolder;
  o.request = *cxr::assistant::parseRunSpec(run.runSpec);
  if (run.temperature)
    o.sampling.temperature = *run.temperature;
  o.sampling.seed = run.seed;
  o.exportPdf = run.exportPdf;
  o.exportTxt = run.exportTxt;
  o.exportMarkdown = run.exportMarkdown;
  return o;
}

int runBatch(const AssistantRun& run, std::unique_ptr<cxr::assistant::EngineBackend> backend) {
  const cxr::viewer::LoadResult loaded = cxr::viewer::loadRadiograph(run.image, imageLoadOptions());
  if (!loaded.ok()) {
    printLine(stderr, u"cxr-assistant: " + oneLine(loaded.error));
    return CommandLine::kExitBadImage;
  }
  // The model sees the default window of the first frame, as in the window by default.
  const cxr::assistant::ModelImageSource source =
      makeModelImageSource(*loaded.image, /*frame=*/0, std::nullopt);

  cxr::assistant::AssistantEngine engine(backend ? std::move(backend) : cxr::assistant::createModelBackend());
  // A scripted run is kept in the history as the window's are: an exported report's provenance can
  // be found there later. A history that cannot be written is said on stderr and the run goes on; a
  // damaged one is left for the window, where a person sees it and chooses.
  using cxr::assistant::HistoryStore;
  HistoryStore history(HistoryStore::defaultPath(), HistoryStore::Access::ReadWrite,
                       HistoryStore::Repair::LeaveInPlace);
  if (!history.isWritable())
    printLine(stderr, u"cxr-assistant: warning: " +
                          oneLine(history.isOpen() ? history.conditionText()
                                                   : history.errorString() + QStringLiteral(" This run is not kept in the history.")));
  history.setWriteFailureHandler(
      [](const QString& message) { printLine(stderr, u"cxr-assistant: warning: " + oneLine(message)); });
  cxr::assistant::BatchRun batch(engine, source, batchOptions(run));
  batch.setHistory(&history);
  const bool interactive = isatty(fileno(stderr)) != 0;
  QString lastMessage;
  bool streamed = false;
  QObject::connect(&batch, &cxr::assistant::BatchRun::progress, &batch, [&](const QString& line) {
    lastMessage = line;
    if (interactive)
      printLine(stderr, line);
  });
  QObject::connect(&batch, &cxr::assistant::BatchRun::textStreamed, &batch, [&](const QString& chunk) {
    streamed = true;
    std::fputs(chunk.toUtf8().constData(), stdout);
    std::fflush(stdout);
  });
  QObject::connect(&batch, &cxr::assistant::BatchRun::finished, &batch,
                   [](int code) { QCoreApplication::exit(code); });
  QTimer::singleShot(0, &batch, [&batch] { batch.start(); });
  const int code = QCoreApplication::exec();
  if (streamed)
    std::fputc('\n', stdout);
  if (code != 0)
    printLine(stderr, u"cxr-assistant: " + oneLine(lastMessage));
  return code;
}

}  // namespace cxr::app
