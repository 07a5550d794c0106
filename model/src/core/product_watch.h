// A probe for tests: counts the matrix products that reach libtorch while it is alive, by operand
// dtype, through libtorch's RecordFunction observers (every operator call of any thread, as the
// profiler sees them). test_engine_cpu_level uses it to show that at level avx2 no bf16 product
// reaches libtorch (where it would run ATen's generic GEMM, or abort under ONEDNN_MAX_CPU_ISA=AVX2).
// Observers slow every operator call a little: never used outside tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cxr::detail {

class ProductWatch {
 public:
  ProductWatch();
  ~ProductWatch();
  ProductWatch(const ProductWatch&) = delete;
  ProductWatch& operator=(const ProductWatch&) = delete;

  int64_t bf16Products() const;   // products with a bf16 operand (aten::mm, addmm, bmm, matmul, linear, ...)
  int64_t otherProducts() const;  // the others (fp32 and so on)
  // bf16 products that took the engine's fp32-compute route instead (products.h; level avx2).
  int64_t fp32RouteProducts() const;
  std::vector<std::string> bf16ProductNames() const;  // the operators seen with bf16 operands, once each

  struct State;

 private:
  std::shared_ptr<State> state_;
  uint64_t handle_ = 0;
  int64_t fp32RouteAtStart_ = 0;
};

}  // namespace cxr::detail
