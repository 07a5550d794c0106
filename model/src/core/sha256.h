// SHA-256 (FIPS 180-4) for provenance: ModelInfo reports hashes of config.json and the weight index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cxr::detail {

std::string sha256Hex(const void* data, size_t size);

}  // namespace cxr::detail
