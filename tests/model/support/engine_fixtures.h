// Helpers for the engine tests: reading PNG crops (libpng, so the tests build without Qt), the
// engine's own JSON reader for the golden references, float32 files, and temporary model folders
// that tests break on purpose.
#pragma once

#include <png.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cxr/model/engine.h"
#include "support/json_file.h"

namespace fixtures {

namespace fs = std::filesystem;
using testjson::Json;

inline std::string readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
inline void writeText(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}
inline Json readJson(const fs::path& p) { return testjson::parseFile(p.string()); }

inline std::vector<float> readF32(const fs::path& p) {
  std::string s = readText(p);
  std::vector<float> v(s.size() / 4);
  std::memcpy(v.data(), s.data(), v.size() * 4);
  return v;
}

// Greedy decoding (temperature 0: argmax, the reference's rule) of at most `steps` tokens. No seed:
// greedy draws nothing, and the engine still reports the seed it drew.
inline cxr::SamplingParams greedy(int steps) {
  cxr::SamplingParams p;
  p.temperature = 0;
  p.maxNewTokens = steps;
  return p;
}

// 8-bit gray PNG -> ImageInput (channels 1). Empty image when it cannot be read.
inline cxr::ImageInput loadGrayPng(const fs::path& p) {
  cxr::ImageInput img;
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, p.c_str())) return img;
  png.format = PNG_FORMAT_GRAY;
  img.width = int(png.width);
  img.height = int(png.height);
  img.pixels.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, img.pixels.data(), 0, nullptr)) return {};
  return img;
}

inline std::vector<int32_t> intList(const Json& a) { return testjson::ints(a); }
inline std::vector<double> numList(const Json& a) {
  std::vector<double> v;
  for (const auto& x : a) v.push_back(x.get<double>());
  return v;
}

// The reference's summary statistics (golden-cxrllava README), in float64.
struct Summary {
  double sum = 0, absSum = 0, sqSum = 0, weighted = 0;
};
inline Summary summarize(const std::vector<float>& x) {
  Summary s;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    s.sum += v;
    s.absSum += std::fabs(v);
    s.sqSum += v * v;
    s.weighted += v * (double(i % 1009) / 1009.0 - 0.5);
  }
  return s;
}

inline double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

// A fresh temporary folder, removed by the destructor.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("cxr-model-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline void copyFolder(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    fs::copy_file(e.path(), to / e.path().filename(), fs::copy_options::overwrite_existing);
    fs::permissions(to / e.path().filename(), fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::add);
  }
}

// A safetensors file split into its header JSON text and data bytes, to be edited and written back.
struct Safetensors {
  std::string header;  // JSON text
  std::string data;    // bytes after the header
  static Safetensors read(const fs::path& p) {
    std::string s = readText(p);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(s[size_t(i)]);
    return {s.substr(8, n), s.substr(8 + n)};
  }
  void write(const fs::path& p) const {
    std::string out(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xFF);
    writeText(p, out + header + data);
  }
  // Replaces the first occurrence of `from` in the header (fails loudly in the test if absent).
  bool patch(const std::string& from, const std::string& to) {
    auto at = header.find(from);
    if (at == std::string::npos) return false;
    header.replace(at, from.size(), to);
    return true;
  }
};

// Rebuilds a safetensors header from its parsed entries, leaving out `drop` (a test edits the
// entries first: rename, reshape, remove).
struct HeaderEntry {
  std::string name, dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};
inline std::vector<HeaderEntry> headerEntries(const std::string& headerJson) {
  std::vector<HeaderEntry> out;
  // in file order, as the engine sees the entries
  const nlohmann::ordered_json header = nlohmann::ordered_json::parse(headerJson);
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") continue;
    HeaderEntry h;
    h.name = name;
    h.dtype = e.at("dtype").get<std::string>();
    for (const auto& d : e.at("shape")) h.shape.push_back(d.get<int64_t>());
    h.begin = uint64_t(e.at("data_offsets")[0].get<int64_t>());
    h.end = uint64_t(e.at("data_offsets")[1].get<int64_t>());
    out.push_back(h);
  }
  return out;
}
inline std::string headerJson(const std::vector<HeaderEntry>& entries) {
  std::string s = "{";
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    s += (i ? "," : "") + Json(e.name).dump() + ":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
    for (size_t j = 0; j < e.shape.size(); ++j) s += (j ? "," : "") + std::to_string(e.shape[j]);
    s += "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
  }
  s += "}";
  while (s.size() % 8) s += ' ';
  return s;
}

}  // namespace fixtures
