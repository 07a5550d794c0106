#include "cxr/assistant/prompting.h"

namespace cxr::assistant {
namespace {
const QString kImagePrefix = QStringLiteral("<image>\n");

QString withoutImagePrefix(const QString& text) {
  return text.startsWith(kImagePrefix) ? text.mid(kImagePrefix.size()) : text;
}
}  // namespace

QString composeUserMessage(RequestKind kind, const QString& question, bool firstTurn) {
  QString message;
  switch (kind) {
    case RequestKind::Report: message = QString::fromUtf8(prompts::kReport); break;
    case RequestKind::Differential: message = QString::fromUtf8(prompts::kDifferential); break;
    case RequestKind::Question:
      if (firstTurn) return QString::fromStdString(prompts::ask(question.toStdString()));
      return question;
  }
  return firstTurn ? message : withoutImagePrefix(message);
}

QString displayedUserMessage(const QString& sentMessage) {
  return withoutImagePrefix(sentMessage).trimmed();
}

}  // namespace cxr::assistant
