// y = x W^T for a quantized weight (quant_format.h), as transformer.cpp's project() needs it.
// A quantized matrix is a tensor of its packed rows, [N, quantRowBytes(format, K)]: int8 (kChar)
// for the int8 format, uint8 (kByte) for the int4 format. Kept as tensors so that the weights stay
// in the model's Weights slots and the decode bound (readDecoderWeights) reads their real bytes.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/cpu_level.h"
#include "core/quant_format.h"

namespace cxr::detail {

bool isQuantized(const at::Tensor& w);
QuantFormat quantFormatOf(const at::Tensor& w);  // of a quantized tensor

// Up to this many positions a product on quantized weights runs the decode's kernels on every
// position, each weight row read once for all of them (gemvQuantPositions: bit for bit the decode's
// result for each position); beyond it, rows of W are dequantized tile by tile for a GEMM. The few
// positions of a prompt after a kept image prefix or of a follow-up question are the case this is
// for. Measured in the engine (7B, a text prefill of T positions, 2 threads, Zen 5; docs/performance.md,
// "Few positions"): at the AVX-512 level the two routes were even at 12 positions (int8) and the
// GEMM faster from 17; at the AVX2 level the kernels were faster up to 32 (int8) and 56 (int4)
// positions, the GEMM from 64 (int8).
int64_t quantFewPositions(CpuLevel level = cpuLevel());

// x [T, K] (bf16 or fp32) -> [T, N] in x's dtype. At most quantFewPositions(): the decode's kernels
// (quant_kernels.h). More: rows of W are dequantized tile by tile (bf16 at the AVX-512 level, where
// oneDNN's bf16 GEMM runs; fp32 at the AVX2 level) and multiplied by a GEMM.
at::Tensor quantLinear(const at::Tensor& x, const at::Tensor& w);

// x [T, K] with T at most quantFewPositions() times several quantized weights of one format (q, k and
// v; gate and up): one gemvQuantPositions call, each position quantized once. Results [T, N_i] in x's
// dtype.
std::vector<at::Tensor> quantLinearSeveral(const at::Tensor& x, const std::vector<const at::Tensor*>& ws);

}  // namespace cxr::detail
