// RMSNorm in one pass (model/src/core/rms_norm.h) against libtorch's chain of ops, bit for bit:
// - the mean of the squares alone (the statistic, exactly: most sensitive to the sum's order);
// - rows of every width class the sum's order distinguishes (shorter than a cascade step, whole
//   steps, 1-3 vectors left over, a scalar tail, the 7B's 4096 and 11008), 1 to 64 rows, values
//   small, ordinary and large, both epsilons of LLaMA checkpoints, at 1 and 2 threads;
// - rows whose squares overflow to inf, NaN inputs, zero rows;
// - what it does not take: fp32, non-contiguous rows, rows under 8 elements, no rows (libtorch's ops).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <limits>
#include <string>

#include "core/cpu_level.h"
#include "core/rms_norm.h"
#include "support/check.h"

using namespace cxr::detail;

namespace {

// The chain as transformers 4.36 (and the engine before the one-pass form) computes it.
at::Tensor chain(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor var = xf.pow(2).mean({-1}, /*keepdim=*/true);
  return weight * (xf * at::rsqrt(var + eps)).to(x.scalar_type());
}

// Equal bit for bit, or NaN in the same places (a NaN's payload is not part of the contract).
bool sameValues(const at::Tensor& a, const at::Tensor& b) {
  if (!a.sizes().equals(b.sizes()) || a.scalar_type() != b.scalar_type()) return false;
  const at::Tensor af = a.to(at::kFloat), bf = b.to(at::kFloat);
  const at::Tensor nanA = at::isnan(af), nanB = at::isnan(bf);
  return at::equal(nanA, nanB) && at::equal(af.masked_fill(nanA, 0), bf.masked_fill(nanB, 0));
}

// The statistic alone, exactly: a different order of the sum shows in its last bits in most rows.
void meansOfSquares() {
  for (int64_t n : {8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 288, 511, 512, 513,
                    1000, 2047, 2048, 2049, 4095, 4096, 4097, 4099, 5120, 8192, 11008, 16383, 16384}) {
    const at::Tensor x = at::randn({64, n}).mul(at::linspace(0.01, 40, 64).unsqueeze(1)).to(at::kBFloat16);
    CHECK(at::equal(meanOfSquares(x), x.to(at::kFloat).pow(2).mean({-1}, /*keepdim=*/true)),
          "meanOfSquares, 64 x " + std::to_string(n));
  }
}

void randomRows() {
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (int64_t n : {8, 9, 31, 32, 33, 64, 100, 127, 128, 129, 288, 511, 512, 513, 1000, 2048, 4095, 4096, 4097,
                      5120, 8192, 11008, 16384}) {
      for (int64_t rows : {1, 3, 17, 64}) {
        for (double scale : {0.01, 1.0, 30.0}) {
          const at::Tensor x = at::randn({rows, n}).mul(scale).to(at::kBFloat16);
          const at::Tensor weight = at::randn({n}).mul(0.3).add(1).to(at::kBFloat16);
          for (double eps : {1e-6, 1e-5}) {
            CHECK(at::equal(rmsNorm(x, weight, eps), chain(x, weight, eps)),
                  "rmsNorm, " + std::to_string(rows) + " x " + std::to_string(n) + ", values x" +
                      std::to_string(scale) + ", eps " + std::to_string(eps) + ", " + std::to_string(threads) +
                      " threads");
          }
        }
      }
    }
  }
  // a forward's [T, hidden] as three dimensions, and the last position alone (the final norm)
  const at::Tensor x = at::randn({2, 37, 4096}).to(at::kBFloat16), weight = at::randn({4096}).to(at::kBFloat16);
  CHECK(at::equal(rmsNorm(x, weight, 1e-5), chain(x, weight, 1e-5)), "rmsNorm of [2, 37, 4096]");
  const at::Tensor last = x[1].narrow(0, 36, 1);
  CHECK(at::equal(rmsNorm(last, weight, 1e-5), chain(last, weight, 1e-5)), "rmsNorm of a narrowed last row");
}

void extremeValues() {
  const int64_t n = 4096;
  const at::Tensor weight = at::randn({n}).to(at::kBFloat16);
  at::Tensor x = at::randn({4, n}).to(at::kBFloat16);
  x[0][17] = 3.0e38;                                    // its square overflows: r = 0, inf * 0 = NaN
  x[1][4000] = std::numeric_limits<float>::quiet_NaN();  // NaN spreads through the row
  x[2].zero_();                                          // var 0: r = 1 / sqrt(eps)
  x[3].mul_(1e-30);                                      // squares underflow
  CHECK(sameValues(rmsNorm(x, weight, 1e-6), chain(x, weight, 1e-6)), "rmsNorm with inf, NaN, zero and tiny rows");
}

void untakenShapes() {
  const at::Tensor x32 = at::randn({3, 64}), w32 = at::randn({64});
  CHECK(at::equal(rmsNorm(x32, w32, 1e-5), chain(x32, w32, 1e-5)), "rmsNorm in fp32 (libtorch's ops)");
  const at::Tensor shortRows = at::randn({64, 6}).to(at::kBFloat16), w = at::randn({6}).to(at::kBFloat16);
  CHECK(at::equal(rmsNorm(shortRows, w, 1e-5), chain(shortRows, w, 1e-5)), "rmsNorm of 6-element rows");
  const at::Tensor strided = at::randn({64, 40}).to(at::kBFloat16).t(), w40 = at::randn({64}).to(at::kBFloat16);
  CHECK(at::equal(rmsNorm(strided, w40, 1e-5), chain(strided, w40, 1e-5)), "rmsNorm of non-contiguous rows");
  const at::Tensor none = at::empty({0, 4096}, at::kBFloat16), w4096 = at::randn({4096}).to(at::kBFloat16);
  CHECK(rmsNorm(none, w4096, 1e-5).sizes().equals({0, 4096}), "rmsNorm of no rows");
}

}  // namespace

int main() {
  at::manual_seed(23);
  std::printf("one-pass RMSNorm in use: %s\n", fusedRmsNormInUse() ? "yes" : "no");
  if (cpuHasAvx2())
    CHECK(fusedRmsNormInUse(), "the one-pass RMSNorm is not in use: it differed from libtorch's chain on its check");
  meansOfSquares();
  randomRows();
  extremeValues();
  untakenShapes();
  return check::finish("test_rms_norm");
}
