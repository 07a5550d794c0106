#include "core/products.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>

#include "core/cpu_level.h"
#include "core/parallel.h"

namespace cxr::detail {

namespace {

// How many weight rows are widened to fp32 at a time. The GEMM packs the whole of x again for every
// call, so for a long prefill the whole weight in one call is fastest (measured on the 7B MLP shape,
// 1121 x 4096 @ 4096 x 11008: 4 MiB tiles 37-60 % of the plain fp32 GEMM's rate, 16 MiB 45-60 %,
// 64 MiB 60-70 %, the whole 180 MiB 66-77 %); for a few positions (a follow-up question) the GEMM is
// cheap and the widening's memory traffic dominates: 2 MiB tiles stay in the cache between the
// widening and the GEMM. Capped at 256 MiB of fp32.
int64_t tileRows(int64_t positions, int64_t n, int64_t k) {
  const int64_t bytes = positions >= 128 ? int64_t(256) << 20 : int64_t(2) << 20;
  return std::min(n, std::max<int64_t>(16, bytes / (k * 4) / 16 * 16));
}

// The fp32 buffer the weights are widened into: one per thread, grown to the largest tile asked for
// and kept (180 MiB at the 7B shapes: an MLP matrix) so that no prefill pays for fresh pages.
at::Tensor widenedRows(const at::Tensor& rows) {
  thread_local at::Tensor buffer;
  const int64_t need = rows.numel();
  if (!buffer.defined() || buffer.numel() < need) {
    buffer = at::Tensor();  // free the old one first
    buffer = at::empty({need}, at::TensorOptions().dtype(at::kFloat));
  }
  return buffer.narrow(0, 0, need).view(rows.sizes()).copy_(rows);  // bf16 -> fp32 is exact
}

std::atomic<int64_t> gFp32Products{0};

// oneDNN 2.6's bf16 GEMM (AMX kernels where the CPU has them) slows down badly for some row counts
// that are not a multiple of 16. One 4096 x 4096 weight, 2 threads, quiet machine (Xeon with AMX):
// 1121 rows 54 GFLOP/s, 1122 rows 622, 1124 rows 1162, 1136 rows 1217, 1024 rows 1356; and the
// report prompt has 1121 positions, the vision tower 1025 tokens. So bf16 products of at least
// kPadFromRows rows run on operands padded with zeros to multiples of 16, and the padding is cut from
// the result: a result row depends only on its own row of x, and a zero column of the left operand
// meets a zero row of the right one, adding nothing to any sum. (Below kPadFromRows the product reads
// its weight more than it computes, and padding 17 rows to 32 would only add work.)
constexpr int64_t kPadMultiple = 16;
constexpr int64_t kPadFromRows = 32;

int64_t paddedSize(int64_t n) { return (n + kPadMultiple - 1) / kPadMultiple * kPadMultiple; }

// oneDNN 2.6's bf16 GEMM also loses speed when x has many rows: one 11008 x 4096 weight, 2 threads,
// Zen 5 (AVX-512 BF16, no AMX): 256 and 448-512 rows 657-682 GFLOP/s, 544-1000 rows 581-660, 1120
// rows 548, 1536 rows 442; the 7B report's 1121 positions in one call 460, in pieces of 512 rows
// (512, 512, 97 padded to 112) 675. So a product of more rows runs in pieces of kPieceRows, each
// written into its rows of the result (bit for bit what one call gives: a result row depends only on
// its own row of x). Pieces of equal size were slower: the 7B prefill's 1117 positions as 576 + 541
// ran its products at 581-588 GFLOP/s against 648-653 as 512 + 512 + 93 (ONEDNN_VERBOSE, 2026-12-07).
constexpr int64_t kPieceRows = 512;

// x [rows, k] (rows >= kPadFromRows) times w^T (+ bias), on x padded to bf16ProductRows(rows).
at::Tensor paddedLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  const int64_t rows = x.size(0);
  if (bf16ProductRows(rows) == rows) return at::linear(x, w, bias);
  const at::Tensor padded = at::constant_pad_nd(x, {0, 0, 0, bf16ProductRows(rows) - rows});
  return at::linear(padded, w, bias).narrow(0, 0, rows);
}

// [n, r, k] @ [n, k, c] with r, k and c multiples of kPadMultiple: nothing left to pad.
bool batchedShapesPadded(const at::Tensor& a, const at::Tensor& b) {
  return a.dim() == 3 && b.dim() == 3 && a.size(1) % kPadMultiple == 0 && a.size(2) % kPadMultiple == 0 &&
         b.size(2) % kPadMultiple == 0;
}

bool viaFp32(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 && x.device().is_cpu() && bf16ProductsInFp32();
}

// oneDNN's sgemm (its row-major C API, `dnnl_sgemm` in dnnl.h) from the libdnnl that libtorch itself
// loads, found at run time (Debian ships no oneDNN headers, and a libtorch without oneDNN simply has
// none: then at::mm). Why not at::mm on fp32 tensors: that is OpenBLAS, whose run-time CPU detection
// can miss a CPU it does not know and fall back to SSE3 kernels (OpenBLAS 0.3.21 takes this
// machine's AVX-512 Xeon, a KVM guest with a generic model name, for a "Prescott": 12 GFLOP/s against
// oneDNN's 50 under the same load).
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

int64_t bf16ProductRows(int64_t rows) { return rows >= kPadFromRows ? paddedSize(rows) : rows; }

bool padsBf16Products(const at::Tensor& x, int64_t rows) {
  return x.scalar_type() == at::kBFloat16 && x.device().is_cpu() && rows >= kPadFromRows && !bf16ProductsInFp32();
}

bool bf16ProductsInFp32() { return cpuLevel() == CpuLevel::Avx2; }

int64_t productsInFp32Compute() { return gFp32Products.load(); }

at::Tensor linearProduct(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!viaFp32(x)) {
    const int64_t k = x.size(-1), rows = k > 0 ? x.numel() / k : 0;
    if (!padsBf16Products(x, rows) || (bf16ProductRows(rows) == rows && rows <= kPieceRows))
      return at::linear(x, w, bias);
    const at::Tensor x2 = x.reshape({rows, k});
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = w.size(0);
    if (rows <= kPieceRows) return paddedLinear(x2, w, bias).reshape(shape);  // leading rows: contiguous
    at::Tensor y = at::empty({rows, w.size(0)}, x.options());
    for (int64_t r0 = 0, n = 0; r0 < rows; r0 += n) {
      // a last piece too short to pad (the vision tower's 1025 tokens) joins the one before it
      n = rows - r0 - kPieceRows < kPadFromRows ? rows - r0 : kPieceRows;
      at::Tensor out = y.narrow(0, r0, n);  // contiguous rows of y
      if (n == kPieceRows)
        at::linear_out(out, x2.narrow(0, r0, n), w, bias);
      else
        out.copy_(paddedLinear(x2.narrow(0, r0, n), w, bias));
    }
    return y.reshape(shape);
  }
  ++gFp32Products;
  const int64_t n = w.size(0), k = w.size(1);
  at::Tensor x32 = x.reshape({-1, k}).to(at::kFloat).contiguous();  // [T, K]
  at::Tensor y = at::empty({x32.size(0), n}, x.options());          // [T, N] bf16
  const int64_t tile = w.scalar_type() == at::kFloat ? n : tileRows(x32.size(0), n, k);
  for (int64_t r0 = 0; r0 < n; r0 += tile) {
    const int64_t rows = std::min(tile, n - r0);
    at::Tensor wRows = w.narrow(0, r0, rows);  // [rows, K]
    if (wRows.scalar_type() != at::kFloat) wRows = widenedRows(wRows);
    // fp32 product (+ bias in fp32), then one rounding to bf16 into the output's columns.
    at::Tensor part = matmulF32(x32, wRows.t());  // [T, rows]
    if (bias.defined()) part.add_(bias.narrow(0, r0, rows).to(at::kFloat));
    y.narrow(1, r0, rows).copy_(part);
  }
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = n;
  return y.reshape(shape);
}

at::Tensor matmulProduct(const at::Tensor& a, const at::Tensor& b) {
  if (!viaFp32(a)) {
    if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0)) return at::matmul(a, b);
    // at::bmm, not at::matmul: for one batch entry at::matmul's reshape leaves the batch stride of b
    // (attention's k^T view) such that oneDNN's bmm no longer sees a transposed matrix and copies it
    // (1024 copies, ~0.18 s of a 7B prefill); the product is the same call on the same operands.
    const int64_t rows = a.size(1), inner = a.size(2), cols = b.size(2);
    if (!padsBf16Products(a, rows) || batchedShapesPadded(a, b)) return at::bmm(a, b);
    const int64_t innerPad = paddedSize(inner) - inner;
    const at::Tensor ap = at::constant_pad_nd(a, {0, innerPad, 0, paddedSize(rows) - rows});
    const at::Tensor bp = at::constant_pad_nd(b, {0, paddedSize(cols) - cols, 0, innerPad});
    return at::bmm(ap, bp).narrow(1, 0, rows).narrow(2, 0, cols).contiguous();
  }
  ++gFp32Products;
  // Widened (exact), one fp32 GEMM per batch entry, rounded once.
  at::Tensor a32 = a.to(at::kFloat), b32 = b.to(at::kFloat);  // b may stay a transposed view
  at::Tensor out = at::empty({a.size(0), a.size(1), b.size(2)}, a.options());  // [n, r, c] in a's dtype
  for (int64_t i = 0; i < a.size(0); ++i) out[i].copy_(matmulF32(a32[i], b32[i]));
  return out;
}

void matmulProductInto(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
  if (!viaFp32(a) && batchedShapesPadded(a, b) && out.is_contiguous()) {
    at::Tensor o = out;
    at::bmm_out(o, a, b);  // what at::matmul runs for 3-D operands, into out
    return;
  }
  out.copy_(matmulProduct(a, b));
}

}  // namespace cxr::detail
