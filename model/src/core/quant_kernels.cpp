#include "core/quant_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/bf16.h"
#include "core/parallel.h"
#include "core/thread_pool.h"

namespace cxr::detail {

namespace {

// ---- AVX-512 ---------------------------------------------------------------------------------
// One row at a time, front to back (one stream, as the bf16 gemv: see gemv_bf16.cpp). x is padded
// to whole blocks with zeros, so a ragged last block needs no special case. Two accumulators
// alternate between blocks so that consecutive blocks do not wait on each other's FMA.

#define CXR_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define CXR_AVX2 __attribute__((target("avx2,fma,f16c")))

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

CXR_AVX512 void rowsInt8Avx512(const uint8_t* w, const float* x, float* y, int64_t begin, int64_t end, int64_t nb) {
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* blk = w + r * nb * kInt8BlockBytes;
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t b = 0; b < nb; ++b, blk += kInt8BlockBytes) {
      const float* xb = x + b * kQuantBlock;
      const __m512 w0 = widenI8x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
      const __m512 w1 = widenI8x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18)));
      const __m512 s = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(w0, _mm512_loadu_ps(xb)));
      acc[b & 1] = _mm512_fmadd_ps(s, _mm512_set1_ps(halfAt(blk)), acc[b & 1]);
    }
    y[r] = horizontalSum(_mm512_add_ps(acc[0], acc[1]));
  }
}

// blockSums[b] = sum of x over block b: the minimum m of a block contributes m * blockSums[b].
CXR_AVX512 void rowsInt4Avx512(const uint8_t* w, const float* x, const float* blockSums, float* y, int64_t begin,
                               int64_t end, int64_t nb) {
  const __m128i low = _mm_set1_epi8(0x0F);
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* blk = w + r * nb * kInt4BlockBytes;
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    float minimums = 0;
    for (int64_t b = 0; b < nb; ++b, blk += kInt4BlockBytes) {
      const float* xb = x + b * kQuantBlock;
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));
      const __m512 w0 = widenU8x16(_mm_and_si128(q, low));
      const __m512 w1 = widenU8x16(_mm_and_si128(_mm_srli_epi16(q, 4), low));
      const __m512 s = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(w0, _mm512_loadu_ps(xb)));
      acc[b & 1] = _mm512_fmadd_ps(s, _mm512_set1_ps(halfAt(blk)), acc[b & 1]);
      minimums += halfAt(blk + 2) * blockSums[b];
    }
    y[r] = horizontalSum(_mm512_add_ps(acc[0], acc[1])) + minimums;
  }
}

// ---- AVX2 + FMA ------------------------------------------------------------------------------

CXR_AVX2 inline float halfAt2(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

CXR_AVX2 inline float sum256(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float s = 0;
  for (float f : lanes) s += f;
  return s;
}

CXR_AVX2 inline __m256 widenI8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
CXR_AVX2 inline __m256 widenU8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)); }

CXR_AVX2 void rowsInt8Avx2(const uint8_t* w, const float* x, float* y, int64_t begin, int64_t end, int64_t nb) {
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* blk = w + r * nb * kInt8BlockBytes;
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < nb; ++b, blk += kInt8BlockBytes) {
      const float* xb = x + b * kQuantBlock;
      __m256 s = _mm256_mul_ps(widenI8(blk + 2), _mm256_loadu_ps(xb));
      s = _mm256_fmadd_ps(widenI8(blk + 10), _mm256_loadu_ps(xb + 8), s);
      s = _mm256_fmadd_ps(widenI8(blk + 18), _mm256_loadu_ps(xb + 16), s);
      s = _mm256_fmadd_ps(widenI8(blk + 26), _mm256_loadu_ps(xb + 24), s);
      acc[b & 1] = _mm256_fmadd_ps(s, _mm256_set1_ps(halfAt2(blk)), acc[b & 1]);
    }
    y[r] = sum256(_mm256_add_ps(acc[0], acc[1]));
  }
}

CXR_AVX2 void rowsInt4Avx2(const uint8_t* w, const float* x, const float* blockSums, float* y, int64_t begin,
                           int64_t end, int64_t nb) {
  const __m128i low = _mm_set1_epi8(0x0F);
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* blk = w + r * nb * kInt4BlockBytes;
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    float minimums = 0;
    for (int64_t b = 0; b < nb; ++b, blk += kInt4BlockBytes) {
      const float* xb = x + b * kQuantBlock;
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));
      const __m128i lo = _mm_and_si128(q, low), hi = _mm_and_si128(_mm_srli_epi16(q, 4), low);
      __m256 s = _mm256_mul_ps(widenU8(lo), _mm256_loadu_ps(xb));
      s = _mm256_fmadd_ps(widenU8(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(xb + 8), s);
      s = _mm256_fmadd_ps(widenU8(hi), _mm256_loadu_ps(xb + 16), s);
      s = _mm256_fmadd_ps(widenU8(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(xb + 24), s);
      acc[b & 1] = _mm256_fmadd_ps(s, _mm256_set1_ps(halfAt2(blk)), acc[b & 1]);
      minimums += halfAt2(blk + 2) * blockSums[b];
    }
    y[r] = sum256(_mm256_add_ps(acc[0], acc[1])) + minimums;
  }
}

// ---- dequantization of rows for the prefill's GEMM ----------------------------------------------
// Whole blocks with vectors, a ragged last block through the scalar dequantizeRow; results equal
// dequantizeRow's bit for bit (d * q + m as a product and a sum, not fused; bf16 rounded to nearest
// even, as floatToBf16).

CXR_AVX2 void dequantizeRowAvx2(QuantFormat f, const uint8_t* row, int64_t k, float* out) {
  const int64_t whole = k / kQuantBlock;
  const __m128i low = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < whole; ++b) {
    float* o = out + b * kQuantBlock;
    if (f == QuantFormat::Int8) {
      const uint8_t* blk = row + b * kInt8BlockBytes;
      const __m256 d = _mm256_set1_ps(halfAt2(blk));
      for (int j = 0; j < 4; ++j) _mm256_storeu_ps(o + 8 * j, _mm256_mul_ps(widenI8(blk + 2 + 8 * j), d));
    } else {
      const uint8_t* blk = row + b * kInt4BlockBytes;
      const __m256 d = _mm256_set1_ps(halfAt2(blk)), m = _mm256_set1_ps(halfAt2(blk + 2));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));
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
    dequantizeRow(f, row + whole * blockBytes(f), rest, tail);
    std::memcpy(out + whole * kQuantBlock, tail, size_t(rest) * sizeof(float));
  }
}

#define CXR_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")))

CXR_AVX512BF16 void dequantizeRowBf16Avx512(QuantFormat f, const uint8_t* row, int64_t k, uint16_t* out) {
  const int64_t whole = k / kQuantBlock;
  const __m128i low = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < whole; ++b) {
    __m512 w0, w1;
    if (f == QuantFormat::Int8) {
      const uint8_t* blk = row + b * kInt8BlockBytes;
      const __m512 d = _mm512_set1_ps(halfAt(blk));
      w0 = _mm512_mul_ps(widenI8x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2))), d);
      w1 = _mm512_mul_ps(widenI8x16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18))), d);
    } else {
      const uint8_t* blk = row + b * kInt4BlockBytes;
      const __m512 d = _mm512_set1_ps(halfAt(blk)), m = _mm512_set1_ps(halfAt(blk + 2));
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 4));
      w0 = _mm512_add_ps(_mm512_mul_ps(widenU8x16(_mm_and_si128(q, low)), d), m);
      w1 = _mm512_add_ps(_mm512_mul_ps(widenU8x16(_mm_and_si128(_mm_srli_epi16(q, 4), low)), d), m);
    }
    _mm512_storeu_si512(out + b * kQuantBlock, (__m512i)_mm512_cvtne2ps_pbh(w1, w0));
  }
  if (whole * kQuantBlock < k) {
    float tail[kQuantBlock];
    const int64_t rest = k - whole * kQuantBlock;
    dequantizeRow(f, row + whole * blockBytes(f), rest, tail);
    for (int64_t i = 0; i < rest; ++i) out[whole * kQuantBlock + i] = floatToBf16(tail[i]);
  }
}

}  // namespace

void gemvQuant(QuantFormat f, const uint8_t* w, const float* x, float* y, int64_t n, int64_t k) {
  gemvQuant(f, w, x, y, n, k, cpuLevel());
}

void gemvQuant(QuantFormat f, const uint8_t* w, const float* x, float* y, int64_t n, int64_t k, CpuLevel level) {
  const int64_t nb = blocksPerRow(k);
  std::vector<float> padded(size_t(nb * kQuantBlock), 0.f), sums(size_t(nb), 0.f);
  std::memcpy(padded.data(), x, size_t(k) * sizeof(float));
  if (f == QuantFormat::Int4)
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t i = 0; i < kQuantBlock; ++i) sums[size_t(b)] += padded[size_t(b * kQuantBlock + i)];
  const float* xp = padded.data();
  const float* sp = sums.data();
  const bool wide = level == CpuLevel::Avx512;
  // The engine's pool (thread_pool.h: steady under load), as the bf16 gemv; grain 16 rows.
  parallelFor(n, 16, [&](int64_t begin, int64_t end) {
    if (f == QuantFormat::Int8)
      wide ? rowsInt8Avx512(w, xp, y, begin, end, nb) : rowsInt8Avx2(w, xp, y, begin, end, nb);
    else
      wide ? rowsInt4Avx512(w, xp, sp, y, begin, end, nb) : rowsInt4Avx2(w, xp, sp, y, begin, end, nb);
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
