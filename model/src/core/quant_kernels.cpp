#include "core/quant_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/bf16.h"
#include "core/parallel.h"
#include "core/stacked_rows.h"
#include "core/thread_pool.h"

namespace cxr::detail {

namespace {

#define CXR_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define CXR_AVX2 __attribute__((target("avx2,fma,f16c")))

// How far ahead of the block being read the decode rows prefetch. Without it each thread reads its
// rows at the latency of the hardware prefetcher's ramp: on the AMX Xeon of docs/performance.md an
// int8 product of an lm_head-sized matrix reached 12 GB/s of the 25-31 a plain read gets, with 4 KiB
// ahead 18-23 (the read is a handful of pages ahead of the arithmetic; 2 to 16 KiB measured within
// the noise of each other).
constexpr int64_t kPrefetchBytes = 4096;

// x's int8 blocks rearranged for the int4 kernels that take `group` blocks at a time (2: AVX2's
// rowsInt4Quads, a pair per register; 4: VNNI's rowsInt4Quads512): each group, at the same bytes as in
// x.q, holds the first 16 values of its blocks, then the last 16 of them, so that one mask and one
// shift of the packed weights meet their activations in place. Blocks after the last whole group are
// left out (the kernels read them from x.q).
std::vector<int8_t> groupedHalves(const QuantizedVector& x, int64_t group) {
  std::vector<int8_t> halves(x.q.size());
  for (int64_t b = 0; b + group <= x.blocks(); b += group) {
    const int8_t* from = x.q.data() + b * kQuantBlock;
    int8_t* to = halves.data() + b * kQuantBlock;
    for (int64_t j = 0; j < group; ++j) {
      std::memcpy(to + 16 * j, from + kQuantBlock * j, 16);
      std::memcpy(to + 16 * (group + j), from + kQuantBlock * j + 16, 16);
    }
  }
  return halves;
}

// ---- decode rows: int8 activations, integer dot products ----------------------------------------

// AVX2: vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 (no saturation here:
// |127 * 127| * 2 and 15 * 127 * 2 both fit), vpmaddwd by ones adds pairs of those into int32.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2_rows {
inline __m256i dotU8S8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
#include "core/quant_rows.inc"

// Blocks b and b + 1's levels (32 bytes, side by side in their group) times the activation (halves:
// groupedHalves(x, 2) at block b) in fp32: lanes 0-3 sum block b's 32 products, lanes 4-7 block
// b + 1's. One mask and one shift give all 64 levels, and one vpmaddwd the sums of both.
inline __m256 pairDotInt4(const uint8_t* levels, const int8_t* halves) {
  const __m256i packed = load32(levels);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i low = _mm256_and_si256(packed, nibble);                            // values 0-15 of both
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);     // values 16-31 of both
  // Pairs of products of levels <= 15 and |x| <= 127 (<= 3,810), two of those summed: within int16.
  const __m256i sums16 = _mm256_add_epi16(_mm256_maddubs_epi16(low, load32(halves)),
                                          _mm256_maddubs_epi16(high, load32(halves + 32)));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(sums16, _mm256_set1_epi16(1)));
}

// Int4 a group of four blocks at a time, the AVX2 level's kernel: one block at a time spent about 14
// instructions a block, most of them on its scale and minimum, and at 2 threads it was the limit of
// int4 decode (0.43-0.47 of the read bound on Zen 5). Here the group's four [d, m] widen and meet the
// activation's [scale, sum] in one multiply, and each pair of blocks takes one conversion and one FMA.
inline void rowsInt4Quads(const uint8_t* w, const QuantizedVector& x, const int8_t* halves, float* y, int64_t begin,
                          int64_t end) {
  const int64_t nb = x.blocks();
  const __m256i firstPair = _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2);
  const __m256i secondPair = _mm256_setr_epi32(4, 4, 4, 4, 6, 6, 6, 6);
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* row = w + r * nb * kInt4BlockBytes;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), minimums = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + kInt4Group <= nb; b += kInt4Group) {
      const uint8_t* group = row + b * kInt4BlockBytes;
      const __m256 products = quadScalesInt4(group, x, b);
      minimums = _mm256_add_ps(minimums, products);
      acc0 = _mm256_fmadd_ps(pairDotInt4(group + 16, halves + b * kQuantBlock),
                             _mm256_permutevar8x32_ps(products, firstPair), acc0);
      acc1 = _mm256_fmadd_ps(pairDotInt4(group + 48, halves + (b + 2) * kQuantBlock),
                             _mm256_permutevar8x32_ps(products, secondPair), acc1);
    }
    __m256 tail = _mm256_setzero_ps(), tailMinimums = _mm256_setzero_ps();
    for (; b < nb; ++b) tail = blockInt4(row, x, b, tail, tailMinimums);
    alignas(32) float m[8], t[8];
    _mm256_store_ps(m, minimums);
    _mm256_store_ps(t, tailMinimums);
    y[r] = horizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), tail)) + ((m[1] + m[3]) + (m[5] + m[7])) + t[1];
  }
}
}  // namespace avx2_rows
#pragma GCC pop_options

// AVX-512 VNNI: vpdpbusd does the same in one instruction (on 256-bit vectors: one block each).
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
namespace vnni_rows {
inline __m256i dotU8S8(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
#include "core/quant_rows.inc"

// The activation's factors of blocks b and b + 1 ([scale, sum] of each, factors[2b, 2b + 4)) spread
// over 16 lanes by `lanes` (indices 0-3), for the two-block int8 kernel below.
inline __m512 spreadFactors(const QuantizedVector& x, int64_t b, __m512i lanes) {
  return _mm512_maskz_permutexvar_ps(0xFFFF, lanes, _mm512_castps128_ps512(_mm_loadu_ps(&x.factors[size_t(2 * b)])));
}

// Int8 two blocks at a time in 512-bit registers. AVX-512 has no 512-bit vpsignb for the sign trick
// of blockInt8, so the operands swap roles: the weights q are the signed operand, the activation
// a + 128 (its sign bit flipped) the unsigned one, and 128 * sum(q), another vpdpbusd, is taken off:
// sum((a + 128) q) - sum(128 q) = sum(a q), exact in int32.
inline __m512 pairInt8(const uint8_t* blk, const QuantizedVector& x, int64_t b, __m512 acc) {
  prefetchAhead(blk);
  prefetchAhead(blk + 64);  // 68 bytes a pair
  const __m512i q = _mm512_maskz_inserti64x4(0xFF, _mm512_castsi256_si512(load32(blk + 2)),
                                             load32(blk + kInt8BlockBytes + 2), 1);
  const __m512i signBit = _mm512_set1_epi8(char(0x80));
  const __m512i biased = _mm512_xor_si512(_mm512_loadu_si512(x.q.data() + b * kQuantBlock), signBit);
  const __m512i dot = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), biased, q),
                                       _mm512_dpbusd_epi32(_mm512_setzero_si512(), signBit, q));
  // d0 x 8 | d1 x 8 as halves -> 16 floats, times the activation's scale of each block likewise.
  const __m256i dHalves = _mm256_set_m128i(_mm_set1_epi16(loadScalar<int16_t>(blk + kInt8BlockBytes)),
                                           _mm_set1_epi16(loadScalar<int16_t>(blk)));
  const __m512 activationScales = spreadFactors(x, b, _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2));
  const __m512 scales = _mm512_mul_ps(_mm512_maskz_cvtph_ps(0xFFFF, dHalves), activationScales);
  return _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, dot), scales, acc);
}

inline void rowsInt8Pairs(const uint8_t* w, const QuantizedVector& x, float* y, int64_t begin, int64_t end) {
  const int64_t nb = x.blocks();
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* row = w + r * nb * kInt8BlockBytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
      acc0 = pairInt8(row + b * kInt8BlockBytes, x, b, acc0);
      acc1 = pairInt8(row + (b + 2) * kInt8BlockBytes, x, b + 2, acc1);
    }
    for (; b + 2 <= nb; b += 2) acc0 = pairInt8(row + b * kInt8BlockBytes, x, b, acc0);
    __m256 tail = _mm256_setzero_ps();
    if (b < nb) tail = blockInt8(row + b * kInt8BlockBytes, x, b, tail);
    y[r] = horizontalSum(_mm512_add_ps(acc0, acc1)) + horizontalSum(tail);
  }
}

// A group's four int4 blocks' levels (64 bytes) times the activation (halves: groupedHalves(x, 4) at
// the group's first block) in fp32: lanes 4j..4j+3 sum block j's 32 products. One block's 16 packed
// bytes per 128-bit lane, so one mask and one shift give all 128 levels and two vpdpbusd their sums.
inline __m512 quadDotInt4(const uint8_t* levels, const int8_t* halves) {
  const __m512i packed = _mm512_loadu_si512(levels);
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const __m512i low = _mm512_and_si512(packed, nibble);                                          // values 0-15
  const __m512i high = _mm512_and_si512(_mm512_maskz_srli_epi16(0xFFFFFFFF, packed, 4), nibble);  // values 16-31
  const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), low, _mm512_loadu_si512(halves)),
                                          high, _mm512_loadu_si512(halves + 64));
  return _mm512_maskz_cvtepi32_ps(0xFFFF, dot);
}

// Int4 a group of four blocks at a time (the VNNI level's kernel; AVX2's rowsInt4Quads says why
// four): the group's four [d, m] meet the activation's [scale, sum] in one 256-bit multiply, each
// block's d * scale is spread over its four lanes, one conversion and one FMA per group. Two blocks
// per 512-bit register before (pairInt4) took ~8.5 instructions a block, and this VM's faster
// minutes (~48 GB/s to two threads) made that the limit of int4 decode (60 % of its bound).
inline void rowsInt4Quads512(const uint8_t* w, const QuantizedVector& x, const int8_t* halves, float* y, int64_t begin,
                             int64_t end) {
  const int64_t nb = x.blocks();
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* row = w + r * nb * kInt4BlockBytes;
    __m512 acc = _mm512_setzero_ps();
    __m256 minimums = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + kInt4Group <= nb; b += kInt4Group) {
      const uint8_t* group = row + b * kInt4BlockBytes;
      const __m256 products = quadScalesInt4(group, x, b);
      minimums = _mm256_add_ps(minimums, products);
      // (The permutation reads lanes 0-6 only: the cast's undefined upper half is never used.)
      const __m512 scales = _mm512_maskz_permutexvar_ps(0xFFFF, spread, _mm512_castps256_ps512(products));
      acc = _mm512_fmadd_ps(quadDotInt4(group + 16, halves + b * kQuantBlock), scales, acc);
    }
    __m256 tail = _mm256_setzero_ps(), tailMinimums = _mm256_setzero_ps();
    for (; b < nb; ++b) tail = blockInt4(row, x, b, tail, tailMinimums);
    alignas(32) float m[8], t[8];
    _mm256_store_ps(m, minimums);
    _mm256_store_ps(t, tailMinimums);
    y[r] = horizontalSum(acc) + horizontalSum(tail) + ((m[1] + m[3]) + (m[5] + m[7])) + t[1];
  }
}
}  // namespace vnni_rows
#pragma GCC pop_options

bool useVnni(CpuLevel level) {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");  // F/BW/VL/DQ come with the level
  return level == CpuLevel::Avx512 && vnni;
}

// ---- widening helpers of the dequantization below ------------------------------------------------

CXR_AVX512 inline float halfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// 16 bytes -> 16 fp32. The zero-masked forms are the same instructions; GCC 12 warns about the
// unmasked ones (their "undefined" pass-through operand) under -Wmaybe-uninitialized.
CXR_AVX512 inline __m512 widenI8x16(__m128i v) {
  return _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepi8_epi32(0xFFFF, v));
}
CXR_AVX512 inline __m512 widenU8x16(__m128i v) {
  return _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepu8_epi32(0xFFFF, v));
}

CXR_AVX2 inline float halfAt2(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

CXR_AVX2 inline __m256 widenI8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
CXR_AVX2 inline __m256 widenU8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }

// ---- dequantization of rows for the prefill's GEMM ----------------------------------------------
// Whole blocks with vectors, a ragged last block through the scalar dequantizeRow; results equal
// dequantizeRow's bit for bit (d * q + m as a product and a sum, not fused; bf16 rounded to nearest
// even, as floatToBf16).

CXR_AVX2 void dequantizeRowAvx2(QuantFormat f, const uint8_t* row, int64_t k, float* out) {
  const int64_t whole = k / kQuantBlock, blocks = blocksPerRow(k);
  const __m128i low = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < whole; ++b) {
    float* o = out + b * kQuantBlock;
    if (f == QuantFormat::Int8) {
      const uint8_t* blk = row + b * kInt8BlockBytes;
      const __m256 d = _mm256_set1_ps(halfAt2(blk));
      for (int j = 0; j < 4; ++j) _mm256_storeu_ps(o + 8 * j, _mm256_mul_ps(widenI8(blk + 2 + 8 * j), d));
    } else {
      const Int4Place at = int4Place(b, blocks);
      const __m256 d = _mm256_set1_ps(halfAt2(row + at.pair)), m = _mm256_set1_ps(halfAt2(row + at.pair + 2));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + at.levels));
      const __m128i lo = _mm_and_si128(q, low), hi = _mm_and_si128(_mm_srli_epi16(q, 4), low);
      _mm256_storeu_ps(o, _mm256_add_ps(_mm256_mul_ps(widenU8(lo), d), m));
      _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_mul_ps(widenU8(_mm_srli_si128(lo, 8)), d), m));
      _mm256_storeu_ps(o + 16, _mm256_add_ps(_mm256_mul_ps(widenU8(hi), d), m));
      _mm256_storeu_ps(o + 24, _mm256_add_ps(_mm256_mul_ps(widenU8(_mm_srli_si128(hi, 8)), d), m));
    }
  }
  if (whole * kQuantBlock < k) {
    float tail[kQuantBlock];
    const int64_t rest = k - whole * kQuantBlock;
    dequantizeBlock(f, row, k, whole, tail);
    std::memcpy(out + whole * kQuantBlock, tail, size_t(rest) * sizeof(float));
  }
}

#define CXR_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")))

CXR_AVX512BF16 void dequantizeRowBf16Avx512(QuantFormat f, const uint8_t* row, int64_t k, uint16_t* out) {
  const int64_t whole = k / kQuantBlock, blocks = blocksPerRow(k);
  const __m128i low = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < whole; ++b) {
    __m512 w0, w1;
    if (f == QuantFormat::Int8) {
      const uint8_t* blk = row + b * kInt8BlockBytes;
      const __m512 d = _mm512_set1_ps(halfAt(blk));
      w0 = _mm512_mul_ps(widenI8x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2))), d);
      w1 = _mm512_mul_ps(widenI8x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18))), d);
    } else {
      const Int4Place at = int4Place(b, blocks);
      const __m512 d = _mm512_set1_ps(halfAt(row + at.pair)), m = _mm512_set1_ps(halfAt(row + at.pair + 2));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + at.levels));
      w0 = _mm512_add_ps(_mm512_mul_ps(widenU8x16(_mm_and_si128(q, low)), d), m);
      w1 = _mm512_add_ps(_mm512_mul_ps(widenU8x16(_mm_and_si128(_mm_srli_epi16(q, 4), low)), d), m);
    }
    _mm512_storeu_si512(out + b * kQuantBlock, (__m512i)_mm512_cvtne2ps_pbh(w1, w0));
  }
  if (whole * kQuantBlock < k) {
    float tail[kQuantBlock];
    const int64_t rest = k - whole * kQuantBlock;
    dequantizeBlock(f, row, k, whole, tail);
    for (int64_t i = 0; i < rest; ++i) out[whole * kQuantBlock + i] = floatToBf16(tail[i]);
  }
}

// One block of quantizeVector's rule: scale = max|x| / 127, q = round(x / scale) to nearest even, the
// sum in order. `n` is the block's length (32 but for a ragged last block); q past n stays zero.
void quantizeBlockScalar(const float* x, int64_t n, int8_t* q, float* factors) {
  float amax = 0, sum = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i])), sum += x[i];
  const float d = amax / 127.f, inverse = d > 0 ? 1.f / d : 0.f;
  for (int64_t i = 0; i < n; ++i) q[i] = int8_t(std::nearbyint(x[i] * inverse));
  factors[0] = d;
  factors[1] = sum;
}

// The same for `blocks` whole blocks, bit for bit: the maximum of |x| is exact in any order (a NaN
// element is passed over, as std::max(amax, NaN) does), the multiply is the same fp32 operation,
// vroundps to nearest even is nearbyint in the default rounding mode, and the sum stays a scalar sum
// in order. Why: the scalar form took 10 us for 4,096 values and 26 us for 11,008, on the calling
// thread before every decode product (~1.8 ms a 7B token, while the other thread waits).
CXR_AVX2 void quantizeBlocksAvx2(const float* x, int64_t blocks, int8_t* q, float* factors) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  // vpackssdw and vpacksswb pack within 128-bit lanes: the 4-byte groups come out as elements
  // 0-3, 8-11, 16-19, 24-27, 4-7, 12-15, 20-23, 28-31, put back in order by one permutation.
  const __m256i inOrder = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < blocks; ++b) {
    const float* xb = x + b * kQuantBlock;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      amax = _mm256_max_ps(_mm256_and_ps(v[j], absMask), amax);  // NaN in the first operand: amax kept
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    float sum = 0;
    for (int64_t i = 0; i < kQuantBlock; ++i) sum += xb[i];
    const float d = _mm_cvtss_f32(m) / 127.f, inverse = d > 0 ? 1.f / d : 0.f;
    const __m256 scale = _mm256_set1_ps(inverse);
    __m256i levels[4];
    for (int j = 0; j < 4; ++j)
      levels[j] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[j], scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(levels[0], levels[1]),
                                              _mm256_packs_epi32(levels[2], levels[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kQuantBlock), _mm256_permutevar8x32_epi32(packed, inOrder));
    factors[2 * b] = d;
    factors[2 * b + 1] = sum;
  }
}

// x in blocks: the first `vectorBlocks` whole blocks with AVX2, the rest (a ragged last one, or all
// of them) one by one; both forms give the same bytes.
QuantizedVector quantizeActivation(const float* x, int64_t k, int64_t vectorBlocks) {
  QuantizedVector v;
  const int64_t nb = blocksPerRow(k);
  v.q.assign(size_t(nb * kQuantBlock), 0);
  v.factors.assign(size_t(2 * nb), 0.f);
  if (vectorBlocks > 0) quantizeBlocksAvx2(x, vectorBlocks, v.q.data(), v.factors.data());
  for (int64_t b = vectorBlocks; b < nb; ++b)
    quantizeBlockScalar(x + b * kQuantBlock, std::min(kQuantBlock, k - b * kQuantBlock), v.q.data() + b * kQuantBlock,
                        v.factors.data() + 2 * b);
  return v;
}

}  // namespace

QuantizedVector quantizeVectorScalar(const float* x, int64_t k) { return quantizeActivation(x, k, 0); }

QuantizedVector quantizeVector(const float* x, int64_t k) {
  static const bool avx2 = cpuHasAvx2();
  return quantizeActivation(x, k, avx2 ? k / kQuantBlock : 0);
}

void gemvQuant(QuantFormat f, const uint8_t* w, const float* x, float* y, int64_t n, int64_t k, CpuLevel level) {
  const QuantGemvTarget target{w, y, n};
  gemvQuantSeveral(f, &target, 1, x, k, level);
}

void gemvQuantSeveral(QuantFormat f, const QuantGemvTarget* targets, int count, const float* x, int64_t k,
                      CpuLevel level) {
  gemvQuantPositions(f, targets, count, x, 1, k, level);
}

void gemvQuantPositions(QuantFormat f, const QuantGemvTarget* targets, int count, const float* x,
                        int64_t positions, int64_t k, CpuLevel level) {
  const bool vnni = useVnni(level);
  // Each position's x quantized once for all threads and all targets.
  std::vector<QuantizedVector> xq;
  std::vector<std::vector<int8_t>> halves;
  for (int64_t p = 0; p < positions; ++p) {
    xq.push_back(quantizeVector(x + p * k, k));
    if (f == QuantFormat::Int4) halves.push_back(groupedHalves(xq.back(), vnni ? 4 : 2));
  }
  // The engine's pool (thread_pool.h: steady under load), as the bf16 gemv; grain 16 rows.
  parallelFor(stackedRows(targets, count), 16, [&](int64_t begin, int64_t end) {
    forEachStackedPiece(targets, count, begin, end, [&](const QuantGemvTarget& t, int64_t lo, int64_t hi) {
      forEachTileAndPosition(lo, hi, quantRowBytes(f, k), positions, [&](int64_t r0, int64_t r1, int64_t p) {
        const QuantizedVector& xp = xq[size_t(p)];
        float* yp = t.y + p * t.n;
        if (f == QuantFormat::Int8)
          vnni ? vnni_rows::rowsInt8Pairs(t.w, xp, yp, r0, r1) : avx2_rows::rowsInt8(t.w, xp, yp, r0, r1);
        else
          vnni ? vnni_rows::rowsInt4Quads512(t.w, xp, halves[size_t(p)].data(), yp, r0, r1)
               : avx2_rows::rowsInt4Quads(t.w, xp, halves[size_t(p)].data(), yp, r0, r1);
      });
    });
  });
}

void dequantizeRows(QuantFormat f, const uint8_t* w, int64_t begin, int64_t end, int64_t k, float* out) {
  const int64_t rowBytes = quantRowBytes(f, k);
  at::parallel_for(begin, end, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) dequantizeRowAvx2(f, w + r * rowBytes, k, out + (r - begin) * k);
  });
}

void dequantizeRowsBf16(QuantFormat f, const uint8_t* w, int64_t begin, int64_t end, int64_t k, uint16_t* out) {
  const int64_t rowBytes = quantRowBytes(f, k);
  at::parallel_for(begin, end, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) dequantizeRowBf16Avx512(f, w + r * rowBytes, k, out + (r - begin) * k);
  });
}

void quantizeMatrix(QuantFormat f, const std::function<void(int64_t row, float* out)>& readRow, int64_t rows,
                    int64_t k, uint8_t* dst) {
  const int64_t rowBytes = quantRowBytes(f, k);
  at::parallel_for(0, rows, 16, [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = b; r < e; ++r) {
      readRow(r, row.data());
      quantizeRow(f, row.data(), k, dst + r * rowBytes);
    }
  });
}

}  // namespace cxr::detail
