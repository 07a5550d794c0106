#include "core/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

namespace cxr::detail {

namespace {

// ---- the lenient tokens, found before nlohmann sees the text ---------------------------------------
// nlohmann refuses NaN, Infinity and numbers beyond the double range. One pass over the text (aware
// of strings, nothing else) writes `null` in their place and remembers, per null token in document
// order, which number it stands for; the builder below puts the number back. The same pass notes
// where the nesting first gets too deep, so that the refusal can name the byte.

struct NonFinite {
  size_t nullOrdinal;  // the how-manyth null token of the text
  double value;
};

struct Prescan {
  std::string rewritten;            // empty: the text needs no rewriting
  std::vector<NonFinite> nonFinite;
  std::vector<size_t> nanAt;        // rewritten offsets of "null" that was "NaN" (one byte longer)
  std::optional<size_t> tooDeepAt;  // offset of the first container beyond kMaxJsonDepth
};

bool startsWith(std::string_view s, size_t at, std::string_view word) { return s.substr(at, word.size()) == word; }

Prescan prescan(std::string_view s) {
  Prescan p;
  size_t nulls = 0, copiedUpTo = 0;
  int depth = 0;
  auto replace = [&](size_t at, size_t length, std::string_view with, double value) {
    if (p.rewritten.empty()) p.rewritten.reserve(s.size() + 16);
    p.rewritten.append(s.substr(copiedUpTo, at - copiedUpTo));
    p.rewritten.append(with);
    p.rewritten.append(length > with.size() ? length - with.size() : 0, ' ');
    copiedUpTo = at + length;
    p.nonFinite.push_back({nulls++, value});
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {  // skip the string; its escapes cannot end it
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth && !p.tooDeepAt) p.tooDeepAt = i;
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    } else if (c == 'n' && startsWith(s, i, "null")) {
      ++nulls;
      i += 3;
    } else if (c == 'N' && startsWith(s, i, "NaN")) {
      p.nanAt.push_back(p.rewritten.size() + (i - copiedUpTo));
      replace(i, 3, "null", std::numeric_limits<double>::quiet_NaN());
      i += 2;
    } else if (c == 'I' && startsWith(s, i, "Infinity")) {
      replace(i, 8, "null", std::numeric_limits<double>::infinity());
      i += 7;
    } else if (c == '-' && startsWith(s, i, "-Infinity")) {
      replace(i, 9, "null", -std::numeric_limits<double>::infinity());
      i += 8;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      // A number: only one with an exponent or more than 300 digits can overflow a double.
      size_t end = i + 1, digits = 0;
      bool exponent = false;
      for (; end < s.size(); ++end) {
        const char d = s[end];
        if (d >= '0' && d <= '9') ++digits;
        else if (d == 'e' || d == 'E') exponent = true;
        else if (d != '.' && d != '+' && d != '-') break;
      }
      if (exponent || digits > 300) {
        const std::string token(s.substr(i, end - i));
        const double x = std::strtod(token.c_str(), nullptr);
        if (std::isinf(x)) replace(i, end - i, "null", x);  // never shorter than "null": 1e309
      }
      i = end - 1;
    }
  }
  if (!p.rewritten.empty()) p.rewritten.append(s.substr(copiedUpTo));
  return p;
}

// ---- the document, built from nlohmann's SAX events ---------------------------------------------------
// As nlohmann's own DOM builder, plus: the depth limit, duplicate keys refused, the lenient numbers.

class Builder : public nlohmann::json_sax<Json> {
 public:
  Builder(Json& root, const std::vector<NonFinite>& nonFinite) : root_(root), nonFinite_(nonFinite) {}

  bool null() override {
    const size_t ordinal = nulls_++;
    if (next_ < nonFinite_.size() && nonFinite_[next_].nullOrdinal == ordinal)
      return put(Json(nonFinite_[next_++].value));
    return put(Json(nullptr));
  }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(Json(v)); }
  bool string(string_t& v) override { return put(Json(std::move(v))); }
  bool binary(binary_t&) override { return false; }  // only in binary formats
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    auto& members = stack_.back()->get_ref<Json::object_t&>();
    const auto [it, inserted] = members.try_emplace(std::move(k));  // k is left alone when present
    if (!inserted) {
      duplicateKey = k;
      duplicateTopLevel = stack_.size() == 1;
      return false;
    }
    slot_ = &it->second;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
    errorPosition = position;
    return false;
  }

  std::optional<std::string> duplicateKey;
  bool duplicateTopLevel = false;
  bool tooDeep = false;
  std::optional<size_t> errorPosition;  // nlohmann's count of bytes read, the offending one included

 private:
  Json* put(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& parent = *stack_.back();
    if (parent.is_array()) {
      auto& elements = parent.get_ref<Json::array_t&>();
      elements.push_back(std::move(v));
      return &elements.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }
  bool open(Json&& container) {
    if (stack_.size() >= size_t(kMaxJsonDepth)) {
      tooDeep = true;
      return false;
    }
    // The parent does not grow while this container is open, so the pointer stays valid.
    stack_.push_back(put(std::move(container)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  Json& root_;
  const std::vector<NonFinite>& nonFinite_;
  size_t nulls_ = 0, next_ = 0;
  std::vector<Json*> stack_;
  Json* slot_ = nullptr;
};

// "at byte 11 (after '{"legacy": ')": the text just before `at` (same line, up to 24 bytes), so that
// a person can find the place in the file.
std::string where(std::string_view s, size_t at, uint64_t firstByte) {
  const size_t end = std::min(at, s.size());
  size_t begin = end > 24 ? end - 24 : 0;
  const size_t newline = end == 0 ? std::string_view::npos : s.rfind('\n', end - 1);
  if (newline != std::string_view::npos && newline + 1 > begin) begin = newline + 1;
  std::string text = "at byte " + std::to_string(firstByte + at);
  if (end > begin) text += " (after '" + std::string(s.substr(begin, end - begin)) + "')";
  return text;
}

}  // namespace

std::optional<Json> parseJson(std::string_view text, JsonParseError& error, uint64_t firstByte) {
  const Prescan pre = prescan(text);
  const std::string_view parsed = pre.rewritten.empty() ? text : std::string_view(pre.rewritten);
  Json root;
  Builder builder(root, pre.nonFinite);
  if (Json::sax_parse(parsed.begin(), parsed.end(), &builder, nlohmann::detail::input_format_t::json,
                      /*strict=*/true, /*ignore_comments=*/false))
    return root;

  error = {};
  if (builder.duplicateKey) {
    error.kind = JsonParseError::Kind::DuplicateKey;
    error.key = *builder.duplicateKey;
    error.topLevel = builder.duplicateTopLevel;
    error.detail = "the key " + jsonQuoted(error.key) + " appears twice in one object";
  } else if (builder.tooDeep) {
    error.kind = JsonParseError::Kind::TooDeep;
    error.detail = where(text, pre.tooDeepAt.value_or(text.size()), firstByte) + ": nesting deeper than " +
                   std::to_string(kMaxJsonDepth) + " levels";
  } else {
    // The offending byte in the parsed text, then in the original (each "NaN" became one byte longer).
    size_t at = builder.errorPosition.value_or(1);
    at = at > 0 ? at - 1 : 0;
    size_t shift = 0;
    for (const size_t nan : pre.nanAt) {
      if (nan + 4 <= at) ++shift;
      else if (nan <= at) at = nan + std::min<size_t>(at - nan, 2);  // inside the token: on "NaN"
    }
    at -= shift;
    error.kind = JsonParseError::Kind::Syntax;
    std::string what;
    if (at >= text.size()) {
      what = "the text ends before the JSON value is complete";
    } else {
      const auto c = static_cast<unsigned char>(text[at]);
      char shown[48];
      if (c >= 0x20 && c < 0x7F) std::snprintf(shown, sizeof shown, "unexpected character '%c'", c);
      else std::snprintf(shown, sizeof shown, "unexpected byte 0x%02X", c);
      what = shown;
    }
    error.detail = where(text, at, firstByte) + ": " + what;
  }
  return std::nullopt;
}

std::optional<Json> readJsonFile(const std::string& path, const std::string& shownName, ModelFileError& error,
                                 std::string* textOut) {
  std::optional<std::string> text = readModelFile(path, shownName, kMaxJsonFileBytes, error);
  if (!text) return std::nullopt;
  JsonParseError parseError;
  std::optional<Json> json = parseJson(*text, parseError);
  if (!json) {
    error.kind = ModelFileError::Kind::Malformed;
    error.message = parseError.kind == JsonParseError::Kind::DuplicateKey
                        ? shownName + ": " + parseError.detail + " (readers disagree on which value counts)"
                        : shownName + " is not valid JSON (" + parseError.detail + ")";
  }
  if (textOut) *textOut = std::move(*text);
  return json;
}

std::optional<int64_t> jsonInt(const Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return int64_t(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

std::string jsonTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "a number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "an unknown value";
  }
}

const Json* jsonMember(const Json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string jsonQuoted(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

}  // namespace cxr::detail
