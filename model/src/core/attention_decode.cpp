#include "core/attention_decode.h"

#include <immintrin.h>

#include "core/bf16.h"
#include "core/thread_pool.h"

namespace cxr::detail {

namespace {

__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline float dotBf16Avx512(const uint16_t* a, const uint16_t* b,
                                                                          int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(a + i), (__m512bh)_mm512_loadu_si512(b + i));
  if (i < n) {  // a tail of fewer than 32: masked loads fill the rest with zeros
    const __mmask32 mask = __mmask32((uint64_t(1) << (n - i)) - 1);
    acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_maskz_loadu_epi16(mask, a + i),
                           (__m512bh)_mm512_maskz_loadu_epi16(mask, b + i));
  }
  return horizontalSum(acc);
}

// scores[h, j] = scale * bf16(q_h . k_j) for heads [h0, h1).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void scoreHeadsAvx512(const uint16_t* q, const uint16_t* k, int64_t h0,
                                                              int64_t h1, int64_t group, int64_t capacity,
                                                              int64_t keys, int64_t hd, float scale, float* scores) {
  for (int64_t h = h0; h < h1; ++h) {
    const uint16_t* qh = q + h * hd;
    const uint16_t* kh = k + (h / group) * capacity * hd;  // [capacity, hd]
    float* out = scores + h * keys;
    for (int64_t j = 0; j < keys; ++j) out[j] = scale * bf16ToFloat(floatToBf16(dotBf16Avx512(qh, kh + j * hd, hd)));
  }
}

// out[h, :] = bf16(sum_j probs[h, j] * v_j) for heads [h0, h1); hd is a multiple of 16 and at most 256.
__attribute__((target("avx512f,avx512bf16"))) void valueHeadsAvx512(const uint16_t* probs, const uint16_t* v, int64_t h0,
                                                              int64_t h1, int64_t group, int64_t capacity,
                                                              int64_t keys, int64_t hd, uint16_t* out) {
  const int64_t blocks = hd / 16;  // 16 fp32 lanes per accumulator
  for (int64_t h = h0; h < h1; ++h) {
    const uint16_t* ph = probs + h * keys;
    const uint16_t* vh = v + (h / group) * capacity * hd;  // [capacity, hd]
    __m512 acc[16];
    for (int64_t b = 0; b < blocks; ++b) acc[b] = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; ++j) {
      const __m512 p = _mm512_set1_ps(bf16ToFloat(ph[j]));
      const uint16_t* row = vh + j * hd;
      for (int64_t b = 0; b < blocks; ++b) {
        // 16 bf16 -> 16 fp32 (exact: the bits move up by 16), then a fused multiply-add in fp32. The
        // maskz forms with a full mask are the plain ones without GCC 12's maybe-uninitialized noise.
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 16));
        const __m512 vals = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, raw), 16));
        acc[b] = _mm512_fmadd_ps(p, vals, acc[b]);
      }
    }
    alignas(64) float lanes[16];
    for (int64_t b = 0; b < blocks; ++b) {
      _mm512_store_ps(lanes, acc[b]);
      for (int i = 0; i < 16; ++i) out[h * hd + b * 16 + i] = floatToBf16(lanes[i]);
    }
  }
}

// ---- AVX2 + FMA: bf16 widened to fp32 by a shift, 8 lanes per accumulator.

// q . k over n elements; both operands widened in the same (unpacked) order, so the sum is exact.
__attribute__((target("avx2,fma"))) inline float dotBf16Avx2(const uint16_t* a, const uint16_t* b, int64_t n) {
  __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 al, ah, bl, bh;
    widenBf16x16Unpacked(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)), al, ah);
    widenBf16x16Unpacked(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)), bl, bh);
    low = _mm256_fmadd_ps(al, bl, low);
    high = _mm256_fmadd_ps(ah, bh, high);
  }
  float sum = horizontalSum(_mm256_add_ps(low, high));
  for (; i < n; ++i) sum += bf16ToFloat(a[i]) * bf16ToFloat(b[i]);
  return sum;
}

__attribute__((target("avx2,fma"))) void scoreHeadsAvx2(const uint16_t* q, const uint16_t* k, int64_t h0, int64_t h1,
                                                        int64_t group, int64_t capacity, int64_t keys, int64_t hd,
                                                        float scale, float* scores) {
  for (int64_t h = h0; h < h1; ++h) {
    const uint16_t* qh = q + h * hd;
    const uint16_t* kh = k + (h / group) * capacity * hd;  // [capacity, hd]
    float* out = scores + h * keys;
    for (int64_t j = 0; j < keys; ++j) out[j] = scale * bf16ToFloat(floatToBf16(dotBf16Avx2(qh, kh + j * hd, hd)));
  }
}

// hd is a multiple of 16 and at most 256: at most 32 accumulators of 8 lanes.
__attribute__((target("avx2,fma"))) void valueHeadsAvx2(const uint16_t* probs, const uint16_t* v, int64_t h0, int64_t h1,
                                                        int64_t group, int64_t capacity, int64_t keys, int64_t hd,
                                                        uint16_t* out) {
  const int64_t blocks = hd / 8;
  for (int64_t h = h0; h < h1; ++h) {
    const uint16_t* ph = probs + h * keys;
    const uint16_t* vh = v + (h / group) * capacity * hd;  // [capacity, hd]
    __m256 acc[32];
    for (int64_t b = 0; b < blocks; ++b) acc[b] = _mm256_setzero_ps();
    for (int64_t j = 0; j < keys; ++j) {
      const __m256 p = _mm256_set1_ps(bf16ToFloat(ph[j]));
      const uint16_t* row = vh + j * hd;
      for (int64_t b = 0; b < blocks; ++b) acc[b] = _mm256_fmadd_ps(p, widenBf16x8(row + b * 8), acc[b]);
    }
    alignas(32) float lanes[8];
    for (int64_t b = 0; b < blocks; ++b) {
      _mm256_store_ps(lanes, acc[b]);
      for (int i = 0; i < 8; ++i) out[h * hd + b * 8 + i] = floatToBf16(lanes[i]);
    }
  }
}

}  // namespace

bool attentionDecodeAvailable(int64_t headDim) {
  static const bool cpu = cpuLevel() == CpuLevel::Avx512 || cpuHasAvx2();
  return cpu && headDim % 16 == 0 && headDim <= 256;
}

void attentionScoresBf16(const uint16_t* q, const uint16_t* k, int64_t heads, int64_t kvHeads, int64_t capacity,
                         int64_t keys, int64_t hd, float scale, float* scores, CpuLevel level) {
  parallelFor(heads, 1, [&](int64_t h0, int64_t h1) {
    attentionScoresForHeads(q, k, h0, h1, heads, kvHeads, capacity, keys, hd, scale, scores, level);
  });
}

void attentionValuesBf16(const uint16_t* probs, const uint16_t* v, int64_t heads, int64_t kvHeads, int64_t capacity,
                         int64_t keys, int64_t hd, uint16_t* out, CpuLevel level) {
  parallelFor(heads, 1, [&](int64_t h0, int64_t h1) {
    attentionValuesForHeads(probs, v, h0, h1, heads, kvHeads, capacity, keys, hd, out, level);
  });
}

void attentionScoresForHeads(const uint16_t* q, const uint16_t* k, int64_t h0, int64_t h1, int64_t heads,
                             int64_t kvHeads, int64_t capacity, int64_t keys, int64_t hd, float scale, float* scores,
                             CpuLevel level) {
  if (level == CpuLevel::Avx512) scoreHeadsAvx512(q, k, h0, h1, heads / kvHeads, capacity, keys, hd, scale, scores);
  else scoreHeadsAvx2(q, k, h0, h1, heads / kvHeads, capacity, keys, hd, scale, scores);
}

void attentionValuesForHeads(const uint16_t* probs, const uint16_t* v, int64_t h0, int64_t h1, int64_t heads,
                             int64_t kvHeads, int64_t capacity, int64_t keys, int64_t hd, uint16_t* out,
                             CpuLevel level) {
  if (level == CpuLevel::Avx512) valueHeadsAvx512(probs, v, h0, h1, heads / kvHeads, capacity, keys, hd, out);
  else valueHeadsAvx2(probs, v, h0, h1, heads / kvHeads, capacity, keys, hd, out);
}

}  // namespace cxr::detail
