// A small JSON reader for the model tests' golden files (no dependency beyond the standard
// library). Parses the full grammar; numbers are kept as double (ids and sums fit exactly).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace testjson {

struct Value {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  const Value& operator[](const std::string& key) const {
    for (const auto& [k, v] : object)
      if (k == key) return v;
    throw std::runtime_error("JSON key not found: " + key);
  }
  const Value& operator[](size_t i) const { return array.at(i); }
  bool has(const std::string& key) const {
    for (const auto& kv : object)
      if (kv.first == key) return true;
    return false;
  }
  size_t size() const { return type == Type::Array ? array.size() : object.size(); }
  std::vector<int32_t> ints() const {
    std::vector<int32_t> out;
    for (const auto& v : array) out.push_back(static_cast<int32_t>(v.number));
    return out;
  }
};

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}
  Value parse() {
    Value v = value();
    ws();
    if (p_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  const std::string& s_;
  size_t p_ = 0;
  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error("JSON parse error at " + std::to_string(p_) + ": " + why);
  }
  void ws() { while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_; }
  bool eat(char c) { ws(); if (p_ < s_.size() && s_[p_] == c) { ++p_; return true; } return false; }
  void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else { out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
  }
  uint32_t hex4() {
    if (p_ + 4 > s_.size()) fail("short \\u escape");
    uint32_t v = static_cast<uint32_t>(std::stoul(s_.substr(p_, 4), nullptr, 16));
    p_ += 4;
    return v;
  }
  std::string str() {
    if (!eat('"')) fail("expected string");
    std::string out;
    while (p_ < s_.size() && s_[p_] != '"') {
      char c = s_[p_++];
      if (c != '\\') { out += c; continue; }
      char e = s_[p_++];
      switch (e) {
        case 'n': out += '\n'; break; case 't': out += '\t'; break; case 'r': out += '\r'; break;
        case 'b': out += '\b'; break; case 'f': out += '\f'; break; case '/': out += '/'; break;
        case '\\': out += '\\'; break; case '"': out += '"'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && p_ + 6 <= s_.size() && s_[p_] == '\\' && s_[p_ + 1] == 'u') {
            p_ += 2;
            uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
    if (p_ >= s_.size()) fail("unterminated string");
    ++p_;
    return out;
  }
  Value value() {
    ws();
    Value v;
    if (p_ >= s_.size()) fail("unexpected end");
    char c = s_[p_];
    if (c == '{') {
      ++p_; v.type = Value::Type::Object;
      if (eat('}')) return v;
      do { std::string k = str(); if (!eat(':')) fail("expected :"); v.object.emplace_back(k, value()); } while (eat(','));
      if (!eat('}')) fail("expected }");
    } else if (c == '[') {
      ++p_; v.type = Value::Type::Array;
      if (eat(']')) return v;
      do { v.array.push_back(value()); } while (eat(','));
      if (!eat(']')) fail("expected ]");
    } else if (c == '"') {
      v.type = Value::Type::String; v.string = str();
    } else if (s_.compare(p_, 4, "true") == 0) { p_ += 4; v.type = Value::Type::Bool; v.boolean = true; }
    else if (s_.compare(p_, 5, "false") == 0) { p_ += 5; v.type = Value::Type::Bool; }
    else if (s_.compare(p_, 4, "null") == 0) { p_ += 4; }
    else if (s_.compare(p_, 3, "NaN") == 0) { p_ += 3; v.type = Value::Type::Number; v.number = 0; }
    else {
      size_t used = 0;
      v.type = Value::Type::Number;
      v.number = std::stod(s_.substr(p_, 64), &used);
      if (used == 0) fail("bad value");
      p_ += used;
    }
    return v;
  }
};

inline Value parseFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  return Parser(text).parse();
}

}  // namespace testjson
