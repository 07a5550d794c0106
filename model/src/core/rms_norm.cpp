#include "core/rms_norm.h"

#include <ATen/CPUGeneratorImpl.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/bf16.h"
#include "core/cpu_level.h"
#include "core/parallel.h"

namespace cxr::detail {

namespace {

#define CXR_AVX2 __attribute__((target("avx2,fma")))

at::Tensor rmsNormByOps(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor xf = x.to(at::kFloat);                        // [T, H] fp32
  at::Tensor var = xf.pow(2).mean({-1}, /*keepdim=*/true);  // [T, 1]
  return weight * (xf * at::rsqrt(var + eps)).to(x.scalar_type());
}

// Eight squares x[8v .. 8v+7]^2 in fp32 (pow(2) is x * x in libtorch).
CXR_AVX2 inline __m256 squares(const uint16_t* x, int64_t v) {
  const __m256 a = widenBf16x8(x + 8 * v);
  return _mm256_mul_ps(a, a);
}

// The sum of x[i]^2 over a row of n >= 8 elements in the order of libtorch 1.13's sum over a
// contiguous last dimension at its AVX2 level (SumKernel.cpp: vectorized_inner_sum -> row_sum ->
// multi_row_sum; at::mean on the CPU is that sum divided by n):
// - the row's whole 8-float vectors are taken 4 at a time, each of the 4 in its own accumulator
//   chain; every 16 such steps the level-0 accumulators are added into level 1 (and on into levels
//   2 and 3 at every 256th and 4096th step), a cascade that keeps the partial sums of like size;
// - the levels are added back into level 0, the vectors left over (fewer than 4) into chain 0, and
//   chains 1, 2, 3 into chain 0 in turn;
// - a scalar sum starts at 0, takes the elements after the last whole vector, then chain 0's 8 lanes
//   in order.
// (The cascade's step is 16 for rows of up to 2^21 vectors; rmsNorm takes this only for far shorter.)
CXR_AVX2 float sumOfSquares(const uint16_t* x, int64_t n) {
  constexpr int64_t chains = 4, levels = 4, levelBits = 4, levelStep = int64_t(1) << levelBits;
  const int64_t vectors = n / 8, steps = vectors / chains;
  __m256 acc[levels][chains];
  for (auto& level : acc)
    for (auto& a : level) a = _mm256_setzero_ps();
  int64_t i = 0;
  while (i + levelStep <= steps) {
    for (int64_t j = 0; j < levelStep; ++j, ++i)
      for (int64_t k = 0; k < chains; ++k) acc[0][k] = _mm256_add_ps(acc[0][k], squares(x, chains * i + k));
    for (int64_t level = 1; level < levels; ++level) {
      for (int64_t k = 0; k < chains; ++k) {
        acc[level][k] = _mm256_add_ps(acc[level][k], acc[level - 1][k]);
        acc[level - 1][k] = _mm256_setzero_ps();
      }
      if ((i & ((levelStep - 1) << (level * levelBits))) != 0) break;
    }
  }
  for (; i < steps; ++i)
    for (int64_t k = 0; k < chains; ++k) acc[0][k] = _mm256_add_ps(acc[0][k], squares(x, chains * i + k));
  for (int64_t level = 1; level < levels; ++level)
    for (int64_t k = 0; k < chains; ++k) acc[0][k] = _mm256_add_ps(acc[0][k], acc[level][k]);
  __m256 chain0 = acc[0][0];
  for (int64_t v = steps * chains; v < vectors; ++v) chain0 = _mm256_add_ps(chain0, squares(x, v));
  for (int64_t k = 1; k < chains; ++k) chain0 = _mm256_add_ps(chain0, acc[0][k]);
  float sum = 0;
  for (int64_t e = vectors * 8; e < n; ++e) {
    const float a = bf16ToFloat(x[e]);
    sum += a * a;
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, chain0);
  for (float lane : lanes) sum += lane;
  return sum;
}

// One row: var = sum / n; r = 1 / sqrt(var + eps) (rsqrt is a divide and a square root in libtorch,
// each correctly rounded); y = bf16(x * r); out = bf16(weight * y).
CXR_AVX2 void normRow(const uint16_t* x, const uint16_t* weight, uint16_t* out, int64_t n, float eps) {
  const float var = sumOfSquares(x, n) / float(n);
  const float r = 1.0f / std::sqrt(var + eps);
  const __m256 rVec = _mm256_set1_ps(r);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 y = roundToBf16x8(_mm256_mul_ps(widenBf16x8(x + i), rVec));
    storeBf16x8(out + i, _mm256_mul_ps(widenBf16x8(weight + i), y));
  }
  for (; i < n; ++i) {
    const float y = bf16ToFloat(floatToBf16(bf16ToFloat(x[i]) * r));
    out[i] = floatToBf16(bf16ToFloat(weight[i]) * y);
  }
}

// Rows from 8 elements (libtorch's vector path) up to 16384: libtorch sums a single row of 32768 or
// more elements in two passes split over its threads, another order.
constexpr int64_t kMinRow = 8, kMaxRow = 16384;

at::Tensor rmsNormFused(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const int64_t n = x.size(-1), rows = n > 0 ? x.numel() / n : 0;
  at::Tensor out = at::empty_like(x);
  const auto* in = static_cast<const uint16_t*>(x.data_ptr());
  const auto* w = static_cast<const uint16_t*>(weight.data_ptr());
  auto* o = static_cast<uint16_t*>(out.data_ptr());
  const auto epsF = float(eps);  // what `var + eps` adds to an fp32 tensor
  // One row (a decode step) runs inline: at::parallel_for opens no region for a range within its grain.
  at::parallel_for(0, rows, std::max<int64_t>(1, at::internal::GRAIN_SIZE / n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) normRow(in + r * n, w, o + r * n, n, epsF);
  });
  return out;
}

bool isCpuBf16(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kBFloat16 && t.is_contiguous();
}

bool takesOnePass(const at::Tensor& x) {
  const int64_t n = x.dim() > 0 ? x.size(-1) : 0;
  return isCpuBf16(x) && n >= kMinRow && n <= kMaxRow;  // (the CPU's AVX2: fusedAgrees)
}

at::Tensor meanOfSquaresOnePass(const at::Tensor& x) {
  const int64_t n = x.size(-1), rows = x.numel() / n;
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = 1;
  at::Tensor out = at::empty(shape, x.options().dtype(at::kFloat));
  const auto* in = static_cast<const uint16_t*>(x.data_ptr());
  float* o = out.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) o[r] = sumOfSquares(in + r * n, n) / float(n);
  return out;
}

// Whether rmsNormFused is libtorch's chain here, checked once on random rows (the engine's widths and
// ragged ones, values small and large) with a generator of its own (the process's default one, which
// tests seed, is left as it was): their means of squares exactly, then the whole norm. The sum's order
// is that of ATen's AVX2 kernels (atenKernelsAtAvx2).
bool fusedAgrees() {
  static const bool agrees = [] {
    if (!atenKernelsAtAvx2()) return false;
    const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(20261207);
    for (const int64_t n : {int64_t(4096), int64_t(5120), int64_t(100), int64_t(4099)}) {
      const at::Tensor x = at::randn({16, n}, generator, at::TensorOptions().dtype(at::kFloat))
                               .mul(at::arange(1, 17, at::kFloat).pow(2).unsqueeze(1))
                               .to(at::kBFloat16);
      const at::Tensor weight = at::randn({n}, generator, at::TensorOptions().dtype(at::kFloat)).to(at::kBFloat16);
      if (!at::equal(meanOfSquaresOnePass(x), x.to(at::kFloat).pow(2).mean({-1}, /*keepdim=*/true)) ||
          !at::equal(rmsNormFused(x, weight, 1e-5), rmsNormByOps(x, weight, 1e-5)))
        return false;
    }
    return true;
  }();
  return agrees;
}

}  // namespace

bool fusedRmsNormInUse() { return fusedAgrees(); }

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (!takesOnePass(x) || !isCpuBf16(weight) || weight.dim() != 1 || weight.size(0) != x.size(-1) ||
      !fusedAgrees())
    return rmsNormByOps(x, weight, eps);
  return rmsNormFused(x, weight, eps);
}

at::Tensor meanOfSquares(const at::Tensor& x) {
  if (!takesOnePass(x) || !fusedAgrees()) return x.to(at::kFloat).pow(2).mean({-1}, /*keepdim=*/true);
  return meanOfSquaresOnePass(x);
}

}  // namespace cxr::detail
