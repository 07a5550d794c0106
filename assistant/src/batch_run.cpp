#include "cxr/assistant/batch_run.h"

#include "cxr/assistant/report_export.h"

#include <QDir>

namespace cxr::assistant {

std::optional<BatchRequest> parseRunSpec(const QString& spec, QString* error) {
  if (spec == QStringLiteral("report")) return BatchRequest{RequestKind::Report, {}};
  if (spec == QStringLiteral("differential")) return BatchRequest{RequestKind::Differential, {}};
  if (spec.startsWith(QStringLiteral("ask:")) && !spec.mid(4).trimmed().isEmpty())
    return BatchRequest{RequestKind::Question, spec.mid(4).trimmed()};
  if (error)
    *error = QStringLiteral("--run expects report, differential or ask:QUESTION, got \"%1\"").arg(spec);
  return std::nullopt;
}

BatchRun::BatchRun(AssistantEngine& engine, ModelImageSource image, BatchOptions options, QObject* parent)
    : QObject(parent),
      engine_(engine),
      image_(std::move(image)),
      options_(std::move(options)),
      session_(new ChatSession(engine_, nullptr, this)) {
  // The session the window would use, seeing the default window (as the window does by default);
  // it hands the image to the engine now and again when the model is loaded (before the request
  // below: it connected first).
  session_->setPreviewsWanted(false);
  session_->setImageSource(image_);
  connect(&engine_, &AssistantEngine::loadProgress, this, [this](double fraction, const QString& stage) {
    Q_EMIT progress(QStringLiteral("loading %1% %2").arg(int(fraction * 100)).arg(stage));
  });
  connect(&engine_, &AssistantEngine::modelLoaded, this, [this](const ModelSummary& summary) {
    Q_EMIT progress(QStringLiteral("model: %1").arg(summary.statusText()));
    session_->ask(options_.request.kind, options_.request.question, options_.sampling);
  });
  connect(&engine_, &AssistantEngine::loadFailed, this, [this](const QString& m) { finish(2, m); });
  connect(&engine_, &AssistantEngine::loadCancelled, this, [this] { finish(4, QStringLiteral("loading was cancelled")); });
  connect(&engine_, &AssistantEngine::phaseProgress, this, [this](Phase phase, int done, int total) {
    Q_EMIT progress(QStringLiteral("%1 %2/%3").arg(phaseName(phase)).arg(done).arg(total));
  });
  connect(session_, &ChatSession::chunkAppended, this, &BatchRun::textStreamed);
  connect(session_, &ChatSession::answerFinished, this, [this](const AnswerResult& result) {
    if (done_) return;  // failed() came first: the failure is the outcome
    QString error;
    if (!writeExports(&error)) finish(1, error);
    else if (result.stopReason == StopReason::Cancelled) finish(4, QStringLiteral("generation was stopped (partial answer exported)"));
    else finish(0, QStringLiteral("done"));
  });
  connect(session_, &ChatSession::failed, this, [this](const QString& m) { finish(3, m); });
}

void BatchRun::setHistory(HistoryStore* history) { session_->setHistory(history); }

void BatchRun::start() {
  if (image_.defaultWindow.isNull()) {
    finish(2, QStringLiteral("no image to run on"));
    return;
  }
  // Destinations are checked before the model loads: a folder given as a file, or one file for two
  // formats, would otherwise be found out (or not at all) minutes later.
  const QString exportProblem = checkExportDestinations({{QStringLiteral("--export-pdf"), options_.exportPdf},
                                                         {QStringLiteral("--export-txt"), options_.exportTxt},
                                                         {QStringLiteral("--export-md"), options_.exportMarkdown}});
  if (!exportProblem.isEmpty()) {
    finish(1, exportProblem);
    return;
  }
  QString folder = options_.modelFolder;
  if (folder.isEmpty()) {
    const auto found = discoverModelFolder();
    if (!found) {
      finish(2, QString::fromStdString(howToGetModel()));
      return;
    }
    folder = QString::fromStdString(*found);
  }
  Q_EMIT progress(QStringLiteral("loading %1").arg(QDir::toNativeSeparators(folder)));
  engine_.loadModel(folder, options_.load);
}

bool BatchRun::writeExports(QString* error) {
  const ExportDocument doc = session_->exportDocument(options_.scope, options_.includeIdentifying);
  if (!options_.exportTxt.isEmpty() && !writeTextFile(toPlainText(doc), options_.exportTxt, error)) return false;
  if (!options_.exportMarkdown.isEmpty() && !writeTextFile(toMarkdown(doc), options_.exportMarkdown, error)) return false;
  if (!options_.exportPdf.isEmpty() && !writePdf(doc, options_.exportPdf, error)) return false;
  return true;
}

void BatchRun::finish(int code, const QString& message) {
  if (done_) return;
  done_ = true;
  Q_EMIT progress(message);
  Q_EMIT finished(code);
}

}  // namespace cxr::assistant
