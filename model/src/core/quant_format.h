// The block formats of the quantized decoder weights (LoadOptions::weights "int8" / "int4").
//
// Each row of a [N, K] weight matrix is cut into ceil(K / 32) blocks of 32 consecutive weights
// (the last one zero-padded when K is not a multiple of 32), stored one after the other:
//
// - Int8 (GGUF Q8_0's layout): fp16 scale d, then 32 signed bytes q; weight = d * q, q in
//   [-127, 127], d = max|w| / 127. 34 bytes per 32 weights = 8.5 bits per weight.
// - Int4 (GGUF Q4_1's blocks: scale AND minimum per block): fp16 d, fp16 m, and 16 bytes of levels
//   whose low nibble holds weight j and high nibble weight j + 16 (j = 0..15); weight = d * q + m,
//   q in [0, 15]. 20 bytes per 32 weights = 5 bits per weight. Unlike Q4_1, a row keeps its blocks
//   in groups of four: the four (d, m) pairs (16 bytes), then the four blocks' levels (64 bytes); a
//   row's last group may hold fewer blocks g, laid out the same way (4g bytes, then 16g). Why: the
//   decode kernels take four blocks at a time, and block after block they spent 8 loads and 6
//   inserts per four blocks gathering the pairs and the levels, where grouped they take one 16-byte
//   and one 64-byte load: 0.75 -> 0.55 ns a block in cache at the VNNI level, 0.88 -> 0.67 at AVX2,
//   bit for bit the same results (docs/performance.md). Quant caches of the per-block layout (layout
//   1) are made again.
//
// Why this 4-bit format: a minimum per block follows the skew of small blocks of trained weights
// (Q4_0's symmetric scale wastes half a level on it), and 32-weight blocks with fp16 d and m keep
// one uniform block shape, so the decode kernels of both CPU levels stay one simple loop. Its
// quality comes from how d and m are chosen, not from the layout: instead of Q4_1's plain
// d = (max - min) / 15, m = min, each block tries 31 candidate scales (as llama.cpp's
// make_qkx2_quants does for Q4_K), fits d and m to the resulting levels by least squares, and keeps
// the fit with the smallest squared error after rounding d and m to fp16 (never worse than the plain
// rule, which is the first candidate). On the trained stories260K decoder weights and lm_head this
// lowers the squared error by 23 % against plain min/max Q4_1 (38.2 vs 49.4 over 259,328 weights;
// test_quant prints the figures), and the perplexity gap to bf16 follows (docs/performance.md). Q4_K's
// super-blocks (4.5 bits, 6-bit sub-scales) would save 10 % of the bytes at a similar error but
// need a second level of scales in every kernel.
//
// Pure functions on fp32 rows; no torch. The kernels that use these blocks are in quant_kernels.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cxr::detail {

enum class QuantFormat { Int8 = 1, Int4 = 2 };

constexpr int64_t kQuantBlock = 32;
constexpr int64_t kInt8BlockBytes = 2 + 32;
constexpr int64_t kInt4BlockBytes = 2 + 2 + 16;

// Where block b of an int4 row of nb blocks keeps its (d, m) pair and its 16 bytes of levels (byte
// offsets from the row's start).
constexpr int64_t kInt4Group = 4;
struct Int4Place {
  int64_t pair, levels;
};
inline Int4Place int4Place(int64_t b, int64_t nb) {
  const int64_t first = b / kInt4Group * kInt4Group, j = b - first;
  const int64_t inGroup = nb - first < kInt4Group ? nb - first : kInt4Group;
  return {first * kInt4BlockBytes + 4 * j, first * kInt4BlockBytes + 4 * inGroup + 16 * j};
}

const char* toString(QuantFormat f);  // "int8", "int4"
inline int64_t blockBytes(QuantFormat f) { return f == QuantFormat::Int8 ? kInt8BlockBytes : kInt4BlockBytes; }
inline int64_t blocksPerRow(int64_t k) { return (k + kQuantBlock - 1) / kQuantBlock; }
inline int64_t quantRowBytes(QuantFormat f, int64_t k) { return blocksPerRow(k) * blockBytes(f); }

// IEEE half <-> float, round to nearest even (software: usable on any CPU, in any file).
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);

// One row of k weights -> quantRowBytes(f, k) bytes.
void quantizeRow(QuantFormat f, const float* row, int64_t k, uint8_t* out);
// quantRowBytes(f, k) bytes -> k weights.
void dequantizeRow(QuantFormat f, const uint8_t* row, int64_t k, float* out);
// Block b of such a row -> its min(32, k - 32 b) weights.
void dequantizeBlock(QuantFormat f, const uint8_t* row, int64_t k, int64_t b, float* out);

// Int4 blocks with Q4_1's plain rule (d = (max - min) / 15, m = min), for comparing the squared
// error of the fitted rule above with it. Same layout, so dequantizeRow reads it.
void quantizeRowInt4Plain(const float* row, int64_t k, uint8_t* out);
// The 4-bit fit without its AVX2 sums, as a CPU without AVX2 computes it (tests: quantizeRow gives
// the same bytes on every CPU).
void quantizeRowInt4Scalar(const float* row, int64_t k, uint8_t* out);

}  // namespace cxr::detail
