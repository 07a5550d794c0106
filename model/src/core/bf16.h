// Shared pieces of the hand-written CPU kernels: scalar bf16 <-> fp32 conversions (bit patterns as
// uint16_t) and the lane sum of an AVX-512 accumulator.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace cxr::detail {

inline float bf16ToFloat(uint16_t v) {
  const uint32_t u = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as torch's float -> bfloat16 conversion does.
inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return uint16_t((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7FFF + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

// The 16 fp32 lanes summed in order. (GCC 12's _mm512_reduce_add_ps trips -Wmaybe-uninitialized.)
__attribute__((target("avx512f"))) inline float horizontalSum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0;
  for (float f : lanes) sum += f;
  return sum;
}

}  // namespace cxr::detail
