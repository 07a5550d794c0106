// A small streaming JSON writer for the --json output (no dependency; the output is one object).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cxr::cli {

class JsonWriter {
 public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(const std::string& name);
  JsonWriter& value(const std::string& text);
  JsonWriter& value(const char* text) { return value(std::string(text)); }
  JsonWriter& value(double number);
  JsonWriter& value(int64_t number);
  JsonWriter& value(uint64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  template <typename T>
  JsonWriter& array(const std::vector<T>& values) {
    beginArray();
    for (const T& v : values) value(static_cast<int64_t>(v));
    return endArray();
  }
  const std::string& str() const { return out_; }

  // JSON string literal of arbitrary bytes (invalid UTF-8 becomes U+FFFD, so the output is valid).
  static std::string quote(const std::string& text);

 private:
  void separator();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool afterKey_ = false;
};

}  // namespace cxr::cli
