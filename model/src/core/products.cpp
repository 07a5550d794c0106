#include "core/products.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>

#include "core/cpu_level.h"
#include "core/parallel.h"

namespace cxr::detail {

namespace {

// The fp32 copy of one tile of weight rows: 16 MiB. Large enough that the GEMM per tile is long
// against its fixed costs (the GEMM packs the whole of x again for every call), small enough to stay
// in the last-level cache between the widening and the GEMM that reads it.
constexpr int64_t kTileBytes = int64_t(16) << 20;

std::atomic<int64_t> gFp32Products{0};

bool viaFp32(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 && x.device().is_cpu() && bf16ProductsInFp32();
}

// oneDNN's sgemm (its row-major C API, `dnnl_sgemm` in dnnl.h) from the libdnnl that libtorch itself
// loads, found at run time (Debian ships no oneDNN headers, and a libtorch without oneDNN simply has
// none: then at::mm). Why not at::mm on fp32 tensors: that is OpenBLAS, whose run-time CPU detection
// can miss a CPU newer than itself and fall back to SSE3 kernels (OpenBLAS 0.3.21 takes this
// machine's Sapphire Rapids for a "Prescott": 12 GFLOP/s against oneDNN's 50 under the same load).
// oneDNN picks its AVX2 or AVX-512 kernels itself, and honours ONEDNN_MAX_CPU_ISA.
using SgemmFunction = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
SgemmFunction oneDnnSgemm() {
  static const SgemmFunction f = reinterpret_cast<SgemmFunction>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return f;
}

}  // namespace

at::Tensor matmulF32(const at::Tensor& a, const at::Tensor& b) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const SgemmFunction sgemm = oneDnnSgemm();
  const bool aRows = a.stride(1) == 1 && a.stride(0) >= std::max<int64_t>(1, k);
  const bool bTransposed = b.stride(0) == 1 && b.stride(1) >= std::max<int64_t>(1, k);
  const bool bRows = b.stride(1) == 1 && b.stride(0) >= std::max<int64_t>(1, n);
  if (!sgemm || !aRows || !(bTransposed || bRows) || m == 0 || n == 0 || k == 0) return at::mm(a, b);
  at::Tensor c = at::empty({m, n}, a.options());
  at::internal::lazy_init_num_threads();  // oneDNN's OpenMP threads: the engine's count on this thread too
  const int status = sgemm('N', bTransposed ? 'T' : 'N', m, n, k, 1.f, a.data_ptr<float>(), a.stride(0),
                           b.data_ptr<float>(), bTransposed ? b.stride(1) : b.stride(0), 0.f, c.data_ptr<float>(), n);
  return status == 0 ? c : at::mm(a, b);
}

bool bf16ProductsInFp32() { return cpuLevel() == CpuLevel::Avx2; }

int64_t productsInFp32Compute() { return gFp32Products.load(); }

at::Tensor linearProduct(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!viaFp32(x)) return at::linear(x, w, bias);
  ++gFp32Products;
  const int64_t n = w.size(0), k = w.size(1);
  at::Tensor x32 = x.reshape({-1, k}).to(at::kFloat).contiguous();  // [T, K]
  at::Tensor y = at::empty({x32.size(0), n}, x.options());          // [T, N] bf16
  const int64_t tileRows = w.scalar_type() == at::kFloat ? n : std::max<int64_t>(16, kTileBytes / (k * 4) / 16 * 16);
  at::Tensor scratch;  // [tileRows, K] fp32, reused by every tile
  for (int64_t r0 = 0; r0 < n; r0 += tileRows) {
    const int64_t rows = std::min(tileRows, n - r0);
    at::Tensor tile = w.narrow(0, r0, rows);  // [rows, K]
    if (tile.scalar_type() != at::kFloat) {
      if (!scratch.defined()) scratch = at::empty({std::min(tileRows, n), k}, x32.options());
      tile = scratch.narrow(0, 0, rows).copy_(tile);  // bf16 -> fp32 is exact
    }
    // fp32 product (+ bias in fp32), then one rounding to bf16 into the output's columns.
    at::Tensor part = matmulF32(x32, tile.t());  // [T, rows]
    if (bias.defined()) part.add_(bias.narrow(0, r0, rows).to(at::kFloat));
    y.narrow(1, r0, rows).copy_(part);
  }
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = n;
  return y.reshape(shape);
}

at::Tensor matmulProduct(const at::Tensor& a, const at::Tensor& b) {
  if (!viaFp32(a)) return at::matmul(a, b);
  ++gFp32Products;
  // Widened (exact), one fp32 GEMM per batch entry, rounded once.
  at::Tensor a32 = a.to(at::kFloat), b32 = b.to(at::kFloat);  // b may stay a transposed view
  at::Tensor out = at::empty({a.size(0), a.size(1), b.size(2)}, a.options());  // [n, r, c] in a's dtype
  for (int64_t i = 0; i < a.size(0); ++i) out[i].copy_(matmulF32(a32[i], b32[i]));
  return out;
}

}  // namespace cxr::detail
