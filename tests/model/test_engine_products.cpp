// The engine's matrix products (model/src/core/products.h) against fp32 references on bf16 operands,
// for row counts around the padding rule (bf16 products of 32 rows or more run on operands padded
// with zeros to multiples of 16, because oneDNN's AMX GEMM slows down up to 20x on other counts):
// - linearProduct keeps x's leading shape and gives every row the product of its own row, with and
//   without a bias, for 2-D and 3-D x, also where it runs in pieces of 512 rows (1024, 1025, 1121 rows);
// - matmulProduct (attention's batched products) with ragged rows, inner size and columns.
// Each result within one bf16 rounding of the fp32 product (plus the fp32 accumulation's own error).
// ctest runs it at the machine's level and again with CXR_CPU_LEVEL=avx2 (the fp32-compute route).
#include <ATen/ATen.h>

#include <cstdio>
#include <string>

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
  for (int64_t rows : {1, 16, 31, 32, 33, 51, 64, 97, 512, 1024, 1025, 1121}) {
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
  return check::finish("test_engine_products");
}
