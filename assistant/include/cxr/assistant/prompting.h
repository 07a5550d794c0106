// The exact user message sent for a request: the reference's stock prompts verbatim (spec 5.2).
#pragma once

#include "cxr/assistant/types.h"

#include <QString>
#include <QStringList>
#include <vector>

namespace cxr::assistant {

// The stock prompt for a report or a differential, or the question as typed. Whether the turn
// carries "<image>\n" is the engine's rule (cxr::userTurnMessage, applied by the conversation), so
// this is the same on every turn.
QString composeUserMessage(RequestKind kind, const QString& question);

// Stored turns (user as sent, answer, user, ...) as the engine's messages.
std::vector<Message> toMessages(const QStringList& turns);

// The message as a user should read it in the chat ("<image>\n" hidden).
QString displayedUserMessage(const QString& sentMessage);

}  // namespace cxr::assistant
