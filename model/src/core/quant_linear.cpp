#include "core/quant_linear.h"

#include <algorithm>

#include "core/cpu_level.h"
#include "core/products.h"
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

// A dequantized tile holds about 16 MiB, big enough for an efficient GEMM, small enough to stay out
// of the way of the resident set; its row count is a multiple of 64, as the GEMM's kernels like their
// operands (11008-wide rows in bf16 gave 762 rows, leaving every tile's last block ragged).
constexpr int64_t kTileBytes = int64_t(16) << 20;

int64_t tileRowsFor(int64_t k, int64_t elementBytes) {
  return std::max<int64_t>(64, kTileBytes / (k * elementBytes) / 64 * 64);
}

void checkShape(const at::Tensor& w, int64_t k) {
  const QuantFormat f = quantFormatOf(w);
  if (w.dim() != 2 || w.size(1) != quantRowBytes(f, k) || !w.is_contiguous() || !w.device().is_cpu())
    throw ModelError("internal: quantized weight of shape [" + std::to_string(w.size(0)) + ", " +
                     std::to_string(w.size(1)) + "] does not match an input of width " + std::to_string(k));
}

const uint8_t* bytesOf(const at::Tensor& w) { return reinterpret_cast<const uint8_t*>(w.data_ptr()); }

}  // namespace

int64_t quantFewPositions(CpuLevel level) { return level == CpuLevel::Avx512 ? 12 : 48; }

at::Tensor quantLinear(const at::Tensor& x, const at::Tensor& w) {
  const QuantFormat f = quantFormatOf(w);
  const int64_t k = x.size(-1), n = w.size(0);
  checkShape(w, k);
  const uint8_t* bytes = bytesOf(w);
  at::Tensor x2 = x.reshape({-1, k});
  const int64_t t = x2.size(0);
  std::vector<int64_t> outShape = x.sizes().vec();
  outShape.back() = n;
  if (t <= quantFewPositions()) return quantLinearSeveral(x, {&w}).front();
  const bool bf16Gemm = x.scalar_type() == at::kBFloat16 && cpuLevel() == CpuLevel::Avx512;
  // bf16 tiles: the padded bf16 product (linearProduct), x padded here once for all tiles; fp32
  // tiles (level avx2, or an fp32 model): the fp32 GEMM of the avx2 route (matmulF32; at::linear
  // would be OpenBLAS, products.cpp says why not).
  const at::ScalarType tileType = bf16Gemm ? at::kBFloat16 : at::kFloat;
  at::Tensor xin = x2.to(tileType).contiguous();
  if (bf16Gemm && bf16ProductRows(t) != t) xin = at::constant_pad_nd(xin, {0, 0, 0, bf16ProductRows(t) - t});
  const int64_t tileRows = tileRowsFor(k, bf16Gemm ? 2 : 4);
  at::Tensor tile = at::empty({std::min(tileRows, n), k}, xin.options());
  at::Tensor y = at::empty({t, n}, x.options());
  for (int64_t r0 = 0; r0 < n; r0 += tileRows) {
    const int64_t rows = std::min(tileRows, n - r0);
    at::Tensor part = tile.narrow(0, 0, rows);
    if (bf16Gemm)
      dequantizeRowsBf16(f, bytes, r0, r0 + rows, k, reinterpret_cast<uint16_t*>(part.data_ptr()));
    else
      dequantizeRows(f, bytes, r0, r0 + rows, k, part.data_ptr<float>());
    at::Tensor product = bf16Gemm ? linearProduct(xin, part) : matmulF32(xin, part.t());
    y.narrow(1, r0, rows).copy_(product.narrow(0, 0, t));
  }
  return y.reshape(outShape);
}

std::vector<at::Tensor> quantLinearSeveral(const at::Tensor& x, const std::vector<const at::Tensor*>& ws) {
  const int64_t k = x.size(-1);
  const QuantFormat f = quantFormatOf(*ws.front());
  const at::Tensor xf = x.reshape({-1, k}).to(at::kFloat).contiguous();  // [T, K]
  const int64_t t = xf.size(0);
  if (t > quantFewPositions()) throw ModelError("internal: quantLinearSeveral on " + std::to_string(t) + " positions");
  std::vector<QuantGemvTarget> targets;
  std::vector<at::Tensor> ys;
  for (const at::Tensor* w : ws) {
    checkShape(*w, k);
    if (quantFormatOf(*w) != f) throw ModelError("internal: quantLinearSeveral on weights of two formats");
    ys.push_back(at::empty({t, w->size(0)}, xf.options()));
    targets.push_back({bytesOf(*w), ys.back().data_ptr<float>(), w->size(0)});
  }
  gemvQuantPositions(f, targets.data(), int(targets.size()), xf.data_ptr<float>(), t, k);
  std::vector<int64_t> outShape = x.sizes().vec();
  for (size_t i = 0; i < ys.size(); ++i) {
    outShape.back() = ws[i]->size(0);
    ys[i] = ys[i].to(x.scalar_type()).reshape(outShape);
  }
  return ys;
}

}  // namespace cxr::detail
