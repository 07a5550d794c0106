#include "core/quant_format.h"

#include "core/cpu_level.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cxr::detail {

const char* toString(QuantFormat f) { return f == QuantFormat::Int8 ? "int8" : "int4"; }

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7FFFFFFFu;
  if (absx >= 0x7F800000u) return uint16_t(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0u));  // inf / NaN
  if (absx >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds beyond 65504: infinity
  if (absx < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    float a;
    std::memcpy(&a, &absx, 4);
    // a * 2^24 is the subnormal's integer mantissa; nearbyint rounds to nearest even.
    return uint16_t(sign | uint32_t(std::nearbyint(a * 16777216.0f)));
  }
  uint32_t mant = absx & 0x7FFFFFu;
  uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return uint16_t(sign | h);
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  float out;
  if (exp == 0) {
    out = std::ldexp(float(mant), -24);
    uint32_t u;
    std::memcpy(&u, &out, 4);
    u |= sign;
    std::memcpy(&out, &u, 4);
    return out;
  }
  const uint32_t u = sign | (exp == 31 ? (0xFFu << 23) | (mant << 13) : ((exp - 15 + 127) << 23) | (mant << 13));
  std::memcpy(&out, &u, 4);
  return out;
}

namespace {

void putHalf(uint8_t* p, float v) {
  const uint16_t h = floatToHalf(v);
  std::memcpy(p, &h, 2);
}
float getHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}

// The block's n (<= 32) weights, zero-padded to 32.
void blockValues(const float* row, int64_t k, int64_t b, float* v, int& n) {
  const int64_t begin = b * kQuantBlock;
  n = int(std::min<int64_t>(kQuantBlock, k - begin));
  for (int i = 0; i < kQuantBlock; ++i) v[i] = i < n ? row[begin + i] : 0.f;
}

void quantizeBlockInt8(const float* v, int n, uint8_t* out) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
  const uint16_t dh = floatToHalf(amax / 127.f);
  std::memcpy(out, &dh, 2);
  const float d = halfToFloat(dh);  // levels against the scale actually stored
  const float inv = d > 0 ? 1.f / d : 0.f;
  for (int i = 0; i < kQuantBlock; ++i) {
    // round half away from zero by truncation (std::nearbyint is a libm call on a baseline build)
    const float x = std::clamp(v[i] * inv, -127.f, 127.f);  // v is zero-padded beyond n
    out[2 + i] = uint8_t(int8_t(int(x + (x >= 0 ? 0.5f : -0.5f))));
  }
}

// Rounds x >= 0 to the nearest level in [0, 15] (halves up): a truncating conversion, far cheaper
// than std::nearbyint on a baseline x86-64 build, which calls into libm.
inline float level(float x) { return float(std::min(15, int(std::max(0.f, x) + 0.5f))); }

// Levels for (d, m) (already rounded to fp16), and their squared error over the n weights.
float levelsInt4(const float* v, int n, float d, float m, uint8_t* q) {
  const float inv = d > 0 ? 1.f / d : 0.f;
  float err = 0;
  for (int i = 0; i < n; ++i) {
    const float l = level((v[i] - m) * inv);
    q[i] = uint8_t(l);
    const float e = d * l + m - v[i];
    err += e * e;
  }
  for (int i = n; i < kQuantBlock; ++i) q[i] = 0;
  return err;
}

void storeInt4(float d, float m, const uint8_t* q, uint8_t* out) {
  putHalf(out, d);
  putHalf(out + 2, m);
  for (int j = 0; j < 16; ++j) out[4 + j] = uint8_t(q[j] | (q[j + 16] << 4));
}

float roundedToHalf(float x) { return halfToFloat(floatToHalf(x)); }

#if defined(__x86_64__)
// The same rounding in F16C's instructions (IEEE round to nearest even, as floatToHalf).
__attribute__((target("f16c"))) float roundedToHalfF16c(float x) {
  return _cvtsh_ss(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}
#endif

float roundedToHalf(float x, bool vectorized) {
#if defined(__x86_64__)
  if (vectorized) return roundedToHalfF16c(x);
#endif
  return roundedToHalf(x);
}

void quantizeBlockInt4Plain(const float* v, int n, uint8_t* out) {
  float lo = v[0], hi = v[0];
  for (int i = 1; i < n; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
  const float d = roundedToHalf((hi - lo) / 15.f), m = roundedToHalf(lo);
  uint8_t q[kQuantBlock];
  levelsInt4(v, n, d, m, q);
  storeInt4(d, m, q, out);
}

// Sums over the block of l, l^2 and l x for the levels l that inverse scale `iscale` gives the
// offsets x - min (padding beyond the block's n weights: offset -1, level 0, adds nothing). Levels
// are integers 0..15, so their sums are exact in int, and l x is exact in double; its sum runs in
// four lanes (lane j takes i = j, j + 4, ... in that order), then (lane 0 + 1) + (lane 2 + 3). The
// AVX2 variant computes the same operations in the same order: the same bytes on every CPU (tested).
// Why a variant at all: 31 candidate scales per block, in scalar code 2-4 us a block, 6 minutes for
// the 7B model's 4-bit weights on 2 cores.
struct LevelSums {
  int sl = 0, sll = 0;
  double slx = 0;
};

LevelSums levelSumsScalar(const float* offset, const float* v, float iscale) {
  LevelSums s;
  double lanes[4] = {0, 0, 0, 0};
  for (int i = 0; i < kQuantBlock; ++i) {
    const int l = std::min(15, int(std::max(0.f, iscale * offset[i]) + 0.5f));
    s.sl += l;
    s.sll += l * l;
    lanes[i % 4] += double(l) * double(v[i]);
  }
  s.slx = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  return s;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) LevelSums levelSumsAvx2(const float* offset, const float* v, float iscale) {
  const __m256 scale = _mm256_set1_ps(iscale), zero = _mm256_setzero_ps(), half = _mm256_set1_ps(0.5f);
  const __m256i fifteen = _mm256_set1_epi32(15);
  __m256i sl = _mm256_setzero_si256(), sll = _mm256_setzero_si256();
  __m256d lanes = _mm256_setzero_pd();
  for (int i = 0; i < kQuantBlock; i += 8) {
    // max(x, 0) as std::max(0.f, x); the truncating conversion as int()
    const __m256 x = _mm256_add_ps(_mm256_max_ps(_mm256_mul_ps(scale, _mm256_loadu_ps(offset + i)), zero), half);
    const __m256i l = _mm256_min_epi32(_mm256_cvttps_epi32(x), fifteen);
    sl = _mm256_add_epi32(sl, l);
    sll = _mm256_add_epi32(sll, _mm256_mullo_epi32(l, l));
    const __m256d low = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(l)), _mm256_cvtps_pd(_mm_loadu_ps(v + i)));
    const __m256d high =
        _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(l, 1)), _mm256_cvtps_pd(_mm_loadu_ps(v + i + 4)));
    lanes = _mm256_add_pd(_mm256_add_pd(lanes, low), high);  // i, then i + 4: the scalar order
  }
  alignas(32) int a[8], b[8];
  alignas(32) double d[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), sl);
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), sll);
  _mm256_store_pd(d, lanes);
  LevelSums s;
  for (int j = 0; j < 8; ++j) s.sl += a[j], s.sll += b[j];
  s.slx = (d[0] + d[1]) + (d[2] + d[3]);
  return s;
}

#endif

LevelSums levelSums(const float* offset, const float* v, float iscale, bool vectorized) {
#if defined(__x86_64__)
  if (vectorized) return levelSumsAvx2(offset, v, iscale);
#endif
  (void)vectorized;
  return levelSumsScalar(offset, v, iscale);
}

// The fitted rule (see quant_format.h): candidate scales around (max - min) / 15; for each, the
// levels it gives and the least-squares d and m for those levels, rounded to fp16, scored by the
// closed-form squared error; the best is then compared with the plain rule on the exact error.
void quantizeBlockInt4(const float* v, int n, uint8_t* out, bool vectorized) {
  float lo = v[0], hi = v[0];
  double sx = 0, sxx = 0;
  for (int i = 0; i < n; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]), sx += v[i], sxx += double(v[i]) * v[i];
  uint8_t plainQ[kQuantBlock], q[kQuantBlock];
  const float plainD = roundedToHalf((hi - lo) / 15.f), plainM = roundedToHalf(lo);
  const float plainErr = levelsInt4(v, n, plainD, plainM, plainQ);
  float bestD = 0, bestM = 0;
  double bestEstimate = plainErr;
  bool found = false;
  if (hi > lo) {
    float offset[kQuantBlock];
    for (int i = 0; i < kQuantBlock; ++i) offset[i] = i < n ? v[i] - lo : -1.f;
    const double nf = n;
    for (int step = -15; step <= 15; ++step) {
      const LevelSums s = levelSums(offset, v, (15.f + 0.1f * float(step)) / (hi - lo), vectorized);
      const double sl = s.sl, sll = s.sll, slx = s.slx;
      const double det = nf * sll - sl * sl;
      if (det <= 0) continue;
      const float d = roundedToHalf(float((nf * slx - sl * sx) / det), vectorized);
      const float m = roundedToHalf(float((sll * sx - sl * slx) / det), vectorized);
      if (!(d > 0) || !std::isfinite(m)) continue;
      // sum (d l + m - x)^2 expanded over the sums
      const double err = double(d) * d * sll + 2.0 * d * m * sl + nf * m * m - 2.0 * d * slx - 2.0 * m * sx + sxx;
      if (err < bestEstimate) bestEstimate = err, bestD = d, bestM = m, found = true;
    }
  }
  if (found && levelsInt4(v, n, bestD, bestM, q) < plainErr) {
    storeInt4(bestD, bestM, q, out);
    return;
  }
  storeInt4(plainD, plainM, plainQ, out);
}

// Each block of a row's k weights (zero-padded to 32) through quantizeBlock(values, n, out), which
// writes the block's bytes in one piece ([d, q] for int8, [d, m, levels] for int4); int8 keeps them
// at out + b * 34, int4 places the pair and the levels in the block's group (int4Place).
template <typename QuantizeBlock>
void quantizeBlocks(QuantFormat f, const float* row, int64_t k, uint8_t* out, const QuantizeBlock& quantizeBlock) {
  float v[kQuantBlock];
  int n = 0;
  const int64_t nb = blocksPerRow(k);
  for (int64_t b = 0; b < nb; ++b) {
    blockValues(row, k, b, v, n);
    if (f == QuantFormat::Int8) {
      quantizeBlock(v, n, out + b * kInt8BlockBytes);
      continue;
    }
    uint8_t block[kInt4BlockBytes];
    quantizeBlock(v, n, block);
    const Int4Place at = int4Place(b, nb);
    std::memcpy(out + at.pair, block, 4);
    std::memcpy(out + at.levels, block + 4, 16);
  }
}

}  // namespace

void quantizeRow(QuantFormat f, const float* row, int64_t k, uint8_t* out) {
  if (f == QuantFormat::Int8) {
    quantizeBlocks(f, row, k, out, quantizeBlockInt8);
    return;
  }
#if defined(__x86_64__)
  const bool vectorized = cpuHasAvx2();  // AVX2 and F16C
#else
  const bool vectorized = false;
#endif
  quantizeBlocks(f, row, k, out,
                 [&](const float* v, int n, uint8_t* block) { quantizeBlockInt4(v, n, block, vectorized); });
}

void quantizeRowInt4Scalar(const float* row, int64_t k, uint8_t* out) {
  quantizeBlocks(QuantFormat::Int4, row, k, out,
                 [](const float* v, int n, uint8_t* block) { quantizeBlockInt4(v, n, block, false); });
}

void quantizeRowInt4Plain(const float* row, int64_t k, uint8_t* out) {
  quantizeBlocks(QuantFormat::Int4, row, k, out, quantizeBlockInt4Plain);
}

void dequantizeRow(QuantFormat f, const uint8_t* row, int64_t k, float* out) {
  for (int64_t b = 0; b < blocksPerRow(k); ++b) dequantizeBlock(f, row, k, b, out + b * kQuantBlock);
}

void dequantizeBlock(QuantFormat f, const uint8_t* row, int64_t k, int64_t b, float* out) {
  const int64_t n = std::min(kQuantBlock, k - b * kQuantBlock);
  if (f == QuantFormat::Int8) {
    const uint8_t* blk = row + b * kInt8BlockBytes;
    const float d = getHalf(blk);
    for (int64_t i = 0; i < n; ++i) out[i] = d * float(int8_t(blk[2 + i]));
    return;
  }
  const Int4Place at = int4Place(b, blocksPerRow(k));
  const float d = getHalf(row + at.pair), m = getHalf(row + at.pair + 2);
  const uint8_t* levels = row + at.levels;
  for (int64_t i = 0; i < n; ++i) {
    const int q = i < 16 ? levels[i] & 0x0F : levels[i - 16] >> 4;
    out[i] = d * float(q) + m;
  }
}

}  // namespace cxr::detail
