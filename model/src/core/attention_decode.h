// Attention of ONE new position against the KV cache on CPU in bf16 (every decode step), as two
// kernels around libtorch's fp32 softmax, each in an AVX-512 and an AVX2 + FMA variant chosen by the
// CPU level (cpu_level.h). Same contract as the general attention() of
// attention_prefill.h: scores q.K rounded to bf16 (the bf16 matmul result), then scaled and softmaxed
// in fp32, probabilities rounded to bf16, their product with V accumulated in fp32 and rounded to
// bf16. Why: at::matmul on [heads, 1, keys] bf16 batches goes through a slow generic path; after the
// 1121-position report prompt it cost ~100 ms of a ~550 ms decode step, against ~20 ms to read the
// cache.
#pragma once

#include <cstdint>

#include "core/cpu_level.h"

namespace cxr::detail {

// True when the CPU runs one of the variants and the head width is a multiple of 16, at most 256.
bool attentionDecodeAvailable(int64_t headDim);

// `level` picks the variant (tests run both); the CPU must have it.
// q: [heads, hd]. k, v: [kvHeads, capacity, hd] (the cache; the first `keys` positions are used).
// Query head h reads kv head h / (heads / kvHeads). scores: [heads, keys] fp32 scratch, returned
// scaled (scale * bf16(q.k)); the caller softmaxes them into probs: [heads, keys] bf16.
void attentionScoresBf16(const uint16_t* q, const uint16_t* k, int64_t heads, int64_t kvHeads, int64_t capacity,
                         int64_t keys, int64_t hd, float scale, float* scores, CpuLevel level = cpuLevel());
// out: [heads, hd] = probs . V (fp32 accumulation, rounded to bf16).
void attentionValuesBf16(const uint16_t* probs, const uint16_t* v, int64_t heads, int64_t kvHeads, int64_t capacity,
                         int64_t keys, int64_t hd, uint16_t* out, CpuLevel level = cpuLevel());

// The same two kernels for query heads [h0, h1) only, on the calling thread: for callers that split
// the heads over threads themselves (one parallel call per layer for scores, softmax and values).
void attentionScoresForHeads(const uint16_t* q, const uint16_t* k, int64_t h0, int64_t h1, int64_t heads,
                             int64_t kvHeads, int64_t capacity, int64_t keys, int64_t hd, float scale, float* scores,
                             CpuLevel level = cpuLevel());
void attentionValuesForHeads(const uint16_t* probs, const uint16_t* v, int64_t h0, int64_t h1, int64_t heads,
                             int64_t kvHeads, int64_t capacity, int64_t keys, int64_t hd, uint16_t* out,
                             CpuLevel level = cpuLevel());

}  // namespace cxr::detail
