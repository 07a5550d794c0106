// The measurements behind docs/performance.md: measureKernels() (is bf16 really on oneDNN, how fast
// do the decode-shaped products and a plain read run) and the decode bound (readDecoderWeights,
// DecodeBoundMeter). Kept in model/src so that torch stays out of tools.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "core/engine_internal.h"
#include "core/cpu_level.h"
#include "core/gemv_bf16.h"
#include "core/products.h"
#include "core/parallel.h"
#include "core/thread_pool.h"
#include "cxr/model/tools.h"

namespace cxr {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// XOR of every 8-byte word in [p, p + bytes): a pure read, so cheap that memory is the only limit.
uint64_t xorWordsPortable(const char* p, int64_t bytes) {
  uint64_t acc = 0;
  int64_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    acc ^= word;
  }
  for (; i < bytes; ++i) acc ^= uint64_t(uint8_t(p[i]));
  return acc;
}

// The same with 64-byte loads, four independent accumulators (as many loads in flight as the gemv).
__attribute__((target("avx512f"))) uint64_t xorWordsAvx512(const char* p, int64_t bytes) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 256 <= bytes; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(p + i + 192));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
  uint64_t acc = 0;
  for (uint64_t v : lanes) acc ^= v;
  return acc ^ xorWordsPortable(p + i, bytes - i);
}

// The AVX2 variant (level avx2: the bound of the machine an AVX2 gemv runs on), 32-byte loads.
__attribute__((target("avx2"))) uint64_t xorWordsAvx2(const char* p, int64_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)));
  uint64_t acc = 0;
  for (uint64_t v : lanes) acc ^= v;
  return acc ^ xorWordsPortable(p + i, bytes - i);
}

uint64_t xorWords(const char* p, int64_t bytes) {
  static const detail::CpuLevel level = detail::cpuLevel();
  if (level == detail::CpuLevel::Avx512) return xorWordsAvx512(p, bytes);
  if (detail::cpuHasAvx2()) return xorWordsAvx2(p, bytes);
  return xorWordsPortable(p, bytes);
}

// Reads one tensor the way the decode gemv does: its rows split over the kernel threads.
uint64_t readTensor(const at::Tensor& t) {
  if (!t.device().is_cpu()) return uint64_t(t.to(at::kFloat).abs().sum().item<double>());  // syncs the device
  const char* base = static_cast<const char*>(t.data_ptr());
  const int64_t bytes = t.numel() * int64_t(t.element_size());
  constexpr int64_t kBlock = 16 * 8192;  // the gemv's grain: 16 rows of 4096 bf16
  std::atomic<uint64_t> sink{0};
  detail::parallelFor((bytes + kBlock - 1) / kBlock, 1, [&](int64_t begin, int64_t end) {
    const int64_t from = begin * kBlock, to = std::min(bytes, end * kBlock);
    sink.fetch_xor(xorWords(base + from, to - from));
  });
  return sink.load();
}
}  // namespace

WeightReadProbe readDecoderWeights(Model& model) {
  c10::InferenceMode guard;
  const detail::Weights& w = detail::Access::of(model).w;
  std::vector<at::Tensor> tensors;
  for (const detail::LlamaLayer& l : w.layers)
    for (const at::Tensor* t : {&l.inputNorm, &l.wq, &l.wk, &l.wv, &l.wo, &l.postNorm, &l.wGate, &l.wUp, &l.wDown})
      tensors.push_back(*t);
  tensors.push_back(w.finalNorm);
  tensors.push_back(w.lmHead);
  WeightReadProbe probe;
  for (const at::Tensor& t : tensors) probe.bytes += t.numel() * int64_t(t.element_size());
  volatile uint64_t sink = 0;
  const auto t0 = Clock::now();
  for (const at::Tensor& t : tensors) sink = sink ^ readTensor(t);
  probe.seconds = since(t0);
  return probe;
}

namespace {
// The median of one figure over the meter's pairs (0 when there are none).
template <typename Figure>
double medianOver(const std::vector<DecodeBoundMeter::Pair>& pairs, Figure figure) {
  std::vector<double> v;
  for (const DecodeBoundMeter::Pair& p : pairs) v.push_back(figure(p));
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

DecodeBoundMeter::DecodeBoundMeter(Model& model) : model_(model) {
  const Model::Impl& m = detail::Access::of(model);
  const detail::LlamaConfig& c = m.cfg.llama;
  cacheBytesPerPosition_ = int64_t(c.layers) * 2 * c.kvHeads * c.headDim * int64_t(c10::elementSize(m.dtype));
}

TokenCallback DecodeBoundMeter::callback() {
  return [this](const TokenEvent& event) {
    if (event.index > 0) {  // token 0 comes out of the prefill, not out of a decode step
      Pair pair;
      pair.token = event.index;
      pair.stepSeconds = since(last_);
      const WeightReadProbe probe = readDecoderWeights(model_);
      pair.readSeconds = probe.seconds;
      bytes_ = probe.bytes;
      pairs_.push_back(pair);
    }
    last_ = Clock::now();
    return true;
  };
}

double DecodeBoundMeter::medianStepSeconds() const {
  return medianOver(pairs_, [](const Pair& p) { return p.stepSeconds; });
}

double DecodeBoundMeter::medianReadSeconds() const {
  return medianOver(pairs_, [](const Pair& p) { return p.readSeconds; });
}

double DecodeBoundMeter::medianFraction() const {
  return medianOver(pairs_, [](const Pair& p) { return p.fraction(); });
}

double DecodeBoundMeter::medianFractionWithCache(int promptPositions) const {
  if (bytes_ <= 0) return 0;
  return medianOver(pairs_, [&](const Pair& p) {
    // The step that produced token i ran position promptPositions + i - 1 against that many keys
    // and itself.
    const double cacheBytes = double(cacheBytesPerPosition_) * double(promptPositions + p.token);
    return p.fraction() * (double(bytes_) + cacheBytes) / double(bytes_);
  });
}

KernelReport measureKernels(int threads) {
  c10::InferenceMode guard;
  if (threads > 0) {
    at::set_num_threads(threads);
    detail::setKernelThreads(threads);
  }
  KernelReport r;
  r.threads = at::get_num_threads();
  r.mkldnnBuilt = at::hasMKLDNN();
  r.mkldnnEnabled = at::globalContext().userEnabledMkldnn();
  r.cpuLevel = detail::toString(detail::cpuLevel());
  // bf16 products as the engine runs them (detail::linearProduct): libtorch's (oneDNN) at level avx512, fp32
  // compute at avx2, where a bf16 product must not reach libtorch at all (cpu_level.h).
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    at::Tensor W = at::randn({4096, 4096}).to(dt);   // [out, in]
    at::Tensor v = at::randn({1, 4096}).to(dt);      // decode: one position
    at::Tensor V = at::randn({128, 4096}).to(dt);    // prefill: a block of positions
    detail::linearProduct(v, W);
    detail::linearProduct(V, W);
    auto t0 = Clock::now();
    for (int i = 0; i < 50; ++i) detail::linearProduct(v, W);
    const double gemv = since(t0) / 50;
    t0 = Clock::now();
    for (int i = 0; i < 5; ++i) detail::linearProduct(V, W);
    const double gflops = 2.0 * 128 * 4096 * 4096 / (since(t0) / 5) / 1e9;
    (dt == at::kFloat ? r.f32GemvMs : r.bf16GemvMs) = gemv * 1e3;
    (dt == at::kFloat ? r.f32GemmGflops : r.bf16GemmGflops) = gflops;
  }
  {
    // The GEMM rate of the level's compute dtype on a prefill-sized product (1024 positions through a
    // 4096 x 4096 projection), best of 3: bf16 through oneDNN at avx512, and at avx2 the fp32 GEMM the
    // engine hands its widened tiles to (detail::matmulF32).
    const bool bf16 = detail::cpuLevel() == detail::CpuLevel::Avx512;
    r.gemmDtype = bf16 ? "bf16" : "f32";
    const auto dt = bf16 ? at::kBFloat16 : at::kFloat;
    at::Tensor W = at::randn({4096, 4096}).to(dt), X = at::randn({1024, 4096}).to(dt);
    auto gemm = [&] { return bf16 ? at::linear(X, W) : detail::matmulF32(X, W.t()); };
    gemm();
    double best = 1e9;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = Clock::now();
      gemm();
      best = std::min(best, since(t0));
    }
    r.gemmGflops = 2.0 * 1024 * 4096 * 4096 / best / 1e9;
  }
  const int64_t n = (int64_t(2) << 30) / 4;  // 2 GiB of float: far beyond any cache
  at::Tensor big = at::ones({n}, at::kFloat);
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    volatile float s = big.sum().item<float>();
    (void)s;
    best = std::min(best, since(t0));
  }
  r.readBandwidthGBs = double(n) * 4 / best / 1e9;
  big = at::Tensor();

  // lm_head-sized decode product, the two implementations interleaved (best of 5 each) so that
  // both see the same machine load.
  at::Tensor head = at::randn({32000, 4096}).to(at::kBFloat16);  // [V, H]
  at::Tensor x = at::randn({1, 4096}).to(at::kBFloat16);
  at::Tensor y = at::empty({1, 32000}, at::kBFloat16);
  double onednn = 1e9, engine = 1e9;
  const bool onednnBf16 = !detail::bf16ProductsInFp32();
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    if (onednnBf16) {
      at::linear(x, head);
      onednn = std::min(onednn, since(t0));
    }
    if (detail::gemvBf16Available()) {
      t0 = Clock::now();
      detail::gemvBf16(reinterpret_cast<const uint16_t*>(head.data_ptr()), reinterpret_cast<const uint16_t*>(x.data_ptr()),
                       reinterpret_cast<uint16_t*>(y.data_ptr()), 32000, 4096);
      engine = std::min(engine, since(t0));
    }
  }
  const double bytes = 32000.0 * 4096 * 2;
  r.onednnGemvGBs = onednnBf16 ? bytes / onednn / 1e9 : 0;
  r.engineGemvGBs = detail::gemvBf16Available() ? bytes / engine / 1e9 : 0;
  return r;
}

double prefillFlops(const Model& model, int past, int positions) {
  const detail::LlamaConfig& c = detail::Access::of(model).cfg.llama;
  const double t = positions, h = c.hidden, q = double(c.heads) * c.headDim, kv = double(c.kvHeads) * c.headDim;
  const double perPositionWeights = h * q + 2 * h * kv + q * h + 3 * h * c.intermediate;  // q, k, v, o, gate, up, down
  // Scores and values: position i attends to past + i + 1 keys, 2 products of heads x headDim each.
  const double keys = t * past + t * (t + 1) / 2;
  return double(c.layers) * (2 * t * perPositionWeights + 2 * 2 * q * keys) + 2 * h * c.vocab;
}

}  // namespace cxr
