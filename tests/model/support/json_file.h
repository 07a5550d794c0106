// Golden files and the tool's --json output, read with nlohmann-json (the tests' own include; the
// engine's JSON reader is private to model/src).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace testjson {

using Json = nlohmann::json;

// `text` as JSON; std::runtime_error naming `what` when it is not.
inline Json parse(const std::string& text, const std::string& what = "the text") {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw std::runtime_error(what + " is not valid JSON: " + e.what());
  }
}

inline Json parseFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

// An array of numbers as ids (golden ids and shapes are integers; 32-bit is enough).
inline std::vector<int32_t> ints(const Json& array) {
  std::vector<int32_t> out;
  for (const Json& v : array) out.push_back(static_cast<int32_t>(v.get<int64_t>()));
  return out;
}

}  // namespace testjson
