// The matrix products of the forward passes (vision tower, projector, LLaMA prefill and attention),
// routed by the CPU level (cpu_level.h). At Avx512, or for any dtype other than bf16, they are
// libtorch's own (oneDNN for bf16). At Avx2 a bf16 product never reaches libtorch: its operands are
// widened to fp32 (exact), multiplied by oneDNN's fp32 GEMM (products.cpp says why not OpenBLAS), and
// the result is rounded to bf16 once, where the bf16 product rounds; weights stay as stored and are
// widened into a reused per-thread buffer (the whole matrix for a long prefill, cache-sized tiles of
// rows for a few positions: products.cpp). (One bf16 position goes through the decode gemv instead:
// gemv_bf16.h.)
#pragma once

#include <ATen/ATen.h>

namespace cxr::detail {

// True at level Avx2: bf16 products of this process run in fp32 compute.
bool bf16ProductsInFp32();
// How many products of this process ran in fp32 compute (tests: the Avx2 route is taken).
int64_t productsInFp32Compute();

// bf16 products at Avx512 run on operands padded to multiples of 16 rows (products.cpp says why):
// the row count a product of `rows` rows of x runs on. A caller that multiplies the same x with many
// weights (quant_linear.cpp's tiles) pads it once to this many rows, and linearProduct then pads no more.
int64_t bf16ProductRows(int64_t rows);
// True when linearProduct and matmulProduct pad a bf16 x of `rows` rows (level Avx512, CPU, at least
// 32 rows): a caller may then pad shared operands once itself (attention's q, k and v).
bool padsBf16Products(const at::Tensor& x, int64_t rows);

// y = x W^T (+ bias) in x's dtype. x [..., K]; w [N, K] in x's dtype, or fp32 for a bf16 x at Avx2
// (a caller's own fp32 copy is read as it is); bias [N] or undefined.
at::Tensor linearProduct(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = {});

// a @ b for 3-D batches [n, r, k] @ [n, k, c], result in a's dtype (attention's scores and values).
at::Tensor matmulProduct(const at::Tensor& a, const at::Tensor& b);
// The same written into out ([n, r, c], contiguous), without a result block of its own where the
// product needs no padding.
void matmulProductInto(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b);

// c = a @ b in fp32, a [m, k], b [k, n] (row-major, or a transposed view of a row-major [n, k]):
// the fp32 GEMM of the Avx2 route (oneDNN's sgemm where libtorch has oneDNN, else at::mm).
at::Tensor matmulF32(const at::Tensor& a, const at::Tensor& b);

}  // namespace cxr::detail
