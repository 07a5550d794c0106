#include "core/products.h"

#include <algorithm>

#include "core/cpu_level.h"

namespace cxr::detail {

namespace {

// The fp32 copy of one tile of weight rows: 16 MiB. Large enough that the GEMM per tile is long
// against its fixed costs (OpenBLAS packs the whole of x again for every call), small enough to stay
// in the last-level cache between the widening and the GEMM that reads it.
constexpr int64_t kTileBytes = int64_t(16) << 20;

bool viaFp32(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 && x.device().is_cpu() && bf16ProductsInFp32();
}

}  // namespace

bool bf16ProductsInFp32() { return cpuLevel() == CpuLevel::Avx2; }

at::Tensor linearProduct(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!viaFp32(x)) return at::linear(x, w, bias);
  const int64_t n = w.size(0), k = w.size(1);
  at::Tensor x32 = x.reshape({-1, k}).to(at::kFloat);  // [T, K]
  at::Tensor y = at::empty({x32.size(0), n}, x.options());  // [T, N] bf16
  const int64_t tileRows = w.scalar_type() == at::kFloat ? n : std::max<int64_t>(16, kTileBytes / (k * 4) / 16 * 16);
  at::Tensor scratch;  // [tileRows, K] fp32, reused by every tile
  for (int64_t r0 = 0; r0 < n; r0 += tileRows) {
    const int64_t rows = std::min(tileRows, n - r0);
    at::Tensor tile = w.narrow(0, r0, rows);  // [rows, K]
    if (tile.scalar_type() != at::kFloat) {
      if (!scratch.defined()) scratch = at::empty({std::min(tileRows, n), k}, x32.options());
      tile = scratch.narrow(0, 0, rows).copy_(tile);
    }
    // fp32 product (+ bias in fp32), then one rounding to bf16 into the output's columns.
    at::Tensor part = bias.defined() ? at::addmm(bias.narrow(0, r0, rows).to(at::kFloat), x32, tile.t())
                                     : at::mm(x32, tile.t());  // [T, rows]
    y.narrow(1, r0, rows).copy_(part);
  }
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = n;
  return y.reshape(shape);
}

at::Tensor matmulProduct(const at::Tensor& a, const at::Tensor& b) {
  if (!viaFp32(a)) return at::matmul(a, b);
  return at::matmul(a.to(at::kFloat), b.to(at::kFloat)).to(a.scalar_type());
}

}  // namespace cxr::detail
