#include "core/attention_decode.h"

#include <immintrin.h>

#include "core/bf16.h"
#include "core/gemv_bf16.h"
#include "core/thread_pool.h"

namespace cxr::detail {

namespace {

__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline float dotBf16(const uint16_t* a, const uint16_t* b,
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
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void scoreHeads(const uint16_t* q, const uint16_t* k, int64_t h0,
                                                              int64_t h1, int64_t group, int64_t capacity,
                                                              int64_t keys, int64_t hd, float scale, float* scores) {
  for (int64_t h = h0; h < h1; ++h) {
    const uint16_t* qh = q + h * hd;
    const uint16_t* kh = k + (h / group) * capacity * hd;  // [capacity, hd]
    float* out = scores + h * keys;
    for (int64_t j = 0; j < keys; ++j) out[j] = scale * bf16ToFloat(floatToBf16(dotBf16(qh, kh + j * hd, hd)));
  }
}

// out[h, :] = bf16(sum_j probs[h, j] * v_j) for heads [h0, h1); hd is a multiple of 16 and at most 256.
__attribute__((target("avx512f,avx512bf16"))) void valueHeads(const uint16_t* probs, const uint16_t* v, int64_t h0,
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

}  // namespace

bool attentionDecodeAvailable(int64_t headDim) {
  static const bool cpu = gemvBf16Available() && __builtin_cpu_supports("avx512bw");
  return cpu && headDim % 16 == 0 && headDim <= 256;
}

void attentionScoresBf16(const uint16_t* q, const uint16_t* k, int64_t heads, int64_t kvHeads, int64_t capacity,
                         int64_t keys, int64_t hd, float scale, float* scores) {
  parallelFor(heads, 1, [&](int64_t h0, int64_t h1) {
    attentionScoresForHeads(q, k, h0, h1, heads, kvHeads, capacity, keys, hd, scale, scores);
  });
}

void attentionValuesBf16(const uint16_t* probs, const uint16_t* v, int64_t heads, int64_t kvHeads, int64_t capacity,
                         int64_t keys, int64_t hd, uint16_t* out) {
  parallelFor(heads, 1, [&](int64_t h0, int64_t h1) {
    attentionValuesForHeads(probs, v, h0, h1, heads, kvHeads, capacity, keys, hd, out);
  });
}

void attentionScoresForHeads(const uint16_t* q, const uint16_t* k, int64_t h0, int64_t h1, int64_t heads,
                             int64_t kvHeads, int64_t capacity, int64_t keys, int64_t hd, float scale, float* scores) {
  scoreHeads(q, k, h0, h1, heads / kvHeads, capacity, keys, hd, scale, scores);
}

void attentionValuesForHeads(const uint16_t* probs, const uint16_t* v, int64_t h0, int64_t h1, int64_t heads,
                             int64_t kvHeads, int64_t capacity, int64_t keys, int64_t hd, uint16_t* out) {
  valueHeads(probs, v, h0, h1, heads / kvHeads, capacity, keys, hd, out);
}

}  // namespace cxr::detail
