// Streaming text with transformers' TextIteratorStreamer rules (skip_special_tokens=True):
// decode the ids cached since the last flush, emit what was not emitted yet, and empty the cache
// after a chunk that ends in "\n" (so the next line's leading space is dropped, as the first
// piece's is). Unlike the Python streamer we emit as soon as characters are complete instead of
// waiting for a word boundary; the concatenated text is the same.
#include <algorithm>

#include "tokenizer/tokenizer.h"

namespace cxr::detail {

namespace {

// Length of the UTF-8 sequence a lead byte announces (0 for a continuation or invalid byte).
int utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

// True when `bytes` ends inside a multi-byte character that more bytes could still complete.
bool endsWithIncompleteCharacter(const std::string& bytes) {
  for (size_t back = 1; back <= 4 && back <= bytes.size(); ++back) {
    const auto c = static_cast<unsigned char>(bytes[bytes.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const int need = utf8SequenceLength(c);
    return need > static_cast<int>(back);
  }
  return false;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

std::string StreamDecoder::push(int32_t id) {
  if (tokenizer_.isSpecial(id)) return {};  // skipped by decode anyway
  pending_.push_back(id);

  // A character spelled with byte-fallback pieces (<0xE2><0x82><0xAC>) is held back until its last
  // byte arrives: sentencepiece would otherwise decode the partial bytes as U+FFFD.
  size_t complete = pending_.size();
  std::string tailBytes;
  size_t firstByteId = pending_.size();
  while (firstByteId > 0 && tokenizer_.piece(pending_[firstByteId - 1]).size() == 6 &&
         tokenizer_.piece(pending_[firstByteId - 1]).rfind("<0x", 0) == 0)
    --firstByteId;
  for (size_t i = firstByteId; i < pending_.size(); ++i) tailBytes += tokenizer_.pieceBytes(pending_[i]);
  if (endsWithIncompleteCharacter(tailBytes)) {
    // Drop ids from the end until the bytes left form whole characters.
    while (complete > firstByteId) {
      --complete;
      std::string bytes;
      for (size_t i = firstByteId; i < complete; ++i) bytes += tokenizer_.pieceBytes(pending_[i]);
      if (!endsWithIncompleteCharacter(bytes)) break;
    }
  }

  const std::vector<int32_t> whole(pending_.begin(), pending_.begin() + static_cast<long>(complete));
  const std::string text = tokenizer_.decode(whole, /*skipSpecialTokens=*/true);
  std::string out = text.size() > printedBytes_ ? text.substr(printedBytes_) : std::string();
  printedBytes_ = std::max(printedBytes_, text.size());
  if (complete == pending_.size() && !text.empty() && text.back() == '\n') {
    pending_.clear();
    printedBytes_ = 0;
  }
  return out;
}

std::string StreamDecoder::finish() {
  const std::string text = tokenizer_.decode(pending_, /*skipSpecialTokens=*/true);
  std::string out = text.size() > printedBytes_ ? text.substr(printedBytes_) : std::string();
  pending_.clear();
  printedBytes_ = 0;
  return out;
}

}  // namespace cxr::detail
