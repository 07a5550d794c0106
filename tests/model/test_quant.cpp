// The int8 / int4 block formats and their kernels (quant_format.h, quant_kernels.h):
// - round trip: int8 within half a step of its scale; int4's fitted scale and minimum never worse
//   than Q4_1's plain min/max rule on any block, and within half a plain step of every weight;
//   ragged rows (K not a multiple of 32) included; the 4-bit fit's AVX2 sums give the bytes of its
//   scalar code (a CPU without AVX2) at every scale;
// - the activation's int8 blocks (within half a step, exact block sums);
// - the decode gemv of both formats against a float64 product of the dequantized weights and the
//   int8 activation (and within 1 % of sum |w x| of the unrounded activation's product), at the
//   level this process runs at (cpuLevel(): ctest runs this program twice, once with
//   CXR_CPU_LEVEL=avx2) and at AVX2 explicitly; several products in one call as one each;
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
#include "core/thread_pool.h"
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
      std::vector<uint8_t> scalar(fitted.size());
      quantizeRowInt4Scalar(row.data(), k, scalar.data());
      CHECK(scalar == fitted, "int4 fit: the AVX2 sums give other bytes than the scalar ones: " + where);
      CHECK(notWorse, "fitted int4 worse than plain Q4_1 on a block: " + where);
      CHECK(plainWithin, "plain Q4_1 beyond half a step: " + where);
    }
  }
  // The fit's AVX2 sums and F16C rounding against the scalar code on blocks of every scale, fp16
  // subnormal ones included (the same cache file on every CPU).
  for (float scale : {1e-7f, 1e-5f, 1e-3f, 0.02f, 1.f, 300.f}) {
    const int64_t k = 32 * 64 + 5;
    const std::vector<float> row = randomRow(rng, k, scale, scale / 3);
    std::vector<uint8_t> fast(static_cast<size_t>(quantRowBytes(QuantFormat::Int4, k))), scalar(fast.size());
    quantizeRow(QuantFormat::Int4, row.data(), k, fast.data());
    quantizeRowInt4Scalar(row.data(), k, scalar.data());
    CHECK(fast == scalar, "int4 fit differs from the scalar code at scale " + std::to_string(scale));
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

// The activation's int8 blocks: every element within half a step of its block's scale, zeros past k,
// the exact sums kept.
void activationQuantization() {
  std::mt19937 rng(5);
  for (int64_t k : {1, 31, 32, 33, 4096}) {
    std::vector<float> x = randomRow(rng, k, 3.f, 0.5f);
    if (k > 40) std::fill(x.begin() + 32, x.begin() + 64, 0.f);  // an all-zero block
    const QuantizedVector v = quantizeVector(x.data(), k);
    CHECK(v.blocks() == blocksPerRow(k) && int64_t(v.q.size()) == v.blocks() * kQuantBlock, "activation blocks");
    bool withinHalfStep = true, zeroPastK = true, sumsExact = true;
    for (int64_t b = 0; b < v.blocks(); ++b) {
      double sum = 0;
      for (int64_t i = b * kQuantBlock; i < (b + 1) * kQuantBlock; ++i) {
        if (i >= k) {
          zeroPastK = zeroPastK && v.q[size_t(i)] == 0;
          continue;
        }
        sum += x[size_t(i)];
        const double error = std::fabs(double(v.scale(b)) * v.q[size_t(i)] - x[size_t(i)]);
        withinHalfStep = withinHalfStep && error <= v.scale(b) * 0.5 * (1 + 1e-5) && std::abs(int(v.q[size_t(i)])) <= 127;
      }
      sumsExact = sumsExact && std::fabs(v.sum(b) - sum) <= 1e-5 * (std::fabs(sum) + 1);
    }
    CHECK(withinHalfStep, "activation element off by more than half a step, K=" + std::to_string(k));
    CHECK(zeroPastK, "activation levels past K not zero, K=" + std::to_string(k));
    CHECK(sumsExact, "activation block sums, K=" + std::to_string(k));
  }
  // The vector form against the scalar one, bit for bit: ragged tails, ties at half a level (a block
  // whose max|x| is 127 has scale 1: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2), zeros, tiny and huge values.
  for (int64_t k : {1, 31, 32, 33, 95, 4096, 11008}) {
    for (float magnitude : {1e-30f, 1e-3f, 3.f, 1e30f}) {
      std::vector<float> x = randomRow(rng, k, magnitude, 0.25f * magnitude);
      if (k >= 64) {
        std::fill(x.begin() + 32, x.begin() + 64, 0.f);
        x[32] = -0.f;
      }
      if (k >= 32 && magnitude == 3.f) {
        const float ties[] = {127.f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.5f, 126.5f, -126.5f};
        std::copy(std::begin(ties), std::end(ties), x.begin());
      }
      const QuantizedVector fast = quantizeVector(x.data(), k), scalar = quantizeVectorScalar(x.data(), k);
      CHECK(fast.q == scalar.q, "activation levels differ from the scalar form, K=" + std::to_string(k) +
                                    ", magnitude " + std::to_string(magnitude));
      CHECK(std::memcmp(fast.factors.data(), scalar.factors.data(), fast.factors.size() * sizeof(float)) == 0 &&
                fast.factors.size() == scalar.factors.size(),
            "activation scales or sums differ from the scalar form, K=" + std::to_string(k));
    }
  }
  {
    std::vector<float> x(32, 0.f);
    x[0] = 127.f, x[1] = 2.5f, x[2] = 3.5f, x[3] = -2.5f;
    const QuantizedVector v = quantizeVector(x.data(), 32);
    CHECK(v.scale(0) == 1.f && v.q[0] == 127 && v.q[1] == 2 && v.q[2] == 4 && v.q[3] == -2,
          "activation ties not rounded to nearest even");
  }
}

// Int4's minimum of block b of a row of nb blocks (quant_format.h: the pair (d, m) in its group).
double int4Minimum(const uint8_t* row, int64_t b, int64_t nb) {
  uint16_t h;
  std::memcpy(&h, row + int4Place(b, nb).pair + 2, 2);
  return halfToFloat(h);
}

// The int4 row layout, spelled out: groups of four blocks, the four (d, m) pairs and then the four
// blocks' 16 bytes of levels; a last group of fewer blocks likewise. Block b's weights run from b + 1
// to b + 1.5, so its minimum tells which block a pair belongs to; every weight decoded by hand from
// the offsets below must equal dequantizeRow's.
void int4Layout() {
  struct Case {
    int64_t k;
    std::vector<int64_t> pair, levels;  // per block
  };
  const std::vector<Case> cases = {
      {192, {0, 4, 8, 12, 80, 84}, {16, 32, 48, 64, 88, 104}},  // 6 blocks: 4 + 2
      {100, {0, 4, 8, 12}, {16, 32, 48, 64}},                    // 4 blocks, the last ragged
      {40, {0, 4}, {8, 24}},                                     // 2 blocks: one short group
      {288, {0, 4, 8, 12, 80, 84, 88, 92, 160}, {16, 32, 48, 64, 96, 112, 128, 144, 164}}};  // 4 + 4 + 1
  for (const Case& c : cases) {
    const int64_t nb = blocksPerRow(c.k);
    std::vector<float> row(static_cast<size_t>(c.k)), decoded(row.size());
    for (int64_t i = 0; i < c.k; ++i) row[size_t(i)] = float(i / kQuantBlock + 1) + float(i % kQuantBlock) / 62.f;
    std::vector<uint8_t> q(static_cast<size_t>(quantRowBytes(QuantFormat::Int4, c.k)));
    quantizeRow(QuantFormat::Int4, row.data(), c.k, q.data());
    dequantizeRow(QuantFormat::Int4, q.data(), c.k, decoded.data());
    bool minimums = true, weights = true, places = true;
    for (int64_t b = 0; b < nb; ++b) {
      uint16_t dh, mh;
      std::memcpy(&dh, q.data() + c.pair[size_t(b)], 2);
      std::memcpy(&mh, q.data() + c.pair[size_t(b)] + 2, 2);
      const float d = halfToFloat(dh), m = halfToFloat(mh);
      minimums = minimums && std::fabs(m - float(b + 1)) < 0.02f;
      places = places && int4Place(b, nb).pair == c.pair[size_t(b)] && int4Place(b, nb).levels == c.levels[size_t(b)];
      for (int64_t i = 0; i < std::min(kQuantBlock, c.k - b * kQuantBlock); ++i) {
        const uint8_t byte = q[size_t(c.levels[size_t(b)] + i % 16)];
        const int level = i < 16 ? byte & 0x0F : byte >> 4;
        weights = weights && decoded[size_t(b * kQuantBlock + i)] == d * float(level) + m;
      }
    }
    CHECK(minimums, "int4 layout, K=" + std::to_string(c.k) + ": a block's (d, m) pair is not where the layout puts it");
    CHECK(weights, "int4 layout, K=" + std::to_string(c.k) + ": levels decoded by hand differ from dequantizeRow");
    CHECK(places, "int4 layout, K=" + std::to_string(c.k) + ": int4Place differs from the layout");
  }
}

void gemvAgainstReference(CpuLevel level) {
  std::mt19937 rng(7);
  for (QuantFormat f : {QuantFormat::Int8, QuantFormat::Int4}) {
    for (int64_t k : {1, 31, 32, 33, 96, 172, 224, 4096, 11008}) {  // 1, 2, 3, 6, 7, 128 and 344 blocks
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
      const QuantizedVector xq = quantizeVector(x.data(), k);
      std::vector<float> y(static_cast<size_t>(n));
      gemvQuant(f, w.data(), x.data(), y.data(), n, k, level);
      double worst = 0, worstExact = 0;
      for (int64_t r = 0; r < n; ++r) {
        // What the kernel computes, in float64: the dequantized weights times the int8 activation, but
        // int4's minimum times the exact block sums of x.
        double ref = 0, mag = 0, exact = 0;
        for (int64_t i = 0; i < k; ++i) {
          const double wi = deq[size_t(r * k + i)], xi = double(xq.scale(i / kQuantBlock)) * xq.q[size_t(i)];
          ref += wi * xi;
          exact += wi * x[size_t(i)];
          mag += std::fabs(wi * x[size_t(i)]);
          if (f == QuantFormat::Int4) ref += int4Minimum(w.data() + r * rowBytes, i / kQuantBlock, blocksPerRow(k)) * (x[size_t(i)] - xi);
        }
        // fp32 sums of exact block products in another order than the float64 sum
        worst = std::max(worst, std::fabs(y[size_t(r)] - ref) / (mag * 2e-6 + 1e-30));
        // the activation's rounding against the unrounded product
        worstExact = std::max(worstExact, std::fabs(y[size_t(r)] - exact) / (mag * 0.01 + 1e-30));
      }
      CHECK(worst <= 1.0, std::string(toString(f)) + " gemv at " + toString(level) + ", K=" + std::to_string(k) +
                              ": error " + std::to_string(worst) + " x tolerance");
      CHECK(worstExact <= 1.0, std::string(toString(f)) + " gemv at " + toString(level) + ", K=" + std::to_string(k) +
                                   ": off the unrounded activation's product by " + std::to_string(worstExact) +
                                   " x 1 % of sum |w x|");

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

// gemvQuantSeveral on three matrices (rows split over 2 threads as one stacked range) gives each
// product exactly as a gemvQuant of its own.
void severalAsOne(CpuLevel level) {
  const int threadsBefore = kernelThreads();
  setKernelThreads(2);
  std::mt19937 rng(11);
  const int64_t k = 4096;
  const std::vector<int64_t> rows = {96, 17, 400};
  for (QuantFormat f : {QuantFormat::Int8, QuantFormat::Int4}) {
    std::vector<std::vector<uint8_t>> ws;
    std::vector<std::vector<float>> alone, together;
    std::vector<QuantGemvTarget> targets;
    for (int64_t n : rows) {
      ws.emplace_back(size_t(n * quantRowBytes(f, k)));
      for (int64_t r = 0; r < n; ++r)
        quantizeRow(f, randomRow(rng, k, 0.05f, 0.f).data(), k, ws.back().data() + r * quantRowBytes(f, k));
      alone.emplace_back(size_t(n)), together.emplace_back(size_t(n));
    }
    const std::vector<float> x = randomRow(rng, k, 1.f, 0.f);
    for (size_t i = 0; i < rows.size(); ++i) {
      gemvQuant(f, ws[i].data(), x.data(), alone[i].data(), rows[i], k, level);
      targets.push_back({ws[i].data(), together[i].data(), rows[i]});
    }
    gemvQuantSeveral(f, targets.data(), int(targets.size()), x.data(), k, level);
    CHECK(alone == together, std::string(toString(f)) + " gemvQuantSeveral differs from one gemvQuant each at " + toString(level));
  }
  setKernelThreads(threadsBefore);
}

// gemvQuantPositions on a few positions (the rows taken in cache-sized tiles, split over 2 threads)
// gives each position exactly what gemvQuantSeveral gives it alone, for rows of 4096 (8 or 32 rows
// a tile) and of 11008 (2 or 12), with a last tile cut short.
void positionsAsOne(CpuLevel level) {
  const int threadsBefore = kernelThreads();
  setKernelThreads(2);
  std::mt19937 rng(12);
  for (QuantFormat f : {QuantFormat::Int8, QuantFormat::Int4}) {
    for (int64_t k : {int64_t(4096), int64_t(11008)}) {
      const std::vector<int64_t> rows = {83, 40};
      std::vector<std::vector<uint8_t>> ws;
      for (int64_t n : rows) {
        ws.emplace_back(size_t(n * quantRowBytes(f, k)));
        for (int64_t r = 0; r < n; ++r)
          quantizeRow(f, randomRow(rng, k, 0.05f, 0.f).data(), k, ws.back().data() + r * quantRowBytes(f, k));
      }
      for (int64_t positions : {2, 5, 17}) {
        std::vector<float> x;
        for (int64_t p = 0; p < positions; ++p) {
          const std::vector<float> row = randomRow(rng, k, 1.f, 0.f);
          x.insert(x.end(), row.begin(), row.end());
        }
        std::vector<std::vector<float>> together;
        std::vector<QuantGemvTarget> targets;
        for (size_t i = 0; i < rows.size(); ++i) {
          together.emplace_back(size_t(positions * rows[i]));
          targets.push_back({ws[i].data(), together[i].data(), rows[i]});
        }
        gemvQuantPositions(f, targets.data(), int(targets.size()), x.data(), positions, k, level);
        bool same = true;
        for (int64_t p = 0; p < positions; ++p) {
          std::vector<std::vector<float>> alone;
          std::vector<QuantGemvTarget> one;
          for (size_t i = 0; i < rows.size(); ++i) {
            alone.emplace_back(size_t(rows[i]));
            one.push_back({ws[i].data(), alone[i].data(), rows[i]});
          }
          gemvQuantSeveral(f, one.data(), int(one.size()), x.data() + p * k, k, level);
          for (size_t i = 0; i < rows.size(); ++i)
            same = same && std::equal(alone[i].begin(), alone[i].end(), together[i].begin() + p * rows[i]);
        }
        CHECK(same, std::string(toString(f)) + " gemvQuantPositions differs from one position at a time at " +
                        toString(level) + ", K=" + std::to_string(k) + ", " + std::to_string(positions) + " positions");
      }
    }
  }
  setKernelThreads(threadsBefore);
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
  activationQuantization();
  int4Layout();
  gemvAgainstReference(cpuLevel());
  severalAsOne(cpuLevel());
  positionsAsOne(cpuLevel());
  if (cpuLevel() != CpuLevel::Avx2)
    gemvAgainstReference(CpuLevel::Avx2), severalAsOne(CpuLevel::Avx2), positionsAsOne(CpuLevel::Avx2);
  const bool halfRoundTrip = halfToFloat(floatToHalf(0.1f)) == 0.0999755859375f && halfToFloat(floatToHalf(65504.f)) == 65504.f &&
                             halfToFloat(floatToHalf(5.9604645e-08f)) == 5.9604645e-08f && std::isinf(halfToFloat(floatToHalf(1e6f)));
  CHECK(halfRoundTrip, "fp16 conversion");
  trainedWeights(check::sharedData(argc, argv));
  return check::finish("test_quant");
}
