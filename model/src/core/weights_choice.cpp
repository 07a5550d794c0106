#include "core/weights_choice.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cxr/model/types.h"

namespace cxr {

std::string checkWeightsChoice(const std::string& weights) {
  if (weights.empty() || weights == "auto" || weights == "bf16" || weights == "int8" || weights == "int4") return {};
  return "weights '" + weights + "' are not known: use bf16 (as stored), int8, int4 or auto";
}

}  // namespace cxr

namespace cxr::detail {

std::optional<int64_t> availableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

namespace {
std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / 1073741824.0);
  return text;
}
}  // namespace

WeightsChoice chooseWeights(const std::string& asked, int64_t parameters, std::optional<int64_t> available) {
  if (const std::string problem = checkWeightsChoice(asked); !problem.empty()) throw ModelError(problem);
  WeightsChoice c;
  if (asked == "int8") c.format = QuantFormat::Int8;
  if (asked == "int4") c.format = QuantFormat::Int4;
  if (asked == "auto" || asked.empty()) {
    constexpr int64_t kHeadroom = int64_t(3) << 29;  // 1.5 GiB for the KV cache, activations, the program
    const int64_t needed = parameters * 2;
    if (available && *available < needed + kHeadroom) {
      c.format = QuantFormat::Int8;
      c.reason = "int8 weights: " + gib(double(*available)) + " of memory is available, the bf16 weights need " +
                 gib(double(needed)) + " + 1.5 GiB (choose bf16 explicitly to override)";
    }
  }
  return c;
}

}  // namespace cxr::detail
