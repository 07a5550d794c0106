#include "core/quant_linear.h"

#include "core/products.h"

#include <algorithm>

#include "core/cpu_level.h"
#include "core/quant_kernels.h"
#include "cxr/model/engine.h"

namespace cxr::detail {

bool isQuantized(const at::Tensor& w) {
  return w.defined() && (w.scalar_type() == at::kChar || w.scalar_type() == at::kByte);
}

QuantFormat quantFormatOf(const at::Tensor& w) {
  return w.scalar_type() == at::kChar ? QuantFormat::Int8 : QuantFormat::Int4;
}

namespace {

// Up to this many positions the product runs as that many gemvs (each streams the weights once);
// beyond it dequantizing the matrix once for a GEMM is cheaper.
constexpr int64_t kGemvPositions = 4;
// Rows per dequantized tile: about 16 MiB, big enough for an efficient GEMM, small enough to stay
// out of the way of the resident set.
constexpr int64_t kTileBytes = int64_t(16) << 20;

}  // namespace

at::Tensor quantLinear(const at::Tensor& x, const at::Tensor& w) {
  const QuantFormat f = quantFormatOf(w);
  const int64_t k = x.size(-1), n = w.size(0);
  if (w.dim() != 2 || w.size(1) != quantRowBytes(f, k) || !w.is_contiguous() || !w.device().is_cpu())
    throw ModelError("internal: quantized weight of shape [" + std::to_string(w.size(0)) + ", " +
                     std::to_string(w.size(1)) + "] does not match an input of width " + std::to_string(k));
  const auto* bytes = reinterpret_cast<const uint8_t*>(w.data_ptr());
  at::Tensor x2 = x.reshape({-1, k});
  const int64_t t = x2.size(0);
  std::vector<int64_t> outShape = x.sizes().vec();
  outShape.back() = n;
  if (t <= kGemvPositions) {
    at::Tensor xf = x2.to(at::kFloat).contiguous();
    at::Tensor y = at::empty({t, n}, xf.options());
    for (int64_t i = 0; i < t; ++i)
      gemvQuant(f, bytes, xf.data_ptr<float>() + i * k, y.data_ptr<float>() + i * n, n, k);
    return y.to(x.scalar_type()).reshape(outShape);
  }
  const bool bf16Gemm = x.scalar_type() == at::kBFloat16 && cpuLevel() == CpuLevel::Avx512;
  // bf16 tiles: the padded bf16 product (linearProduct); fp32 tiles (level avx2, or an fp32 model):
  // the fp32 GEMM of the avx2 route (matmulF32; at::linear would be OpenBLAS, products.cpp says why not).
  const at::ScalarType tileType = bf16Gemm ? at::kBFloat16 : at::kFloat;
  at::Tensor xin = x2.to(tileType).contiguous();
  const int64_t tileRows = std::max<int64_t>(64, kTileBytes / (k * (bf16Gemm ? 2 : 4)));
  at::Tensor tile = at::empty({std::min(tileRows, n), k}, xin.options());
  at::Tensor y = at::empty({t, n}, x.options());
  for (int64_t r0 = 0; r0 < n; r0 += tileRows) {
    const int64_t rows = std::min(tileRows, n - r0);
    at::Tensor part = tile.narrow(0, 0, rows);
    if (bf16Gemm)
      dequantizeRowsBf16(f, bytes, r0, r0 + rows, k, reinterpret_cast<uint16_t*>(part.data_ptr()));
    else
      dequantizeRows(f, bytes, r0, r0 + rows, k, part.data_ptr<float>());
    y.narrow(1, r0, rows).copy_(bf16Gemm ? linearProduct(xin, part) : matmulF32(xin, part.t()));
  }
  return y.reshape(outShape);
}

}  // namespace cxr::detail
