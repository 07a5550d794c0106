// Which decoder weights a load uses (LoadOptions::weights): the names, and the rule of "auto".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/quant_format.h"

namespace cxr::detail {

// MemAvailable of /proc/meminfo in bytes (nullopt when it cannot be read).
std::optional<int64_t> availableMemoryBytes();

struct WeightsChoice {
  std::optional<QuantFormat> format;  // nullopt: bf16 (as stored)
  std::string reason;                 // why "auto" chose a quantized format; empty otherwise
};

// "bf16" / "int8" / "int4" as asked; "auto": bf16 unless `available` bytes cannot hold the bf16
// weights (parameters x 2 bytes) plus 1.5 GiB, then int8. Throws ModelError for other values.
WeightsChoice chooseWeights(const std::string& asked, int64_t parameters, std::optional<int64_t> available);

}  // namespace cxr::detail
