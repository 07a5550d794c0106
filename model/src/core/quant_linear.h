// y = x W^T for a quantized weight (quant_format.h), as transformer.cpp's project() needs it.
// A quantized matrix is a tensor of its packed rows, [N, quantRowBytes(format, K)]: int8 (kChar)
// for the int8 format, uint8 (kByte) for the int4 format. Kept as tensors so that the weights stay
// in the model's Weights slots and the decode bound (readDecoderWeights) reads their real bytes.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/quant_format.h"

namespace cxr::detail {

bool isQuantized(const at::Tensor& w);
QuantFormat quantFormatOf(const at::Tensor& w);  // of a quantized tensor

// x [T, K] (bf16 or fp32) -> [T, N] in x's dtype. One position: the decode gemv (quant_kernels.h).
// More: rows of W are dequantized tile by tile (bf16 at the AVX-512 level, where oneDNN's bf16
// GEMM runs; fp32 at the AVX2 level) and multiplied with at::linear.
at::Tensor quantLinear(const at::Tensor& x, const at::Tensor& w);

// One position x [1, K] times several quantized weights of one format (q, k and v; gate and up):
// one gemvQuantSeveral call, x quantized once. Results [1, N_i] in x's dtype.
std::vector<at::Tensor> quantLinearSeveral(const at::Tensor& x, const std::vector<const at::Tensor*>& ws);

}  // namespace cxr::detail
