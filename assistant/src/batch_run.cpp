#include "cxr/assistant/batch_run.h"

#include "cxr/assistant/findings.h"
#include "cxr/assistant/prompting.h"
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
    : QObject(parent), engine_(engine), image_(std::move(image)), options_(std::move(options)) {
  clock_.start();
  connect(&engine_, &AssistantEngine::loadProgress, this, [this](double fraction, const QString& stage) {
    Q_EMIT progress(QStringLiteral("loading %1% %2").arg(int(fraction * 100)).arg(stage));
  });
  connect(&engine_, &AssistantEngine::modelLoaded, this, [this](const ModelSummary& summary) {
    Q_EMIT progress(QStringLiteral("model: %1").arg(summary.statusText()));
    engine_.setImage(toImageInput(image_.defaultWindow));
    engine_.ask(options_.request.kind, options_.request.question, options_.sampling);
  });
  connect(&engine_, &AssistantEngine::loadFailed, this, [this](const QString& m) { finish(2, m); });
  connect(&engine_, &AssistantEngine::loadCancelled, this, [this] { finish(4, QStringLiteral("loading was cancelled")); });
  connect(&engine_, &AssistantEngine::answerStarted, this, [this](const QString& sent, RequestKind kind) {
    transcript_.beginExchange(sent, kind, clock_.elapsed());
    if (history_ && history_->isWritable()) {  // a failed write reaches the store's failure handler
      conversationId_ = history_->createConversation(displayedUserMessage(sent).left(80),
                                                     {image_.filePath, image_.sha256, image_.defaultWindowText},
                                                     ModelIdentity::from(engine_.model().info));
      if (conversationId_ && history_->addUserMessage(conversationId_, displayedUserMessage(sent), sent)) {
        recorder_ = std::make_unique<StreamingRecorder>(*history_);
        recorder_->begin(conversationId_, options_.sampling);
      }
    }
  });
  connect(&engine_, &AssistantEngine::phaseProgress, this, [this](Phase phase, int done, int total) {
    Q_EMIT progress(QStringLiteral("%1 %2/%3").arg(phaseName(phase)).arg(done).arg(total));
  });
  connect(&engine_, &AssistantEngine::tokenStreamed, this, [this](const QString& chunk, int) {
    transcript_.appendChunk(chunk, clock_.elapsed());
    if (recorder_) recorder_->append(chunk);
    Q_EMIT textStreamed(chunk);
  });
  connect(&engine_, &AssistantEngine::answerFinished, this, [this](const AnswerResult& result) {
    transcript_.finish(result);
    if (recorder_) recorder_->finish(result);
    QString error;
    if (!writeExports(&error)) finish(1, error);
    else if (result.stopReason == StopReason::Cancelled) finish(4, QStringLiteral("generation was stopped (partial answer exported)"));
    else finish(0, QStringLiteral("done"));
  });
  connect(&engine_, &AssistantEngine::failed, this, [this](const QString& m) { finish(3, m); });
}

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
  ExportDocument doc = makeExportDocument(transcript_, options_.scope);
  doc.image = image_.defaultWindow;
  doc.windowText = image_.defaultWindowText;
  doc.imageDescription = image_.description;
  doc.imageSource = {image_.filePath, image_.sha256, image_.defaultWindowText};
  doc.model = ModelIdentity::from(engine_.model().info);
  doc.includeIdentifying = options_.includeIdentifying;
  doc.patient = image_.patient;
  if (!options_.exportTxt.isEmpty() && !writeTextFile(toPlainText(doc), options_.exportTxt, error)) return false;
  if (!options_.exportMarkdown.isEmpty() && !writeTextFile(toMarkdown(doc), options_.exportMarkdown, error)) return false;
  if (!options_.exportPdf.isEmpty() && !writePdf(doc, options_.exportPdf, error)) return false;
  return true;
}

void BatchRun::finish(int code, const QString& message) {
  if (done_) return;
  done_ = true;
  if (recorder_ && recorder_->active()) recorder_->flush();  // a failed answer stays, marked incomplete
  Q_EMIT progress(message);
  Q_EMIT finished(code);
}

}  // namespace cxr::assistant
