// Decode-product speed of the quantized formats against the bf16 gemv and against a plain read of
// the same bytes, on an lm_head-sized matrix (32000 x 4096, beyond any cache), at both CPU levels.
// Prints one line per kernel: milliseconds per product (median of interleaved rounds), weight bytes
// per second, and the fraction of the read bound (read time / product time, each round paired).
// Not a test: figures for docs/performance.md. Usage: bench_quant [threads=2] [rounds=9]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/bf16.h"
#include "core/cpu_level.h"
#include "core/gemv_bf16.h"
#include "core/quant_format.h"
#include "core/quant_kernels.h"
#include "core/thread_pool.h"

using namespace cxr::detail;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Pure read of [begin, end) with 32-byte loads (as the kernels load), folded by OR so that nothing
// but the loads costs.
__attribute__((target("avx2"))) uint64_t readPart(const uint8_t* p, int64_t begin, int64_t end) {
  __m256i acc = _mm256_setzero_si256();
  int64_t i = begin;
  for (; i + 128 <= end; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96));
    acc = _mm256_or_si256(acc, _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d)));
  }
  uint64_t lanes[4];
  std::memcpy(lanes, &acc, sizeof lanes);
  uint64_t folded = lanes[0] | lanes[1] | lanes[2] | lanes[3];
  for (; i < end; ++i) folded |= p[i];
  return folded;
}

// Pure read of `bytes` split over `threads` threads.
uint64_t readAll(const uint8_t* p, int64_t bytes, int threads) {
  std::vector<uint64_t> parts(size_t(threads), 0);
  std::vector<std::thread> pool;
  const int64_t share = (bytes / threads + 127) / 128 * 128;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { parts[size_t(t)] = readPart(p, t * share, std::min(bytes, (t + 1) * share)); });
  for (auto& th : pool) th.join();
  uint64_t acc = 0;
  for (uint64_t v : parts) acc |= v;
  return acc;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  // The kernels run on the engine's pool (thread_pool.h), which runs on the calling thread alone
  // until told otherwise (figures before 2026-12-06 were single-threaded against a 2-thread read).
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  setKernelThreads(threads);
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 9;
  const int64_t n = 32000, k = 4096;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<float> row(static_cast<size_t>(k));
  std::vector<uint16_t> wbf(static_cast<size_t>(n * k));
  std::vector<uint8_t> w8(static_cast<size_t>(n * quantRowBytes(QuantFormat::Int8, k)));
  std::vector<uint8_t> w4(static_cast<size_t>(n * quantRowBytes(QuantFormat::Int4, k)));
  for (int64_t r = 0; r < n; ++r) {
    for (auto& v : row) v = normal(rng);
    for (int64_t i = 0; i < k; ++i) wbf[size_t(r * k + i)] = floatToBf16(row[size_t(i)]);
    quantizeRow(QuantFormat::Int8, row.data(), k, w8.data() + r * quantRowBytes(QuantFormat::Int8, k));
    quantizeRow(QuantFormat::Int4, row.data(), k, w4.data() + r * quantRowBytes(QuantFormat::Int4, k));
  }
  std::vector<float> x(static_cast<size_t>(k)), y(static_cast<size_t>(n));
  std::vector<uint16_t> xb(static_cast<size_t>(k)), yb(static_cast<size_t>(n));
  for (int64_t i = 0; i < k; ++i) x[size_t(i)] = normal(rng) * 50, xb[size_t(i)] = floatToBf16(x[size_t(i)]);

  struct Kernel {
    std::string name;
    const uint8_t* bytes;
    int64_t size;
    std::function<void()> run;
  };
  std::vector<Kernel> kernels;
  for (CpuLevel level : {CpuLevel::Avx512, CpuLevel::Avx2}) {
    if (level == CpuLevel::Avx512 && cpuLevel() != CpuLevel::Avx512) continue;
    kernels.push_back({std::string("bf16 gemv (") + toString(level) + ")", reinterpret_cast<const uint8_t*>(wbf.data()),
                       int64_t(wbf.size() * 2), [&, level] { gemvBf16(wbf.data(), xb.data(), yb.data(), n, k, level); }});
    kernels.push_back({std::string("int8 gemv (") + toString(level) + ")", w8.data(), int64_t(w8.size()),
                       [&, level] { gemvQuant(QuantFormat::Int8, w8.data(), x.data(), y.data(), n, k, level); }});
    kernels.push_back({std::string("int4 gemv (") + toString(level) + ")", w4.data(), int64_t(w4.size()),
                       [&, level] { gemvQuant(QuantFormat::Int4, w4.data(), x.data(), y.data(), n, k, level); }});
  }
  std::printf("matrix %lld x %lld, %d threads, %d rounds (each product paired with a read of its bytes)\n",
              static_cast<long long>(n), static_cast<long long>(k), threads, rounds);
  volatile uint64_t sink = 0;
  for (const Kernel& kern : kernels) {
    kern.run();  // warm
    std::vector<double> times, reads, fractions;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = Clock::now();
      kern.run();
      const double t = since(t0);
      t0 = Clock::now();
      sink = sink ^ readAll(kern.bytes, kern.size, threads);
      const double rd = since(t0);
      times.push_back(t), reads.push_back(rd), fractions.push_back(rd / t);
    }
    std::printf("%-24s %8.2f ms  %6.1f GB/s of weights  read alone %6.2f ms  fraction of bound %.2f\n",
                kern.name.c_str(), median(times) * 1e3, double(kern.size) / median(times) / 1e9, median(reads) * 1e3,
                median(fractions));
  }
  return 0;
}
