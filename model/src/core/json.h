// Reading the JSON that comes with a model folder (config.json, model.safetensors.index.json,
// tokenizer_config.json, safetensors headers): nlohmann-json, private to model/src. Those files come
// from a download and may be hostile, so the reader adds what nlohmann leaves to its user:
// - nesting deeper than kMaxJsonDepth is refused (the real files nest 3 levels; 100,000 '[' must
//   not exhaust the stack of whatever walks the value afterwards);
// - a key that appears twice in one object is refused (readers disagree on which value counts:
//   Python keeps the last, others the first, so the file means two things);
// - NaN, Infinity, -Infinity and numbers beyond the double range (1e400) are read as numbers, as
//   Python's json reads them, so that config.json's range checks can name the key;
// - every failure is our own sentence with the byte offset in the file, never nlohmann's text.
// Parsing is linear in the text (a 100 MB safetensors header of 100,000s of entries included).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/model_files.h"

namespace cxr::detail {

using Json = nlohmann::json;

// The deepest nesting accepted (containers inside containers).
constexpr int kMaxJsonDepth = 64;

struct JsonParseError {
  enum class Kind { Syntax, TooDeep, DuplicateKey };
  Kind kind = Kind::Syntax;
  // Syntax / TooDeep: "at byte 11 (after '{"legacy": '): unexpected character 'm'";
  // DuplicateKey: "the key "k7" appears twice in one object".
  std::string detail;
  std::string key;         // DuplicateKey: the key
  bool topLevel = false;   // DuplicateKey: a key of the outermost object (a tensor name in a header)
};

// Parses one complete JSON document; nullopt with `error` set when it cannot. Byte offsets in the
// messages count from the file's start: `firstByte` is where `text` starts in its file (8 for a
// safetensors header).
std::optional<Json> parseJson(std::string_view text, JsonParseError& error, uint64_t firstByte = 0);

// A JSON file of the model folder: readModelFile's checks (a regular file of at most
// kMaxJsonFileBytes), then parseJson. On failure nullopt and `error`: kind Missing when the file is
// absent, Malformed with "<shownName> is not valid JSON (at byte N ...)" when it cannot be parsed.
// `text`, when given, receives the bytes read (for the provenance hashes).
std::optional<Json> readJsonFile(const std::string& path, const std::string& shownName, ModelFileError& error,
                                 std::string* text = nullptr);

// The value of a JSON integer (written without fraction or exponent) that fits in int64.
std::optional<int64_t> jsonInt(const Json& value);
// "a string", "an array", ... for messages.
std::string jsonTypeName(const Json& value);
// A member of an object, or nullptr (also when `object` is not an object).
const Json* jsonMember(const Json& object, const std::string& key);
// `text` as a JSON string literal, quotes included, for messages (invalid UTF-8 becomes U+FFFD).
std::string jsonQuoted(std::string_view text);

}  // namespace cxr::detail
