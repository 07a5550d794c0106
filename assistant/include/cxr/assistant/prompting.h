// The exact user message sent for a request: the reference's stock prompts verbatim (spec 5.2).
#pragma once

#include "cxr/assistant/types.h"

#include <QString>

namespace cxr::assistant {

// firstTurn: the conversation has no exchange yet, so the message must carry "<image>\n" (the
// reference's ask_question / write_radiologic_report). Later turns never repeat <image> (only the
// first user message may hold it, spec 5.2): stock prompts lose their "<image>\n" prefix and
// questions go verbatim.
QString composeUserMessage(RequestKind kind, const QString& question, bool firstTurn);

// The message as a user should read it in the chat ("<image>\n" hidden).
QString displayedUserMessage(const QString& sentMessage);

}  // namespace cxr::assistant
