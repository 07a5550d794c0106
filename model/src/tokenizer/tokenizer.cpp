// HF LlamaTokenizer (transformers 4.36.2, slow) semantics over sentencepiece. The rules and where
// they come from are in the spec, section 5.4; the comments below name the Python they mirror.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

#include "core/json.h"
#include "core/model_files.h"
#include "tokenizer/spm_library.h"

namespace fs = std::filesystem;

namespace cxr::detail {

namespace {

constexpr const char* kSpieceUnderline = "\xE2\x96\x81";  // U+2581, sentencepiece's space

// ---- tokenizer_config.json: the two switches we need -----------------------------------------

struct TokenizerConfig {
  bool legacy = true;       // transformers 4.36: absent -> legacy behaviour (with a warning)
  bool addBosToken = true;  // LlamaTokenizer default
};

// A top-level boolean switch: true/false, or null/absent for the default.
void readBoolSwitch(const Json& config, const char* key, const fs::path& file, bool& value) {
  const Json* v = jsonMember(config, key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_boolean())
    throw cxr::ModelError(file.string() + ": \"" + key + "\" must be true or false, found " + jsonTypeName(*v));
  value = v->get<bool>();
}

TokenizerConfig readTokenizerConfig(const fs::path& file) {
  TokenizerConfig config;
  ModelFileError error;
  const std::optional<Json> json = readJsonFile(file.string(), file.string(), error);
  if (!json && error.kind == ModelFileError::Kind::Missing) return config;  // all defaults, as transformers
  if (!json && error.kind == ModelFileError::Kind::Malformed)
    throw cxr::ModelError(error.message + "; restore the file from the model repository");
  if (!json) throw cxr::ModelError(error.message);
  if (!json->is_object())
    throw cxr::ModelError(file.string() + ": expected a JSON object, found " + jsonTypeName(*json));
  readBoolSwitch(*json, "legacy", file, config.legacy);
  readBoolSwitch(*json, "add_bos_token", file, config.addBosToken);
  return config;
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// ---- State ------------------------------------------------------------------------------------

struct Tokenizer::State {
  std::string modelPath;
  // The model as stored (legacy) and with add_dummy_prefix=false (what transformers loads for
  // legacy=False). Both are kept so that tests can flip the switch on one Tokenizer.
  std::unique_ptr<SpmModel> stored;
  std::unique_ptr<SpmModel> noDummyPrefix;
  TokenizerConfig config;
  int32_t bos = 1, eos = 2, unk = 0;
  // The special-token texts the slow tokenizer splits on before sentencepiece sees the text.
  std::vector<std::pair<std::string, int32_t>> specials;
  size_t unkTokenLength = 0;  // len(sp_model.encode("<unk>")) with add_dummy_prefix=false
  int32_t underlineId = -1;   // the lone "▁" piece

  const SpmModel& active() const { return config.legacy ? *stored : *noDummyPrefix; }
};

Tokenizer::Tokenizer() : state_(std::make_unique<State>()) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& folder) {
  const fs::path dir(folder);
  const fs::path modelFile = dir / "tokenizer.model";
  // sentencepiece opens the file by name: only a regular file of a plausible size gets that far
  // (a FIFO would block it, a link to /dev/zero would be read until memory runs out).
  ModelFileError error;
  if (!checkModelFile(modelFile.string(), modelFile.string(), kMaxTokenizerModelBytes, error))
    throw cxr::ModelError(error.kind == ModelFileError::Kind::Missing
                              ? modelFile.string() + ": missing (the sentencepiece tokenizer file must be in the model folder)"
                              : error.message);
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  State& s = *tokenizer->state_;
  s.modelPath = modelFile.string();
  s.config = readTokenizerConfig(dir / "tokenizer_config.json");
  s.stored = std::make_unique<SpmModel>(s.modelPath, -1);
  s.noDummyPrefix = std::make_unique<SpmModel>(s.modelPath, 0);
  if (s.stored->pieceCount() <= 0) throw cxr::ModelError(s.modelPath + ": the model has no pieces");
  s.bos = s.stored->bosId();
  s.eos = s.stored->eosId();
  s.unk = s.stored->unkId();
  // Longest first, so that a Trie-like scan prefers "</s>" over nothing and never splits wrongly.
  if (s.unk >= 0) s.specials.emplace_back("<unk>", s.unk);
  if (s.eos >= 0) s.specials.emplace_back("</s>", s.eos);
  if (s.bos >= 0) s.specials.emplace_back("<s>", s.bos);
  s.unkTokenLength = s.noDummyPrefix->encode("<unk>").size();
  s.underlineId = s.stored->pieceToId(kSpieceUnderline);
  if (s.stored->idToPiece(s.underlineId) != kSpieceUnderline) s.underlineId = -1;
  return tokenizer;
}

// ---- Encoding ---------------------------------------------------------------------------------

namespace {
struct Segment {
  std::string text;
  int32_t specialId = -1;  // >= 0: a special token, text is its surface
};
}  // namespace

// tokens_trie.split(text): cut at every occurrence of a special-token text, left to right.
static std::vector<Segment> splitOnSpecials(const std::string& text,
                                            const std::vector<std::pair<std::string, int32_t>>& specials) {
  std::vector<Segment> out;
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    bool matched = false;
    if (text[pos] == '<') {
      for (const auto& [surface, id] : specials) {
        if (text.compare(pos, surface.size(), surface) == 0) {
          if (pos > start) out.push_back({text.substr(start, pos - start), -1});
          out.push_back({surface, id});
          pos += surface.size();
          start = pos;
          matched = true;
          break;
        }
      }
    }
    if (!matched) ++pos;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
  return out;
}

// LlamaTokenizer._tokenize for one non-special piece of text.
std::vector<int32_t> Tokenizer::encodeSegment(const std::string& text, bool /*atStart*/) const {
  const State& s = *state_;
  if (s.config.legacy) return s.stored->encode(text);
  // legacy=False: sentencepiece without the dummy prefix. A segment that starts with a space or
  // "▁" is encoded behind "<unk>" so that sentencepiece keeps that space as "▁", then the "<unk>"
  // pieces are cut off again.
  if (!startsWith(text, kSpieceUnderline) && !startsWith(text, " ")) return s.noDummyPrefix->encode(text);
  auto ids = s.noDummyPrefix->encode("<unk>" + text);
  if (ids.size() >= s.unkTokenLength) ids.erase(ids.begin(), ids.begin() + static_cast<long>(s.unkTokenLength));
  return ids;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool addSpecialTokens) const {
  const State& s = *state_;
  // LlamaTokenizer.tokenize: non-legacy prepends "▁" to the whole text (and turns any "▁" in it
  // into a space) before the special-token split; legacy and the empty text go straight through.
  const bool nonLegacy = !s.config.legacy && !text.empty();
  const std::string prepared =
      nonLegacy ? kSpieceUnderline + replaceAll(text, kSpieceUnderline, " ") : text;
  std::vector<std::pair<std::string, int32_t>> segments;
  for (Segment& segment : splitOnSpecials(prepared, s.specials))
    segments.emplace_back(std::move(segment.text), segment.specialId);
  return encodeSegments(segments, addSpecialTokens, nonLegacy);
}

std::vector<int32_t> Tokenizer::encodeSegments(const std::vector<std::pair<std::string, int32_t>>& segments,
                                               bool addSpecialTokens, bool nonLegacy) const {
  const State& s = *state_;
  std::vector<int32_t> ids;
  if (addSpecialTokens && s.config.addBosToken && s.bos >= 0) ids.push_back(s.bos);
  const size_t bodyStart = ids.size();
  for (const auto& [text, specialId] : segments) {
    if (specialId >= 0) {
      ids.push_back(specialId);
    } else if (!text.empty()) {
      const auto part = encodeSegment(text, ids.size() == bodyStart);
      ids.insert(ids.end(), part.begin(), part.end());
    }
  }
  // "▁" followed by a special token: the prefix space belonged to nothing, drop it.
  if (nonLegacy && ids.size() - bodyStart > 1 && ids[bodyStart] == s.underlineId &&
      std::any_of(s.specials.begin(), s.specials.end(),
                  [&](const auto& sp) { return sp.second == ids[bodyStart + 1]; }))
    ids.erase(ids.begin() + static_cast<long>(bodyStart));
  return ids;
}

namespace {

// tokenizer_image_token's assembly (spec 5.3): one BOS when chunk 0 starts with it, then every
// chunk without its first id, kImageTokenId between chunks.
std::vector<int32_t> joinImageChunks(const std::vector<std::vector<int32_t>>& chunks, int32_t bos) {
  std::vector<int32_t> ids;
  size_t offset = 0;
  if (!chunks.empty() && !chunks[0].empty() && chunks[0][0] == bos) {
    offset = 1;
    ids.push_back(chunks[0][0]);
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i > 0) ids.push_back(kImageTokenId);  // the separator [-200] * (offset + 1), minus offset
    if (chunks[i].size() > offset) ids.insert(ids.end(), chunks[i].begin() + static_cast<long>(offset), chunks[i].end());
  }
  return ids;
}

}  // namespace

std::vector<int32_t> Tokenizer::encodeWithImage(const std::string& prompt) const {
  // prompt.split("<image>")
  std::vector<std::vector<int32_t>> chunks;
  const std::string tag = "<image>";
  size_t start = 0;
  while (true) {
    const size_t pos = prompt.find(tag, start);
    chunks.push_back(encode(prompt.substr(start, pos == std::string::npos ? std::string::npos : pos - start)));
    if (pos == std::string::npos) break;
    start = pos + tag.size();
  }
  return joinImageChunks(chunks, bosId());
}

std::vector<int32_t> Tokenizer::encodeChat(const std::vector<ChatPart>& parts) const {
  const State& s = *state_;
  // The same steps as encodeWithImage(rendered text), with the special-token split replaced by
  // the template's own parts: split at "<image>", then per chunk the non-legacy "▁" prefix, the
  // text runs merged (sentencepiece must see the same text as in the reference), BOS first.
  std::vector<std::vector<std::pair<std::string, int32_t>>> chunks(1);
  std::vector<bool> chunkHasText(1, false);
  auto append = [&](std::string text, int32_t specialId) {
    auto& chunk = chunks.back();
    if (specialId < 0 && !chunk.empty() && chunk.back().second < 0) chunk.back().first += text;
    else chunk.emplace_back(std::move(text), specialId);
    if (specialId >= 0 || !chunk.back().first.empty()) chunkHasText.back() = true;
  };
  const std::string tag = "<image>";
  for (const ChatPart& part : parts) {
    if (part.kind == ChatPart::Kind::Bos) { append("<s>", s.bos); continue; }
    if (part.kind == ChatPart::Kind::Eos) { append("</s>", s.eos); continue; }
    size_t start = 0;
    while (true) {
      const size_t pos = part.text.find(tag, start);
      append(part.text.substr(start, pos == std::string::npos ? std::string::npos : pos - start), -1);
      if (pos == std::string::npos) break;
      chunks.emplace_back();
      chunkHasText.push_back(false);
      start = pos + tag.size();
    }
  }
  std::vector<std::vector<int32_t>> encoded;
  for (size_t i = 0; i < chunks.size(); ++i) {
    auto& chunk = chunks[i];
    const bool nonLegacy = !s.config.legacy && chunkHasText[i];
    if (nonLegacy) {
      for (auto& [text, specialId] : chunk)
        if (specialId < 0) text = replaceAll(text, kSpieceUnderline, " ");
      if (!chunk.empty() && chunk.front().second < 0) chunk.front().first.insert(0, kSpieceUnderline);
      else chunk.insert(chunk.begin(), {kSpieceUnderline, -1});
    }
    encoded.push_back(encodeSegments(chunk, /*addSpecialTokens=*/true, nonLegacy));
  }
  return joinImageChunks(encoded, bosId());
}

// ---- Decoding ---------------------------------------------------------------------------------

bool Tokenizer::isSpecial(int32_t id) const {
  const State& s = *state_;
  return id < 0 || id >= s.stored->pieceCount() || id == s.bos || id == s.eos || id == s.unk ||
         s.stored->isControl(id) || s.stored->isUnknown(id);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skipSpecialTokens) const {
  const State& s = *state_;
  // LlamaTokenizer.convert_tokens_to_string: runs of ordinary pieces go through sentencepiece,
  // special tokens are written as their text; the first piece loses its leading "▁".
  std::string out;
  std::vector<int32_t> run;
  bool first = true, prevSpecial = false;
  auto flush = [&] {
    if (run.empty()) return;
    // transformers removes one "▁" from the first piece's text and then has sentencepiece decode
    // the pieces, which (with the dummy prefix) removes a leading "▁" once more. For a first piece
    // of several "▁" (e.g. "▁▁", two spaces) both go; decoding the shorter piece instead does that.
    if (out.empty() && s.active().addDummyPrefix()) {
      const std::string firstPiece = s.active().idToPiece(run[0]);
      const std::string twice = std::string(kSpieceUnderline) + kSpieceUnderline;
      if (startsWith(firstPiece, twice)) {
        const std::string shorter = firstPiece.substr(std::string(kSpieceUnderline).size());
        const int32_t shorterId = s.active().pieceToId(shorter);
        if (s.active().idToPiece(shorterId) == shorter) run[0] = shorterId;
      }
    }
    std::string text = s.active().decode(run);
    // sentencepiece strips the first "▁" itself only when add_dummy_prefix is on; the Python
    // side strips it in any case (the prefix space it added is not part of the text).
    if (out.empty() && !s.active().addDummyPrefix() && startsWith(s.active().idToPiece(run[0]), kSpieceUnderline) &&
        startsWith(text, " "))
      text.erase(0, 1);
    out += text;
    run.clear();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= s.stored->pieceCount()) continue;  // the image placeholder, or junk
    const bool special = isSpecial(id);
    if (special && skipSpecialTokens) continue;
    if (special) {
      if (!prevSpecial && !first && s.config.legacy) out += ' ';
      flush();
      out += s.stored->idToPiece(id);
      prevSpecial = true;
    } else {
      // After a special token the run is decoded on its own, so sentencepiece would strip its
      // leading space again; transformers does the same (it decodes each run separately).
      run.push_back(id);
      prevSpecial = false;
    }
    first = false;
  }
  flush();
  return out;
}

bool Tokenizer::lastTokensSpellEos(const std::vector<int32_t>& generated) const {
  const size_t from = generated.size() > 3 ? generated.size() - 3 : 0;
  const std::vector<int32_t> tail(generated.begin() + long(from), generated.end());
  return decode(tail, true).find("</s>") != std::string::npos;
}

std::string Tokenizer::piece(int32_t id) const { return state_->stored->idToPiece(id); }

std::string Tokenizer::pieceBytes(int32_t id) const {
  const State& s = *state_;
  if (isSpecial(id)) return {};
  const std::string p = s.stored->idToPiece(id);
  if (s.stored->isByte(id) && p.size() == 6) return std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
  return replaceAll(p, kSpieceUnderline, " ");
}

int32_t Tokenizer::bosId() const { return state_->bos; }
int32_t Tokenizer::eosId() const { return state_->eos; }
int32_t Tokenizer::unkId() const { return state_->unk; }
int Tokenizer::vocabSize() const { return state_->stored->pieceCount(); }
bool Tokenizer::legacy() const { return state_->config.legacy; }
bool Tokenizer::addBosToken() const { return state_->config.addBosToken; }
void Tokenizer::setLegacy(bool legacy) { state_->config.legacy = legacy; }

}  // namespace cxr::detail
