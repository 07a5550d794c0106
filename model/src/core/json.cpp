#include "cxr/model/json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <unordered_map>

namespace cxr {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  Json document() {
    Json v = value(0);
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected characters after the end of the JSON value");
    return v;
  }

 private:
  // The message quotes the text just before the problem (same line, up to 24 bytes), so that a
  // person can find it in the file: at byte 11 (after '{"legacy": '): unexpected character 'm'.
  [[noreturn]] void fail(const std::string& what) const {
    const size_t end = std::min(pos_, s_.size());
    size_t begin = end > 24 ? end - 24 : 0;
    const size_t newline = s_.rfind('\n', end == 0 ? 0 : end - 1);
    if (newline != std::string_view::npos && newline + 1 > begin && newline < end) begin = newline + 1;
    std::string where = "at byte " + std::to_string(pos_);
    if (end > begin) where += " (after '" + std::string(s_.substr(begin, end - begin)) + "')";
    throw JsonError(where + ": " + what);
  }
  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  bool consume(char c) {
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  Json value(int depth) {
    if (depth > 64) fail("nesting is too deep");
    skipSpace();
    if (pos_ >= s_.size()) fail("unexpected end of text");
    Json v;
    char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.type_ = Json::Type::Object;
      if (consume('}')) return v;
      // Duplicate keys: the last one wins, in the first one's place. Small objects (config keys)
      // are searched directly; large ones (a safetensors header has one key per tensor, and a
      // hostile one 100,000s) through a hash index, so that parsing stays linear.
      constexpr size_t kIndexFrom = 16;
      std::unordered_map<std::string, size_t> index;
      do {
        skipSpace();
        if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
        std::string key = string();
        expect(':');
        Json member = value(depth + 1);
        size_t at = v.object_.size();
        if (v.object_.size() < kIndexFrom) {
          for (size_t i = 0; i < v.object_.size(); ++i)
            if (v.object_[i].first == key) at = i;
        } else {
          if (index.empty())
            for (size_t i = 0; i < v.object_.size(); ++i) index.emplace(v.object_[i].first, i);
          const auto [it, inserted] = index.emplace(key, v.object_.size());
          if (!inserted) at = it->second;
        }
        if (at < v.object_.size()) v.object_[at].second = std::move(member);
        else v.object_.emplace_back(std::move(key), std::move(member));
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.type_ = Json::Type::Array;
      if (consume(']')) return v;
      do {
        v.array_.push_back(value(depth + 1));
      } while (consume(','));
      expect(']');
    } else if (c == '"') {
      v.type_ = Json::Type::String;
      v.string_ = string();
    } else if (literal("true")) {
      v.type_ = Json::Type::Bool;
      v.bool_ = true;
    } else if (literal("false")) {
      v.type_ = Json::Type::Bool;
    } else if (literal("null")) {
      v.type_ = Json::Type::Null;
    } else if (literal("NaN")) {  // Python's json writes these
      v.type_ = Json::Type::Number;
      v.number_ = std::numeric_limits<double>::quiet_NaN();
    } else if (literal("Infinity")) {
      v.type_ = Json::Type::Number;
      v.number_ = std::numeric_limits<double>::infinity();
    } else if (literal("-Infinity")) {
      v.type_ = Json::Type::Number;
      v.number_ = -std::numeric_limits<double>::infinity();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      number(v);
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  void number(Json& v) {
    size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (d == pos_) fail("malformed number");
    };
    digits();
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      digits();
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      digits();
    }
    std::string text(s_.substr(start, pos_ - start));
    v.type_ = Json::Type::Number;
    v.number_ = std::strtod(text.c_str(), nullptr);
    if (integral) {
      errno = 0;
      char* end = nullptr;
      long long i = std::strtoll(text.c_str(), &end, 10);
      if (errno == 0 && end && *end == 0) {
        v.isInteger_ = true;
        v.integer_ = i;
      }
    }
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(out, cp);
          break;
        }
        default: fail("bad escape in string");
      }
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

Json Json::parse(std::string_view text) { return JsonParser(text).document(); }

namespace {
[[noreturn]] void wrongType(Json::Type want, Json::Type got) {
  throw JsonError("expected " + Json::typeName(want) + ", found " + Json::typeName(got));
}
}  // namespace

std::string Json::typeName(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

bool Json::asBool() const {
  if (type_ != Type::Bool) wrongType(Type::Bool, type_);
  return bool_;
}
double Json::asDouble() const {
  if (type_ != Type::Number) wrongType(Type::Number, type_);
  return number_;
}
int64_t Json::asInt() const {
  if (type_ != Type::Number) wrongType(Type::Number, type_);
  if (!isInteger_) throw JsonError("expected an integer, found " + std::to_string(number_));
  return integer_;
}
const std::string& Json::asString() const {
  if (type_ != Type::String) wrongType(Type::String, type_);
  return string_;
}
const std::vector<Json>& Json::asArray() const {
  if (type_ != Type::Array) wrongType(Type::Array, type_);
  return array_;
}
const std::vector<std::pair<std::string, Json>>& Json::asObject() const {
  if (type_ != Type::Object) wrongType(Type::Object, type_);
  return object_;
}
const Json* Json::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& kv : object_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

const Json& Json::operator[](std::string_view key) const {
  if (type_ != Type::Object) wrongType(Type::Object, type_);
  if (const Json* member = find(key)) return *member;
  throw JsonError("the object has no key \"" + std::string(key) + "\"");
}
const Json& Json::operator[](size_t index) const {
  if (type_ != Type::Array) wrongType(Type::Array, type_);
  if (index >= array_.size())
    throw JsonError("index " + std::to_string(index) + " is outside the array of " +
                    std::to_string(array_.size()) + " elements");
  return array_[index];
}
size_t Json::size() const {
  if (type_ == Type::Array) return array_.size();
  if (type_ == Type::Object) return object_.size();
  return 0;
}

// ---- writer ------------------------------------------------------------------------------------

void JsonWriter::separator() {
  if (afterKey_) {
    afterKey_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::beginObject() { separator(); out_ += '{'; first_.push_back(true); return *this; }
JsonWriter& JsonWriter::endObject() { out_ += '}'; first_.pop_back(); return *this; }
JsonWriter& JsonWriter::beginArray() { separator(); out_ += '['; first_.push_back(true); return *this; }
JsonWriter& JsonWriter::endArray() { out_ += ']'; first_.pop_back(); return *this; }

JsonWriter& JsonWriter::key(std::string_view name) {
  separator();
  out_ += quote(name);
  out_ += ':';
  afterKey_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) { separator(); out_ += quote(text); return *this; }

JsonWriter& JsonWriter::value(double number) {
  separator();
  if (!std::isfinite(number)) {
    out_ += "null";
  } else {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", number);
    out_ += buffer;
  }
  return *this;
}

JsonWriter& JsonWriter::value(int64_t number) { separator(); out_ += std::to_string(number); return *this; }
JsonWriter& JsonWriter::value(uint64_t number) { separator(); out_ += std::to_string(number); return *this; }
JsonWriter& JsonWriter::value(bool flag) { separator(); out_ += flag ? "true" : "false"; return *this; }
JsonWriter& JsonWriter::null() { separator(); out_ += "null"; return *this; }

std::string JsonWriter::quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            out += b;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = n > 0 && i + n <= s.size();
    for (int k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out + "\"";
}

}  // namespace cxr
