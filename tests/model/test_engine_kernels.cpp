// The hand-written decode kernels against float64 references on bf16 inputs, each result within
// one bf16 step of the reference (fp32 accumulation order differs from float64), for every variant
// this CPU runs up to the process's level (AVX2 + FMA always; AVX-512 BF16 at level avx512; ctest
// runs it again with CXR_CPU_LEVEL=avx2):
// - the gemv: all row lengths (multiples of 64, of 32, of 16, ragged tails) and 7B-sized rows;
// - one-position attention: scores q.k and the probability-weighted sum of V, over head widths
//   16..128, grouped-query layouts and a cache holding more positions than are attended.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/attention_decode.h"
#include "core/cpu_level.h"
#include "core/bf16.h"
#include "core/gemv_bf16.h"
#include "support/check.h"

namespace {
float bf(uint16_t v) { return cxr::detail::bf16ToFloat(v); }
uint16_t tobf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}

using cxr::detail::CpuLevel;

void checkKernels(CpuLevel level) {
  const std::string variant = std::string(cxr::detail::toString(level)) + ": ";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t k : {1, 7, 15, 16, 17, 31, 32, 33, 48, 64, 80, 96, 100, 176, 4096, 11008}) {
    const int64_t n = 37;
    std::vector<uint16_t> w(static_cast<size_t>(n * k)), x(static_cast<size_t>(k)), y(static_cast<size_t>(n));
    for (auto& v : w) v = tobf(normal(rng) * 0.05f);
    for (auto& v : x) v = tobf(normal(rng));
    cxr::detail::gemvBf16(w.data(), x.data(), y.data(), n, k, level);
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
    CHECK(worst <= 1.0, variant + "gemv K=" + std::to_string(k) + ": error " + std::to_string(worst) + " x tolerance");
  }

  // Several positions at once (the weight rows taken in cache-sized tiles: 8 rows of 4096, 2 of
  // 11008, a last tile cut short; two targets stacked): each position bit for bit as alone.
  for (int64_t k : {int64_t(100), int64_t(4096), int64_t(11008)}) {
    const std::vector<int64_t> rows = {37, 20};
    for (int64_t positions : {2, 5, 24}) {
      std::vector<std::vector<uint16_t>> ws, together;
      std::vector<cxr::detail::GemvTarget> targets;
      for (int64_t n : rows) {
        ws.emplace_back(size_t(n * k));
        for (auto& v : ws.back()) v = tobf(normal(rng) * 0.05f);
        together.emplace_back(size_t(positions * n));
        targets.push_back({ws.back().data(), together.back().data(), n});
      }
      std::vector<uint16_t> x(size_t(positions * k));
      for (auto& v : x) v = tobf(normal(rng));
      cxr::detail::gemvBf16Positions(targets.data(), int(targets.size()), x.data(), positions, k, level);
      bool same = true;
      for (int64_t p = 0; p < positions; ++p)
        for (size_t i = 0; i < rows.size(); ++i) {
          std::vector<uint16_t> alone(size_t(rows[i]));
          cxr::detail::gemvBf16(ws[i].data(), x.data() + p * k, alone.data(), rows[i], k, level);
          same = same && std::equal(alone.begin(), alone.end(), together[i].begin() + p * rows[i]);
        }
      CHECK(same, variant + "gemvBf16Positions differs from one position at a time, K=" + std::to_string(k) + ", " +
                      std::to_string(positions) + " positions");
    }
  }

  for (int64_t hd : {16, 32, 48, 64, 128}) {
    for (auto [heads, kvHeads] : {std::pair<int64_t, int64_t>{4, 4}, {8, 2}}) {
      for (int64_t keys : {1, 3, 37, 300}) {
        if (!cxr::detail::attentionDecodeAvailable(hd)) continue;
        const int64_t capacity = keys + 5, group = heads / kvHeads;
        const float scale = 1.f / std::sqrt(float(hd));
        std::vector<uint16_t> q(size_t(heads * hd)), k(size_t(kvHeads * capacity * hd)), v(k.size());
        for (auto& e : q) e = tobf(normal(rng));
        for (auto& e : k) e = tobf(normal(rng));
        for (auto& e : v) e = tobf(normal(rng));
        const std::string where = variant + "hd " + std::to_string(hd) + ", heads " + std::to_string(heads) + "/" +
                                  std::to_string(kvHeads) + ", keys " + std::to_string(keys);

        std::vector<float> scores(size_t(heads * keys));
        cxr::detail::attentionScoresBf16(q.data(), k.data(), heads, kvHeads, capacity, keys, hd, scale, scores.data(), level);
        double worstScore = 0;
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t j = 0; j < keys; ++j) {
            double dot = 0, mag = 0;
            for (int64_t d = 0; d < hd; ++d) {
              const double p = double(bf(q[size_t(h * hd + d)])) * bf(k[size_t(((h / group) * capacity + j) * hd + d)]);
              dot += p;
              mag += std::fabs(p);
            }
            const double tol = scale * (std::fabs(dot) * std::ldexp(1.0, -8) + mag * 1e-6) + 1e-30;
            worstScore = std::max(worstScore, std::fabs(scores[size_t(h * keys + j)] - scale * dot) / tol);
          }
        CHECK(worstScore <= 1.0, "attention scores, " + where + ": error " + std::to_string(worstScore) + " x tolerance");

        // Probabilities as the engine hands them over: positive, summing to about 1, in bf16.
        std::vector<uint16_t> probs(size_t(heads * keys)), out(size_t(heads * hd));
        for (int64_t h = 0; h < heads; ++h) {
          double total = 0;
          std::vector<double> raw(static_cast<size_t>(keys));
          for (auto& r : raw) total += (r = std::exp(normal(rng)));
          for (int64_t j = 0; j < keys; ++j) probs[size_t(h * keys + j)] = tobf(float(raw[size_t(j)] / total));
        }
        cxr::detail::attentionValuesBf16(probs.data(), v.data(), heads, kvHeads, capacity, keys, hd, out.data(), level);
        double worstValue = 0;
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t d = 0; d < hd; ++d) {
            double sum = 0, mag = 0;
            for (int64_t j = 0; j < keys; ++j) {
              const double p = double(bf(probs[size_t(h * keys + j)])) * bf(v[size_t(((h / group) * capacity + j) * hd + d)]);
              sum += p;
              mag += std::fabs(p);
            }
            const double tol = std::fabs(sum) * std::ldexp(1.0, -8) + mag * 1e-6 + 1e-30;
            worstValue = std::max(worstValue, std::fabs(bf(out[size_t(h * hd + d)]) - sum) / tol);
          }
        CHECK(worstValue <= 1.0, "attention values, " + where + ": error " + std::to_string(worstValue) + " x tolerance");
      }
    }
  }
}

}  // namespace

int main() {
  if (!cxr::detail::gemvBf16Available()) {
    std::printf("no AVX2/FMA on this CPU: the engine's kernels do not run here; skipped\n");
    return 0;
  }
  // The process's level picks the variant the engine uses; the lower ones run on this CPU too.
  const CpuLevel level = cxr::detail::cpuLevel();
  std::printf("CPU level %s\n", cxr::detail::toString(level));
  checkKernels(CpuLevel::Avx2);
  if (level == CpuLevel::Avx512) checkKernels(CpuLevel::Avx512);
  return check::finish("test_engine_kernels");
}
