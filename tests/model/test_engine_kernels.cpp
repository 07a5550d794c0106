// The AVX-512 BF16 decode gemv against a float64 reference on bf16 inputs: all row lengths
// (multiples of 64, of 32 and ragged tails) and a 7B-sized row; the result must be the reference
// rounded to bf16 within one bf16 step (fp32 accumulation order differs from float64).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/gemv_bf16.h"
#include "support/check.h"

namespace {
float bf(uint16_t v) {
  uint32_t u = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t tobf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}
}  // namespace

int main() {
  if (!cxr::detail::gemvBf16Available()) {
    std::printf("no AVX-512 BF16 on this CPU: the engine uses at::linear; skipped\n");
    return 0;
  }
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t k : {1, 7, 31, 32, 33, 64, 96, 100, 176, 4096, 11008}) {
    const int64_t n = 37;
    std::vector<uint16_t> w(static_cast<size_t>(n * k)), x(static_cast<size_t>(k)), y(static_cast<size_t>(n));
    for (auto& v : w) v = tobf(normal(rng) * 0.05f);
    for (auto& v : x) v = tobf(normal(rng));
    cxr::detail::gemvBf16(w.data(), x.data(), y.data(), n, k);
    double worst = 0;
    for (int64_t r = 0; r < n; ++r) {
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        ref += double(bf(w[size_t(r * k + i)])) * bf(x[size_t(i)]);
        mag += std::fabs(double(bf(w[size_t(r * k + i)])) * bf(x[size_t(i)]));
      }
      // one bf16 rounding of the result (2^-8 relative) plus fp32 accumulation error
      const double tol = std::fabs(ref) * std::ldexp(1.0, -8) + mag * 1e-6 + 1e-30;
      worst = std::max(worst, std::fabs(bf(y[size_t(r)]) - ref) / tol);
    }
    CHECK(worst <= 1.0, "K=" + std::to_string(k) + ": error " + std::to_string(worst) + " x tolerance");
  }
  return check::finish("test_engine_kernels");
}
