// The transformers 4.36 default Llama-2 chat template (LlamaTokenizer.default_chat_template),
// rendered by hand. Spec section 5.1 restates it; the Jinja it mirrors:
//   system first -> its content goes into the first looped message as <<SYS>>...<</SYS>>
//   roles must alternate user/assistant starting with user (else raise_exception)
//   user:      bos + '[INST] ' + content.strip() + ' [/INST]'
//   assistant: ' ' + content.strip() + ' ' + eos
// The reference renders bos/eos as the text "<s>"/"</s>" and lets the tokenizer find them again
// (anywhere, user text included); here they stay separate parts (see Tokenizer::encodeChat).
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace cxr::detail {

namespace {

// Python's str.strip() for the whitespace a prompt can plausibly hold (ASCII whitespace,
// the separators \x1c-\x1f, NEL and NBSP).
std::string pythonStrip(const std::string& s) {
  auto isSpace = [&](size_t i, size_t& width) {
    const auto c = static_cast<unsigned char>(s[i]);
    width = 1;
    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return true;
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      width = 2;
      return d == 0x85 || d == 0xA0;
    }
    return false;
  };
  size_t begin = 0, width = 1;
  while (begin < s.size() && isSpace(begin, width)) begin += width;
  size_t end = s.size();
  while (end > begin) {
    size_t w = 1;
    if (isSpace(end - 1, w)) { --end; continue; }
    if (end >= 2 && isSpace(end - 2, w) && w == 2) { end -= 2; continue; }
    break;
  }
  return s.substr(begin, end - begin);
}

const char* roleName(cxr::Message::Role role) {
  switch (role) {
    case cxr::Message::Role::System: return "system";
    case cxr::Message::Role::User: return "user";
    case cxr::Message::Role::Assistant: return "assistant";
  }
  return "?";
}

}  // namespace

std::vector<ChatPart> renderLlama2ChatParts(const std::vector<cxr::Message>& messages) {
  size_t first = 0;
  bool hasSystem = false;
  std::string system;
  if (!messages.empty() && messages[0].role == cxr::Message::Role::System) {
    hasSystem = true;
    system = messages[0].content;
    first = 1;
  }
  std::vector<ChatPart> out;
  auto text = [&](std::string t) { out.push_back({ChatPart::Kind::Text, std::move(t)}); };
  for (size_t i = first; i < messages.size(); ++i) {
    const size_t index0 = i - first;
    const cxr::Message& m = messages[i];
    if ((m.role == cxr::Message::Role::User) != (index0 % 2 == 0))
      throw cxr::ModelError(std::string("Conversation roles must alternate user/assistant/user/assistant/...; message ") +
                            std::to_string(i + 1) + " is a " + roleName(m.role) + " message");
    const std::string content =
        (index0 == 0 && hasSystem) ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + m.content : m.content;
    switch (m.role) {
      case cxr::Message::Role::User:
        out.push_back({ChatPart::Kind::Bos, {}});
        text("[INST] " + pythonStrip(content) + " [/INST]");
        break;
      case cxr::Message::Role::System: text("<<SYS>>\n" + pythonStrip(content) + "\n<</SYS>>\n\n"); break;
      case cxr::Message::Role::Assistant:
        text(" " + pythonStrip(content) + " ");
        out.push_back({ChatPart::Kind::Eos, {}});
        break;
    }
  }
  return out;
}

std::string renderLlama2Chat(const std::vector<cxr::Message>& messages) {
  std::string out;
  for (const ChatPart& part : renderLlama2ChatParts(messages)) {
    switch (part.kind) {
      case ChatPart::Kind::Text: out += part.text; break;
      case ChatPart::Kind::Bos: out += "<s>"; break;
      case ChatPart::Kind::Eos: out += "</s>"; break;
    }
  }
  return out;
}

}  // namespace cxr::detail
