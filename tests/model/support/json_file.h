// Golden files and the tool's --json output, read with the engine's own JSON parser
// (cxr/model/json.h): the tests check the same implementation the engine uses.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cxr/model/json.h"

namespace testjson {

inline cxr::Json parseFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return cxr::Json::parse(ss.str());
  } catch (const cxr::JsonError& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

// An array of numbers as ids (golden ids and shapes are integers; 32-bit is enough).
inline std::vector<int32_t> ints(const cxr::Json& array) {
  std::vector<int32_t> out;
  for (const cxr::Json& v : array.asArray()) out.push_back(static_cast<int32_t>(v.asInt()));
  return out;
}

}  // namespace testjson
