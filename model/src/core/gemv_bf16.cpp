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

__attribute__((target("avx512f,avx512bf16"))) inline float horizontalSum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0;
  for (float f : lanes) sum += f;
  return sum;
}

// Four rows per pass: four independent memory streams keep more loads in flight than one, and
// each 32-wide slice of x is loaded once for the four rows.
__attribute__((target("avx512f,avx512bf16"))) void rows(const uint16_t* w, const uint16_t* x, uint16_t* y,
                                                        int64_t begin, int64_t end, int64_t k) {
  const int64_t k32 = k / 32 * 32;
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) {
    const uint16_t* r0 = w + r * k;  // [4, K]
    const uint16_t* r1 = r0 + k;
    const uint16_t* r2 = r1 + k;
    const uint16_t* r3 = r2 + k;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i < k32; i += 32) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + i);
      a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(r0 + i), xv);
      a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(r1 + i), xv);
      a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(r2 + i), xv);
      a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(r3 + i), xv);
    }
    float s0 = horizontalSum(a0), s1 = horizontalSum(a1), s2 = horizontalSum(a2), s3 = horizontalSum(a3);
    for (; i < k; ++i) {
      const float xi = bf16ToFloat(x[i]);
      s0 += bf16ToFloat(r0[i]) * xi;
      s1 += bf16ToFloat(r1[i]) * xi;
      s2 += bf16ToFloat(r2[i]) * xi;
      s3 += bf16ToFloat(r3[i]) * xi;
    }
    y[r] = floatToBf16(s0);
    y[r + 1] = floatToBf16(s1);
    y[r + 2] = floatToBf16(s2);
    y[r + 3] = floatToBf16(s3);
  }
  for (; r < end; ++r) {
    const uint16_t* row = w + r * k;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i < k32; i += 32)
      acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
    float sum = horizontalSum(acc);
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
