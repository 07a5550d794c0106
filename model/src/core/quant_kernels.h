// The CPU kernels on quantized weight rows (quant_format.h): the decode product y = W x, the
// dequantization of row tiles for the prefill's GEMM, and the parallel quantization of a matrix.
//
// Decode widens the weights to fp32 and keeps the activations in fp32 (no int8 activations with
// integer dot products): decoding is bound by the memory that the weights stream from, and the
// widening (two conversions and two FMAs per 16 weights) keeps well below that bound on both
// levels, while the result differs from the fp32 product of the dequantized weights only by the
// order of the fp32 sums. The weights are the only approximation, which is what the quality
// figures (perplexity) then measure. Each kernel has an AVX-512 and an AVX2 + FMA variant; the
// one taken follows cpuLevel() (CXR_CPU_LEVEL=avx2 forces AVX2), or the level given.
#pragma once

#include <cstdint>
#include <functional>

#include "core/cpu_level.h"
#include "core/quant_format.h"

namespace cxr::detail {

// y[r] = sum_i W[r, i] x[i] for rows [0, n); W is n rows of quantRowBytes(f, k) bytes. Rows are
// split over the intra-op threads.
void gemvQuant(QuantFormat f, const uint8_t* w, const float* x, float* y, int64_t n, int64_t k);
void gemvQuant(QuantFormat f, const uint8_t* w, const float* x, float* y, int64_t n, int64_t k, CpuLevel level);

// Rows [begin, end) of W dequantized into out ([end - begin, k], fp32 or bf16 bits), in parallel.
// fp32 needs AVX2 + FMA; bf16 needs AVX-512 BF16 (cpuLevel() Avx512).
void dequantizeRows(QuantFormat f, const uint8_t* w, int64_t begin, int64_t end, int64_t k, float* out);
void dequantizeRowsBf16(QuantFormat f, const uint8_t* w, int64_t begin, int64_t end, int64_t k, uint16_t* out);

// Quantizes `rows` rows of k weights into dst (rows * quantRowBytes(f, k) bytes) in parallel;
// readRow(r, buffer) fills buffer[0, k) with row r in fp32 (it is called from several threads).
void quantizeMatrix(QuantFormat f, const std::function<void(int64_t row, float* out)>& readRow, int64_t rows,
                    int64_t k, uint8_t* dst);

}  // namespace cxr::detail
