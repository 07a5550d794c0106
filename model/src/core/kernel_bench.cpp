// measureKernels(): the backend figures behind docs/performance.md (is bf16 really on oneDNN, and
// what read bandwidth bounds decoding). Kept in model/src so that torch stays out of tools.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>

#include "core/gemv_bf16.h"
#include "cxr/model/engine.h"

namespace cxr {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

KernelReport measureKernels(int threads) {
  c10::InferenceMode guard;
  if (threads > 0) at::set_num_threads(threads);
  KernelReport r;
  r.threads = at::get_num_threads();
  r.mkldnnBuilt = at::hasMKLDNN();
  r.mkldnnEnabled = at::globalContext().userEnabledMkldnn();
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    at::Tensor W = at::randn({4096, 4096}).to(dt);   // [out, in]
    at::Tensor v = at::randn({1, 4096}).to(dt);      // decode: one position
    at::Tensor V = at::randn({128, 4096}).to(dt);    // prefill: a block of positions
    at::linear(v, W);
    at::linear(V, W);
    auto t0 = Clock::now();
    for (int i = 0; i < 50; ++i) at::linear(v, W);
    const double gemv = since(t0) / 50;
    t0 = Clock::now();
    for (int i = 0; i < 5; ++i) at::linear(V, W);
    const double gflops = 2.0 * 128 * 4096 * 4096 / (since(t0) / 5) / 1e9;
    (dt == at::kFloat ? r.f32GemvMs : r.bf16GemvMs) = gemv * 1e3;
    (dt == at::kFloat ? r.f32GemmGflops : r.bf16GemmGflops) = gflops;
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
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    at::linear(x, head);
    onednn = std::min(onednn, since(t0));
    if (detail::gemvBf16Available()) {
      t0 = Clock::now();
      detail::gemvBf16(reinterpret_cast<const uint16_t*>(head.data_ptr()), reinterpret_cast<const uint16_t*>(x.data_ptr()),
                       reinterpret_cast<uint16_t*>(y.data_ptr()), 32000, 4096);
      engine = std::min(engine, since(t0));
    }
  }
  const double bytes = 32000.0 * 4096 * 2;
  r.onednnGemvGBs = bytes / onednn / 1e9;
  r.engineGemvGBs = detail::gemvBf16Available() ? bytes / engine / 1e9 : 0;
  return r;
}

}  // namespace cxr
