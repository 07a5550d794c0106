// The LLaMA tokenizer as transformers 4.36.2's slow LlamaTokenizer behaves, on top of the
// sentencepiece library (reached only through the private cxr_spm shim, see spm_shim/).
//
// Why not plain sentencepiece: the reference splits the text on the special-token strings
// "<s>", "</s>", "<unk>" first, applies the `legacy` dummy-prefix rule to the pieces in between,
// and chunks prompts around "<image>" (spec sections 5.3 and 5.4). Every rule here is pinned by
// golden ids in tests/model/test_tokenizer*.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cxr/model/types.h"

namespace cxr::detail {

// The placeholder id that marks where the image embeddings are spliced in (IMAGE_TOKEN_INDEX).
inline constexpr int32_t kImageTokenId = -200;

// One piece of a rendered chat prompt: literal text, or a control token the template inserts.
struct ChatPart {
  enum class Kind { Text, Bos, Eos };
  Kind kind = Kind::Text;
  std::string text;  // Kind::Text only
};

class Tokenizer {
 public:
  // Reads `folder`/tokenizer.model and `folder`/tokenizer_config.json ("legacy" and
  // "add_bos_token", both true when absent; a missing config file means all defaults).
  // Throws cxr::ModelError naming the file and the problem.
  static std::unique_ptr<Tokenizer> load(const std::string& folder);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // HF LlamaTokenizer __call__(text).input_ids: split on "<s>", "</s>", "<unk>" text, encode the
  // pieces with the legacy / non-legacy dummy-prefix rule, BOS first when add_bos_token and
  // addSpecialTokens.
  std::vector<int32_t> encode(const std::string& text, bool addSpecialTokens = true) const;

  // The reference's tokenizer_image_token: every "<image>"-separated chunk encoded with BOS; one
  // BOS at the start, then each chunk without its first id, kImageTokenId between chunks.
  // A rendered chat prompt starting with the text "<s>" therefore begins [1, 1, ...].
  // Every "<s>", "</s>", "<unk>" in `prompt` becomes its control id, wherever it came from.
  std::vector<int32_t> encodeWithImage(const std::string& prompt) const;

  // What the engine sends: the same ids as encodeWithImage(text of `parts`) for any conversation
  // whose texts hold no special-token text, but only the template's Bos/Eos parts become control
  // ids. Text parts (the system prompt, questions, answers) are literal: a user who types
  // "</s><s>[INST]" gets those characters as ordinary pieces, not a forged turn. The reference
  // splits special-token text anywhere in the prompt; this is the one place we differ
  // (README, "Prompts are literal text").
  std::vector<int32_t> encodeChat(const std::vector<ChatPart>& parts) const;

  // sentencepiece decode; with skipSpecialTokens BOS/EOS/UNK/control ids and kImageTokenId are left
  // out. The first piece loses its leading "▁" as in transformers, which also lets sentencepiece drop
  // one more when that piece is a run of spaces ("▁▁" + "▁Hello" decodes to " Hello").
  std::string decode(const std::vector<int32_t>& ids, bool skipSpecialTokens = true) const;

  // The text rule of the reference's KeywordsStoppingCriteria(["</s>"]) (spec 6.1): the last (up to)
  // three generated ids, decoded with special tokens skipped, contain the literal text "</s>". A
  // model that spells the tag in three pieces or fewer stops; one that needs four ("<" "/" "s" ">")
  // does not, exactly as in the reference. (Its id rule is the EOS id, checked by the caller.)
  bool lastTokensSpellEos(const std::vector<int32_t>& generated) const;

  // The raw surface of one piece ("▁the", "<0x0A>", "<s>"). Empty for ids out of range.
  std::string piece(int32_t id) const;
  // The bytes one id stands for in decoded text: "▁" -> " ", <0xNN> -> that byte, controls -> "".
  std::string pieceBytes(int32_t id) const;
  bool isSpecial(int32_t id) const;  // control or unknown (skipped by decode)

  int32_t bosId() const;
  int32_t eosId() const;
  int32_t unkId() const;
  int vocabSize() const;
  bool legacy() const;
  bool addBosToken() const;

  // Tests flip the legacy switch to check both paths on the same model file.
  void setLegacy(bool legacy);

 private:
  Tokenizer();
  std::vector<int32_t> encodeSegment(const std::string& text, bool atStart) const;
  // LlamaTokenizer.tokenize over text already cut at its special tokens (specialId >= 0), then
  // BOS first when asked: the common tail of encode() and encodeChat().
  std::vector<int32_t> encodeSegments(const std::vector<std::pair<std::string, int32_t>>& segments,
                                      bool addSpecialTokens, bool nonLegacy) const;

  struct State;
  std::unique_ptr<State> state_;
};

// Incremental text for streaming, with the semantics of transformers' TextIteratorStreamer
// (skip_special_tokens=True): the text is the decode of the ids since the last flush; only text up
// to the last complete UTF-8 character is emitted; the leading space of the first piece is dropped,
// and again after a chunk that ended in "\n" (the streamer empties its cache there).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer);
  // Returns the new text made complete by this id (may be empty).
  std::string push(int32_t id);
  // Whatever is still held back (an incomplete UTF-8 tail is emitted as-is, as the reference
  // streamer's end() does).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  std::vector<int32_t> pending_;  // ids since the cache was last emptied
  size_t printedBytes_ = 0;       // bytes of decode(pending_) already emitted
};

// The transformers 4.36 default Llama-2 chat template (spec 5.1). An optional leading System
// message; then roles must alternate user/assistant/user/... (else cxr::ModelError).
// renderLlama2ChatParts keeps the template's "<s>"/"</s>" apart from the messages' text (for
// Tokenizer::encodeChat); renderLlama2Chat is the same prompt as one string, as the reference
// renders it.
std::vector<ChatPart> renderLlama2ChatParts(const std::vector<cxr::Message>& messages);
std::string renderLlama2Chat(const std::vector<cxr::Message>& messages);

}  // namespace cxr::detail
