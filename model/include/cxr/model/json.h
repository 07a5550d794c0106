// A small JSON reader for the few JSON files the engine reads (config.json, the safetensors
// header, model.safetensors.index.json, test references). No dependency, errors with a byte offset
// so that a broken file can be named precisely.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::detail {

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

// Writes `s` as a JSON string literal (quotes included).
std::string jsonQuote(std::string_view s);

}  // namespace cxr::detail
