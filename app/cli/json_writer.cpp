#include "json_writer.h"

#include <cmath>
#include <cstdio>

namespace cxr::cli {

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

JsonWriter& JsonWriter::key(const std::string& name) {
  separator();
  out_ += quote(name);
  out_ += ':';
  afterKey_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(const std::string& text) { separator(); out_ += quote(text); return *this; }

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

std::string JsonWriter::quote(const std::string& s) {
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
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out + "\"";
}

}  // namespace cxr::cli
