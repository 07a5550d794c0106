// The CPU kernels on quantized weight rows (quant_format.h): the decode product y = W x, the
// dequantization of row tiles for the prefill's GEMM, and the parallel quantization of a matrix.
//
// Decode quantizes the activation x once per product to int8 blocks of 32 (GGUF Q8_0's rule, with an
// fp32 scale) and takes integer dot products of each weight block with the activation's block, as
// llama.cpp's ggml-cpu does: AVX-512 VNNI's vpdpbusd at the AVX-512 level, AVX2's vpmaddubsw +
// vpmaddwd at the AVX2 level. Why not widen the weights to fp32 against fp32 activations (what these
// kernels did first): that costs two conversions and two FMAs per 16 weights, and on 2 cores the
// arithmetic, not the memory, became the limit (int8 decode at 38-42 % of its bandwidth bound, int4
// at 27-31 %: docs/performance.md). One integer instruction per block instead leaves the read as
// the limit. The price is a second approximation: the activations' rounding to int8 (at most half a
// step of max|x| / 127 per element of a block), measured on trained weights in docs/performance.md
// (perplexity). Int4's minimum meets the block's exact fp32 sum of x, not the rounded one.
// The variant taken follows cpuLevel() (CXR_CPU_LEVEL=avx2 forces AVX2), or the level given.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/cpu_level.h"
#include "core/quant_format.h"

namespace cxr::detail {

// x[0, k) in int8 blocks of 32: x[i] ~ scale(i / 32) * q[i], scale = max|x| / 127 over the block,
// q = round(x / scale) (to nearest even); q is zero past k. sum(b) is the exact fp32 sum of x over
// block b. Scale and sum sit side by side (factors[2b], factors[2b + 1]): the int4 kernel loads both
// at once.
struct QuantizedVector {
  std::vector<int8_t> q;
  std::vector<float> factors;
  int64_t blocks() const { return int64_t(factors.size() / 2); }
  float scale(int64_t b) const { return factors[size_t(2 * b)]; }
  float sum(int64_t b) const { return factors[size_t(2 * b + 1)]; }
};
QuantizedVector quantizeVector(const float* x, int64_t k);
// The same without vector instructions (CPUs without AVX2; tests: quantizeVector gives the same
// bytes and factors).
QuantizedVector quantizeVectorScalar(const float* x, int64_t k);

// y[r] = sum_i W[r, i] x[i] for rows [0, n), x quantized as quantizeVector does; W is n rows of
// quantRowBytes(f, k) bytes. Rows are split over the kernel threads (thread_pool.h).
void gemvQuant(QuantFormat f, const uint8_t* w, const float* x, float* y, int64_t n, int64_t k,
               CpuLevel level = cpuLevel());

// One product of gemvQuantSeveral: W [n, k] (the shared k) in the shared format, y [n].
struct QuantGemvTarget {
  const uint8_t* w;
  float* y;
  int64_t n;
};
// Several products of the same x in ONE parallel call, x quantized once (gemv_bf16.h's
// gemvBf16Several says why one call).
void gemvQuantSeveral(QuantFormat f, const QuantGemvTarget* targets, int count, const float* x, int64_t k,
                      CpuLevel level = cpuLevel());
// The same for a few positions at once, x [positions, k], each y [positions, n]: bit for bit what
// gemvQuantSeveral gives each position alone, each weight row read from memory once for all of them
// (gemv_bf16.h's gemvBf16Positions says how and why).
void gemvQuantPositions(QuantFormat f, const QuantGemvTarget* targets, int count, const float* x,
                        int64_t positions, int64_t k, CpuLevel level = cpuLevel());

// Rows [begin, end) of W dequantized into out ([end - begin, k], fp32 or bf16 bits), in parallel.
// fp32 needs AVX2 + FMA; bf16 needs AVX-512 BF16 (cpuLevel() Avx512).
void dequantizeRows(QuantFormat f, const uint8_t* w, int64_t begin, int64_t end, int64_t k, float* out);
void dequantizeRowsBf16(QuantFormat f, const uint8_t* w, int64_t begin, int64_t end, int64_t k, uint16_t* out);

// Quantizes `rows` rows of k weights into dst (rows * quantRowBytes(f, k) bytes) in parallel;
// readRow(r, buffer) fills buffer[0, k) with row r in fp32 (it is called from several threads).
void quantizeMatrix(QuantFormat f, const std::function<void(int64_t row, float* out)>& readRow, int64_t rows,
                    int64_t k, uint8_t* dst);

}  // namespace cxr::detail
