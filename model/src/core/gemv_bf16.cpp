#include "core/gemv_bf16.h"

#include <immintrin.h>

#include <algorithm>

#include "core/bf16.h"
#include "core/stacked_rows.h"
#include "core/thread_pool.h"

namespace cxr::detail {

namespace {

// Software prefetch of the two cache lines (64 weights) kPrefetchBytes ahead of p.
constexpr int64_t kPrefetchBytes = 4096;
inline void prefetchAhead(const uint16_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes + 64, _MM_HINT_T0);
}

// One row at a time, read front to back as a single stream with four independent accumulators
// (128 elements per iteration). Measured on the 7B decoder weights this comes within a few percent
// of a pure read of the same bytes; interleaving four or eight rows (four or eight streams) was
// 5-10 % slower. Software prefetching 4 KiB ahead did not help on Zen 4, but on Zen 5 it took an
// lm_head-sized product (2 threads) from 7.0-7.2 to 5.6-6.6 ms, and on an AMX Xeon from 12.5-13.4
// to 8.9-9.1 ms (docs/performance.md).
__attribute__((target("avx512f,avx512bf16"))) void rowsAvx512(const uint16_t* w, const uint16_t* x, uint16_t* y,
                                                              int64_t begin, int64_t end, int64_t k) {
  const int64_t k128 = k / 128 * 128, k32 = k / 32 * 32;
  for (int64_t r = begin; r < end; ++r) {
    const uint16_t* row = w + r * k;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i < k128; i += 128) {
      prefetchAhead(row + i);
      prefetchAhead(row + i + 64);
      a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
      a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(row + i + 32), (__m512bh)_mm512_loadu_si512(x + i + 32));
      a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(row + i + 64), (__m512bh)_mm512_loadu_si512(x + i + 64));
      a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(row + i + 96), (__m512bh)_mm512_loadu_si512(x + i + 96));
    }
    for (; i < k32; i += 32)
      a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
    float sum = horizontalSum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    for (; i < k; ++i) sum += bf16ToFloat(row[i]) * bf16ToFloat(x[i]);
    y[r] = floatToBf16(sum);
  }
}

// A 32-byte load kept in a register. GCC otherwise folds the load into both unpacking instructions
// that use it, loading every byte twice: on Zen 5 the AVX2 gemv then ran at 35 instead of 46 GB/s
// per thread with its data in L2 (the loads, not the arithmetic, limit this kernel).
__attribute__((target("avx2"))) inline __m256i loadInRegister(const uint16_t* p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  asm("" : "+x"(v));
  return v;
}

// 16 weights times the matching 16 of x, both widened by the same in-lane unpacking (so each product
// pairs the right elements), into two accumulators.
__attribute__((target("avx2,fma"))) inline void fma16(const uint16_t* w, const uint16_t* x, __m256& lowAcc,
                                                      __m256& highAcc) {
  __m256 wLow, wHigh, xLow, xHigh;
  widenBf16x16Unpacked(loadInRegister(w), wLow, wHigh);
  widenBf16x16Unpacked(loadInRegister(x), xLow, xHigh);
  lowAcc = _mm256_fmadd_ps(wLow, xLow, lowAcc);
  highAcc = _mm256_fmadd_ps(wHigh, xHigh, highAcc);
}

// The AVX2 variant: the same single stream per row, 64 weights (two cache lines) per iteration into
// eight independent accumulators, so that the FMA latency never limits the read. x is widened from
// bf16 in registers at every row rather than read widened to fp32 from memory: with the weights'
// load kept in a register, two loads per 16 weights instead of four, which took this kernel from
// 0.76-0.79 to 0.81-0.90 of a plain read of the 7B MLP weights (2 threads, Zen 5,
// docs/performance.md). No software prefetch here: 4 KiB ahead it cost 3-10 % at this level.
__attribute__((target("avx2,fma"))) void rowsAvx2(const uint16_t* w, const uint16_t* x, uint16_t* y, int64_t begin,
                                                  int64_t end, int64_t k) {
  const int64_t k64 = k / 64 * 64, k16 = k / 16 * 16;
  for (int64_t r = begin; r < end; ++r) {
    const uint16_t* row = w + r * k;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int64_t i = 0;
    for (; i < k64; i += 64) {
      fma16(row + i, x + i, a0, a1);
      fma16(row + i + 16, x + i + 16, a2, a3);
      fma16(row + i + 32, x + i + 32, a4, a5);
      fma16(row + i + 48, x + i + 48, a6, a7);
    }
    for (; i < k16; i += 16) fma16(row + i, x + i, a0, a1);
    const __m256 sum8 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                      _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    float sum = horizontalSum(sum8);
    for (; i < k; ++i) sum += bf16ToFloat(row[i]) * bf16ToFloat(x[i]);
    y[r] = floatToBf16(sum);
  }
}

}  // namespace

bool gemvBf16Available() {
  static const bool available = cpuLevel() == CpuLevel::Avx512 || cpuHasAvx2();
  return available;
}

int64_t gemvBf16FewPositions(CpuLevel level) { return level == CpuLevel::Avx512 ? 1 : 24; }

void gemvBf16(const uint16_t* w, const uint16_t* x, uint16_t* y, int64_t n, int64_t k, CpuLevel level) {
  const GemvTarget target{w, y, n};
  gemvBf16Several(&target, 1, x, k, level);
}

void gemvBf16Several(const GemvTarget* targets, int count, const uint16_t* x, int64_t k, CpuLevel level) {
  gemvBf16Positions(targets, count, x, 1, k, level);
}

void gemvBf16Positions(const GemvTarget* targets, int count, const uint16_t* x, int64_t positions, int64_t k,
                       CpuLevel level) {
  // Grain: at least 16 rows (a 4096-wide row is 8 KiB) so that thread hand-off stays cheap.
  parallelFor(stackedRows(targets, count), 16, [&](int64_t begin, int64_t end) {
    forEachStackedPiece(targets, count, begin, end, [&](const GemvTarget& target, int64_t lo, int64_t hi) {
      const int64_t rowBytes = k * int64_t(sizeof(uint16_t));
      forEachTileAndPosition(lo, hi, rowBytes, positions, [&](int64_t r0, int64_t r1, int64_t p) {
        const uint16_t* xp = x + p * k;
        uint16_t* yp = target.y + p * target.n;
        if (level == CpuLevel::Avx512) rowsAvx512(target.w, xp, yp, r0, r1, k);
        else rowsAvx2(target.w, xp, yp, r0, r1, k);
      });
    });
  });
}

}  // namespace cxr::detail
