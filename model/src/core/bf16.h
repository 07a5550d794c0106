// Shared pieces of the hand-written CPU kernels: scalar bf16 <-> fp32 conversions (bit patterns as
// uint16_t), the lane sums of AVX-512 and AVX2 accumulators, and the AVX2 widening and rounding of bf16 lanes.
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

// The 8 fp32 lanes summed in order.
__attribute__((target("avx2"))) inline float horizontalSum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float sum = 0;
  for (float f : lanes) sum += f;
  return sum;
}

// 8 bf16 -> 8 fp32 in order (exact: the bits move up by 16).
__attribute__((target("avx2"))) inline __m256 widenBf16x8(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

// 8 fp32 lanes rounded to bf16 (nearest even, as floatToBf16 does; a NaN becomes the quiet NaN
// 0x7FC0), still as fp32 lanes: what a bf16 op's result is when the next op reads it.
__attribute__((target("avx2"))) inline __m256 roundToBf16x8(__m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i up = _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF)));
  const __m256i kept = _mm256_and_si256(up, _mm256_set1_epi32(int32_t(0xFFFF0000u)));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_castsi256_ps(_mm256_blendv_epi8(kept, _mm256_set1_epi32(0x7FC00000), nan));
}

// 8 fp32 -> 8 bf16 stored at p, rounded as roundToBf16x8 rounds.
__attribute__((target("avx2"))) inline void storeBf16x8(uint16_t* p, __m256 v) {
  const __m256i halves = _mm256_srli_epi32(_mm256_castps_si256(roundToBf16x8(v)), 16);  // each in 0 .. 0xFFFF
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm_packus_epi32(_mm256_castsi256_si128(halves), _mm256_extracti128_si256(halves, 1)));
}

// 16 bf16 -> two times 8 fp32, in the order of AVX2's in-lane unpacking: `low` holds elements 0-3 and
// 8-11, `high` 4-7 and 12-15. Two shuffles for 16 elements instead of four; a dot product stays exact
// as long as both operands are permuted alike.
__attribute__((target("avx2"))) inline void widenBf16x16Unpacked(__m256i raw, __m256& low, __m256& high) {
  const __m256i zero = _mm256_setzero_si256();
  low = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, raw));
  high = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, raw));
}

}  // namespace cxr::detail
