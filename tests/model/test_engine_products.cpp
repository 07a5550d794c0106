// The engine's matrix products (model/src/core/products.h) against fp32 references on bf16 operands,
// for row counts around the padding rule (bf16 products of 32 rows or more run on operands padded
// with zeros to multiples of 16, because oneDNN's AMX GEMM slows down up to 20x on other counts):
// - linearProduct keeps x's leading shape and gives every row the product of its own row, with and
//   without a bias, for 2-D and 3-D x, also where it runs in pieces of 512 rows (700 to 1600 rows;
//   bit for bit the product of all rows in one call);
// - matmulProduct (attention's batched products) with ragged rows, inner size and columns, and where
//   nothing is padded bit for bit at::matmul (level avx512);
// - attention() (attention_prefill.h), which pads q, k and v once for all heads where the products
//   pad: bit for bit what the same steps give on the unpadded operands head by head (causal mask
//   with and without past positions, grouped query heads, no mask as the vision tower, too few rows
//   to pad).
// Each result within one bf16 rounding of the fp32 product (plus the fp32 accumulation's own error).
// ctest runs it at the machine's level and again with CXR_CPU_LEVEL=avx2 (the fp32-compute route).
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "core/attention_prefill.h"
#include "core/cpu_level.h"
#include "core/products.h"
#include "support/check.h"

using namespace cxr::detail;

namespace {

// Largest |a - b| in units of (bf16 step of |reference| + an fp32 accumulation allowance).
double errorInTolerances(const at::Tensor& got, const at::Tensor& reference) {
  const at::Tensor ref = reference.to(at::kFloat);
  const at::Tensor tolerance = ref.abs().mul(1.0 / 128).add(1e-3);
  return (got.to(at::kFloat) - ref).abs().div(tolerance).max().item<double>();
}

at::Tensor bf16Random(at::IntArrayRef shape) { return at::randn(shape).mul(0.5).to(at::kBFloat16); }

void linearRows() {
  for (int64_t rows : {1, 16, 31, 32, 33, 51, 64, 97, 512, 700, 1024, 1025, 1069, 1121, 1600}) {
    const at::Tensor w = bf16Random({48, 64}), bias = bf16Random({48});
    const at::Tensor x = bf16Random({1, rows, 64});
    for (bool withBias : {false, true}) {
      const at::Tensor b = withBias ? bias : at::Tensor();
      const at::Tensor y = linearProduct(x, w, b);
      const std::string where = std::to_string(rows) + " rows" + (withBias ? " + bias" : "");
      CHECK(y.sizes() == at::IntArrayRef({1, rows, 48}), "linear, " + where + ": shape " + std::to_string(y.size(1)));
      const at::Tensor reference = at::linear(x.to(at::kFloat), w.to(at::kFloat), withBias ? bias.to(at::kFloat) : at::Tensor());
      const double error = errorInTolerances(y, reference);
      CHECK(error <= 1.0, "linear, " + where + ": error " + std::to_string(error) + " x tolerance");
      // In pieces: bit for bit the product of all rows in one call (a result row depends only on its row).
      if (rows > 512 && !bf16ProductsInFp32()) {
        const at::Tensor padded = at::constant_pad_nd(x.view({rows, 64}), {0, 0, 0, bf16ProductRows(rows) - rows});
        CHECK(at::equal(y.view({rows, 48}), at::linear(padded, w, b).narrow(0, 0, rows)), "linear, " + where + ": pieces differ from one call");
      }
      // 2-D x: the same rows.
      const at::Tensor y2 = linearProduct(x.view({rows, 64}), w, b);
      CHECK(y2.sizes() == at::IntArrayRef({rows, 48}) && errorInTolerances(y2, reference.view({rows, 48})) <= 1.0,
            "linear, 2-D x, " + where);
    }
  }
}

void batchedProducts() {
  struct Shape { int64_t batch, rows, inner, cols; };
  // attention's scores (rows x head width x keys) and values (rows x keys x head width), ragged.
  for (const Shape s : {Shape{2, 37, 16, 37}, Shape{1, 33, 37, 16}, Shape{3, 51, 24, 1121 % 100}, Shape{1, 64, 64, 64},
                        Shape{2, 20, 19, 23}}) {
    const at::Tensor a = bf16Random({s.batch, s.rows, s.inner});
    const at::Tensor bRows = bf16Random({s.batch, s.cols, s.inner});
    const at::Tensor b = bRows.transpose(1, 2);  // [batch, inner, cols], a transposed view as attention passes k
    const at::Tensor y = matmulProduct(a, b);
    const std::string where = std::to_string(s.batch) + "x" + std::to_string(s.rows) + "x" + std::to_string(s.inner) +
                              " @ " + std::to_string(s.inner) + "x" + std::to_string(s.cols);
    CHECK(y.sizes() == at::IntArrayRef({s.batch, s.rows, s.cols}) && y.is_contiguous(), "matmul " + where + ": shape");
    const double error = errorInTolerances(y, at::matmul(a.to(at::kFloat), b.to(at::kFloat)));
    CHECK(error <= 1.0, "matmul " + where + ": error " + std::to_string(error) + " x tolerance");
  }
}

// Shapes with nothing to pad, b a transposed view as attention passes k^T (one head: the batch stride
// at::matmul's reshape gave it made oneDNN copy it): bit for bit what at::matmul gives.
void batchedProductsAsMatmul() {
  struct Shape { int64_t batch, rows, inner, cols; };
  for (const Shape s : {Shape{1, 64, 128, 1168}, Shape{1, 1168, 128, 1168}, Shape{2, 48, 128, 64}, Shape{1, 16, 64, 16}}) {
    const at::Tensor a = bf16Random({s.batch, s.rows, s.inner});
    const at::Tensor b = bf16Random({s.batch, s.cols, s.inner}).transpose(1, 2);
    CHECK(at::equal(matmulProduct(a, b), at::matmul(a, b)),
          "matmul " + std::to_string(s.batch) + "x" + std::to_string(s.rows) + "x" + std::to_string(s.inner) + " @ " +
              std::to_string(s.inner) + "x" + std::to_string(s.cols) + ": as at::matmul");
  }
}

// The attention steps head by head on the operands as they are (what attention() did before it padded
// them once): the reference attention() must equal exactly.
at::Tensor attentionHeadByHead(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                               const at::Tensor& mask) {
  std::vector<at::Tensor> outs;
  for (int64_t h = 0; h < q.size(0); ++h) {
    at::Tensor scores = matmulProduct(q.narrow(0, h, 1), k.narrow(0, h, 1).transpose(1, 2)).to(at::kFloat).mul_(scale);
    if (mask.defined()) scores.add_(mask);
    outs.push_back(matmulProduct(at::softmax(scores, -1).to(q.scalar_type()), v.narrow(0, h, 1)));
  }
  return at::cat(outs, 0);
}

void attentionPaddedOnce() {
  struct Case { int64_t kvHeads, groups, newPositions, pastPositions, headDim; bool causal; };
  for (const Case c : {Case{2, 1, 37, 0, 32, true}, Case{2, 1, 37, 21, 32, true}, Case{1, 2, 40, 9, 16, true},
                       Case{3, 1, 33, 0, 64, false}, Case{2, 1, 17, 30, 32, true}, Case{1, 1, 48, 16, 32, true}}) {
    const int64_t rows = c.groups * c.newPositions, keys = c.pastPositions + c.newPositions;
    const at::Tensor q = bf16Random({c.kvHeads, rows, c.headDim});
    const at::Tensor k = bf16Random({c.kvHeads, keys, c.headDim}), v = bf16Random({c.kvHeads, keys, c.headDim});
    at::Tensor mask;
    if (c.causal)  // as llamaForward builds it: new position i sees keys 0 .. past + i, rows repeated per group
      mask = at::full({c.newPositions, keys}, -std::numeric_limits<float>::infinity()).triu(c.pastPositions + 1)
                 .repeat({c.groups, 1});
    const double scale = 1.0 / std::sqrt(double(c.headDim));
    const at::Tensor got = attention(q, k, v, scale, mask);
    const std::string where = std::to_string(c.kvHeads) + " kv heads x " + std::to_string(c.groups) + ", " +
                              std::to_string(c.newPositions) + " new + " + std::to_string(c.pastPositions) +
                              " past positions" + (c.causal ? "" : ", no mask");
    CHECK(got.sizes() == q.sizes(), "attention, " + where + ": shape");
    CHECK(at::equal(got, attentionHeadByHead(q, k, v, scale, mask)), "attention, " + where + ": not bit for bit the head-by-head result");
  }
}

}  // namespace

int main() {
  if (!cpuHasAvx2()) {
    std::printf("no AVX2/FMA/F16C on this CPU: bf16 products do not run here; skipped\n");
    return 0;
  }
  std::printf("CPU level %s\n", toString(cpuLevel()));
  at::manual_seed(5);
  linearRows();
  batchedProducts();
  if (!bf16ProductsInFp32()) batchedProductsAsMatmul();  // (at level avx2 they run in fp32 compute)
  attentionPaddedOnce();
  return check::finish("test_engine_products");
}
