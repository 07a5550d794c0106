// The project's one JSON implementation (no dependency, no torch): a reader for the files the
// engine reads (config.json, tokenizer_config.json, the safetensors header,
// model.safetensors.index.json) and the tests' golden files, and a streaming writer for the
// command-line tool's --json output and the checkpoints the engine writes. Parse errors carry a
// byte offset so that the caller can name the broken file precisely.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cxr {

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  // Parses a complete document; throws JsonError("at byte N: what") on malformed input.
  static Json parse(std::string_view text);

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  bool isBool() const { return type_ == Type::Bool; }
  bool isNumber() const { return type_ == Type::Number; }
  bool isString() const { return type_ == Type::String; }
  bool isArray() const { return type_ == Type::Array; }
  bool isObject() const { return type_ == Type::Object; }
  // True for numbers written without fraction/exponent that fit in int64 exactly.
  bool isInteger() const { return type_ == Type::Number && isInteger_; }

  bool asBool() const;
  double asDouble() const;
  int64_t asInt() const;  // exact integers only
  const std::string& asString() const;
  const std::vector<Json>& asArray() const;
  // Keys in file order (duplicate keys: the last one wins, as Python's json does).
  const std::vector<std::pair<std::string, Json>>& asObject() const;

  // Object member or nullptr.
  const Json* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // Object member / array element; throws JsonError naming the missing key or index.
  const Json& operator[](std::string_view key) const;
  const Json& operator[](size_t index) const;
  // Elements of an array, or members of an object; 0 otherwise.
  size_t size() const;

  static std::string typeName(Type t);

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool isInteger_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;
};

// Builds one JSON document as text, element by element (commas are placed automatically):
//   JsonWriter j; j.beginObject().key("ids").array(ids).key("seed").value(seed).endObject();
// Non-finite doubles are written as null (JSON has no NaN); doubles round-trip (%.17g).
class JsonWriter {
 public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(double number);
  JsonWriter& value(int64_t number);
  JsonWriter& value(uint64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  // An array of integers (token ids, shapes).
  template <typename T>
  JsonWriter& array(const std::vector<T>& values) {
    beginArray();
    for (const T& v : values) value(static_cast<int64_t>(v));
    return endArray();
  }
  const std::string& str() const { return out_; }

  // JSON string literal (quotes included) of arbitrary bytes: invalid UTF-8 becomes U+FFFD, so
  // the output is always valid JSON.
  static std::string quote(std::string_view text);

 private:
  void separator();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool afterKey_ = false;
};

}  // namespace cxr
