#include "cxr/assistant/prompting.h"

namespace cxr::assistant {
namespace {
const QString kImagePrefix = QStringLiteral("<image>\n");

QString withoutImagePrefix(const QString& text) {
  return text.startsWith(kImagePrefix) ? text.mid(kImagePrefix.size()) : text;
}
}  // namespace

QString composeUserMessage(RequestKind kind, const QString& question) {
  switch (kind) {
    case RequestKind::Report: return QString::fromUtf8(prompts::kReport);
    case RequestKind::Differential: return QString::fromUtf8(prompts::kDifferential);
    case RequestKind::Question: return question;
  }
  return question;
}

std::vector<Message> toMessages(const QStringList& turns) {
  std::vector<Message> messages;
  for (int i = 0; i < turns.size(); ++i)
    messages.push_back({i % 2 == 0 ? Message::Role::User : Message::Role::Assistant, turns[i].toStdString()});
  return messages;
}

QString displayedUserMessage(const QString& sentMessage) {
  return withoutImagePrefix(sentMessage).trimmed();
}

}  // namespace cxr::assistant
