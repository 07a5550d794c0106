#include "core/gemv_bf16.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <cstring>

namespace cxr::detail {

namespace {

inline float bf16ToFloat(uint16_t v) {
  uint32_t u = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return uint16_t((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7FFF + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

__attribute__((target("avx512f,avx512bf16"))) void rows(const uint16_t* w, const uint16_t* x, uint16_t* y,
                                                        int64_t begin, int64_t end, int64_t k) {
  const int64_t k64 = k / 64 * 64, k32 = k / 32 * 32;
  for (int64_t r = begin; r < end; ++r) {
    const uint16_t* row = w + r * k;  // [K]
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i < k64; i += 64) {
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
      acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_loadu_si512(row + i + 32),
                              (__m512bh)_mm512_loadu_si512(x + i + 32));
    }
    for (; i < k32; i += 32)
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(acc0, acc1));
    float sum = 0;
    for (float v : lanes) sum += v;
    for (; i < k; ++i) sum += bf16ToFloat(row[i]) * bf16ToFloat(x[i]);
    y[r] = floatToBf16(sum);
  }
}

}  // namespace

bool gemvBf16Available() {
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return available;
}

void gemvBf16(const uint16_t* w, const uint16_t* x, uint16_t* y, int64_t n, int64_t k) {
  // Grain: at least 16 rows (a 4096-wide row is 8 KiB) so that thread hand-off stays cheap.
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) { rows(w, x, y, begin, end, k); });
}

}  // namespace cxr::detail
