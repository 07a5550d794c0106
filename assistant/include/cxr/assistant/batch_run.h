// Scripted use without a person at the window, for
//   cxr-assistant --open IMG --model DIR --run report|differential|ask:QUESTION
//                 --export-pdf OUT.pdf --export-txt OUT.txt [--export-md OUT.md] --quit-when-done
// The app parses its command line, renders the image, and hands it here; BatchRun loads the model,
// runs the request through a ChatSession (the class the chat panel shows), writes the exports and
// emits finished(exitCode).
#pragma once

#include "cxr/assistant/chat_session.h"

#include <QObject>
#include <optional>

namespace cxr::assistant {

struct BatchRequest {
  RequestKind kind = RequestKind::Report;
  QString question;
};
// "report", "differential", "ask:QUESTION". nullopt (with *error set) otherwise.
std::optional<BatchRequest> parseRunSpec(const QString& spec, QString* error = nullptr);

struct BatchOptions {
  QString modelFolder;  // empty: discoverModelFolder()
  LoadSettings load;
  BatchRequest request;
  SamplingSettings sampling;
  QString exportPdf, exportTxt, exportMarkdown;
  ExportDocument::Scope scope = ExportDocument::Scope::Conversation;
  bool includeIdentifying = false;
};

// Exit codes: 0 done, 1 an export could not be written, 2 model missing / failed to load,
// 3 generation failed, 4 stopped.
class BatchRun : public QObject {
  Q_OBJECT
 public:
  BatchRun(AssistantEngine& engine, ModelImageSource image, BatchOptions options, QObject* parent = nullptr);
  void start();
  const Transcript& transcript() const { return session_->transcript(); }
  // Records the run in `history` as the window would (image path and hash, model, sampling, seed,
  // the answer as it streams), so that an exported report's provenance can be found later. Not
  // owned; null (the default) records nothing. Call before start().
  void setHistory(HistoryStore* history);
  qint64 historyConversationId() const { return session_->historyConversationId(); }

 Q_SIGNALS:
  void progress(const QString& line);  // for stderr
  void textStreamed(const QString& chunk);  // for stdout
  void finished(int exitCode);

 private:
  void finish(int code, const QString& message);
  bool writeExports(QString* error);

  AssistantEngine& engine_;
  ModelImageSource image_;
  BatchOptions options_;
  ChatSession* session_;  // a child
  bool done_ = false;
};

}  // namespace cxr::assistant
