// The int8 / int4 block formats and their kernels (quant_format.h, quant_kernels.h):
// - round trip: int8 within half a step of its scale; int4's fitted scale and minimum never worse
//   than Q4_1's plain min/max rule on any block, and within half a plain step of every weight;
//   ragged rows (K not a multiple of 32) included;
// - the decode gemv of both formats against a float64 product of the dequantized weights, at the
//   level this process runs at (cpuLevel(): ctest runs this program twice, once with
//   CXR_CPU_LEVEL=avx2) and at AVX2 explicitly;
// - tile dequantization (fp32 and bf16) equal to the row dequantization;
// - on the trained stories260K decoder weights: the squared error of the fitted int4 against plain
//   Q4_1 (printed; the fitted one must be lower), and of int8.
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/bf16.h"
#include "core/checkpoint.h"
#include "core/cpu_level.h"
#include "core/model_config.h"
#include "core/quant_cache.h"
#include "core/quant_format.h"
#include "core/quant_kernels.h"
#include "core/weights_choice.h"
#include "support/check.h"

namespace fs = std::filesystem;
using namespace cxr::detail;

namespace {

std::vector<float> randomRow(std::mt19937& rng, int64_t k, float scale, float shift) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(k));
  for (auto& x : v) x = normal(rng) * scale + shift;
  return v;
}

double blockSse(const float* a, const float* b, int64_t begin, int64_t end) {
  double e = 0;
  for (int64_t i = begin; i < end; ++i) e += double(a[i] - b[i]) * double(a[i] - b[i]);
  return e;
}

void roundTrip() {
  std::mt19937 rng(11);
  for (int64_t k : {1, 7, 31, 32, 33, 64, 172, 4096}) {
    for (float shift : {0.f, 0.03f}) {
      const std::vector<float> row = randomRow(rng, k, 0.05f, shift);
      const std::string where = "K=" + std::to_string(k) + " shift " + std::to_string(shift);
      // int8: every weight within half a step of the block's stored scale.
      std::vector<uint8_t> q8(static_cast<size_t>(quantRowBytes(QuantFormat::Int8, k)));
      quantizeRow(QuantFormat::Int8, row.data(), k, q8.data());
      std::vector<float> back(static_cast<size_t>(k));
      dequantizeRow(QuantFormat::Int8, q8.data(), k, back.data());
      bool within = true;
      for (int64_t i = 0; i < k; ++i) {
        uint16_t dh;
        std::memcpy(&dh, q8.data() + (i / 32) * kInt8BlockBytes, 2);
        within = within && std::fabs(back[size_t(i)] - row[size_t(i)]) <= 0.5f * halfToFloat(dh) * 1.001f + 1e-12f;
      }
      CHECK(within, "int8 round trip beyond half a step: " + where);

      // int4: per block, the fitted rule's squared error <= plain Q4_1's; every weight within half
      // a plain step (the range / 15, plus the fp16 rounding of d and m).
      std::vector<uint8_t> fitted(static_cast<size_t>(quantRowBytes(QuantFormat::Int4, k))), plain(fitted.size());
      quantizeRow(QuantFormat::Int4, row.data(), k, fitted.data());
      quantizeRowInt4Plain(row.data(), k, plain.data());
      std::vector<float> f(static_cast<size_t>(k)), p(static_cast<size_t>(k));
      dequantizeRow(QuantFormat::Int4, fitted.data(), k, f.data());
      dequantizeRow(QuantFormat::Int4, plain.data(), k, p.data());
      bool notWorse = true, plainWithin = true;
      for (int64_t b0 = 0; b0 < k; b0 += 32) {
        const int64_t b1 = std::min<int64_t>(k, b0 + 32);
        notWorse = notWorse && blockSse(f.data(), row.data(), b0, b1) <= blockSse(p.data(), row.data(), b0, b1) * (1 + 1e-6);
        float lo = row[size_t(b0)], hi = lo;
        for (int64_t i = b0; i < b1; ++i) lo = std::min(lo, row[size_t(i)]), hi = std::max(hi, row[size_t(i)]);
        for (int64_t i = b0; i < b1; ++i)
          plainWithin = plainWithin && std::fabs(p[size_t(i)] - row[size_t(i)]) <= 0.5f * (hi - lo) / 15.f * 1.01f + 1e-3f * std::fabs(lo) + 1e-7f;
      }
      CHECK(notWorse, "fitted int4 worse than plain Q4_1 on a block: " + where);
      CHECK(plainWithin, "plain Q4_1 beyond half a step: " + where);
    }
  }
  // An all-zero block comes back exactly in both formats, a constant one in int4.
  std::vector<float> flat(40, 0.25f), zeros(40, 0.f), out(40);
  for (QuantFormat f : {QuantFormat::Int8, QuantFormat::Int4}) {
    std::vector<uint8_t> q(static_cast<size_t>(quantRowBytes(f, 40)));
    quantizeRow(f, zeros.data(), 40, q.data());
    dequantizeRow(f, q.data(), 40, out.data());
    CHECK(blockSse(out.data(), zeros.data(), 0, 40) == 0, std::string(toString(f)) + ": zeros not exact");
    if (f == QuantFormat::Int4) {  // its minimum holds a constant block exactly
      quantizeRow(f, flat.data(), 40, q.data());
      dequantizeRow(f, q.data(), 40, out.data());
      CHECK(blockSse(out.data(), flat.data(), 0, 40) == 0, "int4: a constant row not exact");
    }
  }
}

void gemvAgainstReference(CpuLevel level) {
  std::mt19937 rng(7);
  for (QuantFormat f : {QuantFormat::Int8, QuantFormat::Int4}) {
    for (int64_t k : {1, 31, 32, 33, 172, 4096, 11008}) {
      const int64_t n = 37;
      const int64_t rowBytes = quantRowBytes(f, k);
      std::vector<uint8_t> w(static_cast<size_t>(n * rowBytes));
      std::vector<float> deq(static_cast<size_t>(n * k));
      for (int64_t r = 0; r < n; ++r) {
        const std::vector<float> row = randomRow(rng, k, 0.05f, r % 3 == 0 ? 0.02f : 0.f);
        quantizeRow(f, row.data(), k, w.data() + r * rowBytes);
        dequantizeRow(f, w.data() + r * rowBytes, k, deq.data() + r * k);
      }
      const std::vector<float> x = randomRow(rng, k, 1.f, 0.f);
      std::vector<float> y(static_cast<size_t>(n));
      gemvQuant(f, w.data(), x.data(), y.data(), n, k, level);
      double worst = 0;
      for (int64_t r = 0; r < n; ++r) {
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < k; ++i) {
          ref += double(deq[size_t(r * k + i)]) * x[size_t(i)];
          mag += std::fabs(double(deq[size_t(r * k + i)]) * x[size_t(i)]);
        }
        // fp32 accumulation in another order than the float64 sum
        worst = std::max(worst, std::fabs(y[size_t(r)] - ref) / (mag * 2e-6 + 1e-30));
      }
      CHECK(worst <= 1.0, std::string(toString(f)) + " gemv at " + toString(level) + ", K=" + std::to_string(k) +
                              ": error " + std::to_string(worst) + " x tolerance");

      // Tiles for the prefill GEMM: rows 3..20 in fp32 and bf16, as the row dequantization.
      std::vector<float> tile(static_cast<size_t>(17 * k));
      std::vector<uint16_t> tile16(tile.size());
      dequantizeRows(f, w.data(), 3, 20, k, tile.data());
      const bool bf16Tiles = __builtin_cpu_supports("avx512bf16");  // the bf16 tiles need AVX-512 BF16
      if (bf16Tiles) dequantizeRowsBf16(f, w.data(), 3, 20, k, tile16.data());
      bool same = true, same16 = true;
      for (int64_t i = 0; i < 17 * k; ++i) {
        same = same && tile[size_t(i)] == deq[size_t(3 * k + i)];
        same16 = same16 && (!bf16Tiles || tile16[size_t(i)] == floatToBf16(deq[size_t(3 * k + i)]));
      }
      CHECK(same, std::string(toString(f)) + " fp32 tile differs, K=" + std::to_string(k));
      CHECK(same16, std::string(toString(f)) + " bf16 tile differs, K=" + std::to_string(k));
    }
  }
}

// Squared error of each rule over every quantized matrix of the trained model.
void trainedWeights(const std::string& shared) {
  const fs::path folder = fs::path(shared) / "stories260k-hf";
  if (shared.empty() || !fs::exists(folder / "model.safetensors")) {
    std::printf("stories260k-hf absent: the trained-weights comparison is skipped\n");
    return;
  }
  std::vector<std::string> problems;
  const ModelConfig config = readModelConfig((folder / "config.json").string(), problems);
  CHECK(problems.empty(), "config.json of stories260k-hf");
  auto checkpoint = Checkpoint::open(folder.string(), config);
  double sse8 = 0, sseFitted = 0, ssePlain = 0, energy = 0;
  int64_t count = 0;
  for (const auto& [name, source] : quantizedWeightNames(config, *checkpoint)) {
    const TensorView& v = checkpoint->tensor(source);
    CHECK(v.dtype == StoredDType::F32, name + " is stored as F32");
    const int64_t rows = v.shape[0], k = v.shape[1];
    std::vector<float> row(static_cast<size_t>(k)), back(row.size());
    std::vector<uint8_t> q(static_cast<size_t>(quantRowBytes(QuantFormat::Int8, k)));
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(row.data(), v.data + size_t(r * k) * 4, size_t(k) * 4);
      for (float x : row) energy += double(x) * x;
      quantizeRow(QuantFormat::Int8, row.data(), k, q.data());
      dequantizeRow(QuantFormat::Int8, q.data(), k, back.data());
      sse8 += blockSse(back.data(), row.data(), 0, k);
      quantizeRow(QuantFormat::Int4, row.data(), k, q.data());
      dequantizeRow(QuantFormat::Int4, q.data(), k, back.data());
      sseFitted += blockSse(back.data(), row.data(), 0, k);
      quantizeRowInt4Plain(row.data(), k, q.data());
      dequantizeRow(QuantFormat::Int4, q.data(), k, back.data());
      ssePlain += blockSse(back.data(), row.data(), 0, k);
      count += k;
    }
  }
  std::printf("stories260K, %lld quantized weights (sum of squares %.4g): squared error int8 %.4g, int4 fitted %.4g, "
              "int4 plain Q4_1 %.4g (fitted / plain = %.3f)\n",
              static_cast<long long>(count), energy, sse8, sseFitted, ssePlain, sseFitted / ssePlain);
  CHECK(sseFitted < ssePlain, "the fitted int4 rule is not better than plain Q4_1 on trained weights");
  CHECK(sse8 < sseFitted / 50, "int8 is not far more precise than int4 on trained weights");
}

// LoadOptions::weights "auto": bf16 while the memory holds the bf16 weights + 1.5 GiB, else int8
// with a reason; names as asked; anything else refused.
void weightsRule() {
  const int64_t params = 7'000'000'000, gib = int64_t(1) << 30;
  const int64_t needed = params * 2 + 3 * gib / 2;
  CHECK(!chooseWeights("auto", params, needed).format, "auto keeps bf16 when the memory holds it");
  CHECK(chooseWeights("auto", params, std::nullopt).reason.empty(), "auto keeps bf16 when the memory is unknown");
  const WeightsChoice small = chooseWeights("auto", params, needed - 1);
  CHECK(small.format == QuantFormat::Int8, "auto takes int8 when bf16 + 1.5 GiB does not fit");
  CHECK(small.reason.find("13.0 GiB") != std::string::npos, "the reason names the bf16 size: " + small.reason);
  CHECK(chooseWeights("bf16", params, 0).reason.empty() && !chooseWeights("bf16", params, 0).format,
        "bf16 asked by name stays bf16 whatever the memory");
  CHECK(chooseWeights("int4", params, needed).format == QuantFormat::Int4, "int4 by name");
  bool refused = false;
  try {
    chooseWeights("q4_0", params, needed);
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("'q4_0'") != std::string::npos;
  }
  CHECK(refused, "an unknown weights name is refused with its name");
}

}  // namespace

int main(int argc, char** argv) {
  weightsRule();
  std::printf("cpu level of this process: %s\n", toString(cpuLevel()));
  roundTrip();
  gemvAgainstReference(cpuLevel());
  if (cpuLevel() != CpuLevel::Avx2) gemvAgainstReference(CpuLevel::Avx2);
  const bool halfRoundTrip = halfToFloat(floatToHalf(0.1f)) == 0.0999755859375f && halfToFloat(floatToHalf(65504.f)) == 65504.f &&
                             halfToFloat(floatToHalf(5.9604645e-08f)) == 5.9604645e-08f && std::isinf(halfToFloat(floatToHalf(1e6f)));
  CHECK(halfRoundTrip, "fp16 conversion");
  trainedWeights(check::sharedData(argc, argv));
  return check::finish("test_quant");
}
