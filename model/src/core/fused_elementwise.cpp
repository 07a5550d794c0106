#include "core/fused_elementwise.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/bf16.h"
#include "core/cpu_level.h"
#include "core/parallel.h"

namespace cxr::detail {

namespace {

#define CXR_AVX2 __attribute__((target("avx2,fma")))

// libtorch's scalar bf16 silu (the op's path for the elements after the last whole vector of a
// thread's share): std::exp, then +, then /, each result rounded to bf16.
uint16_t siluScalarPath(uint16_t xBits) {
  const float x = bf16ToFloat(xBits);
  const float e = bf16ToFloat(floatToBf16(std::exp(-x)));
  const float d = bf16ToFloat(floatToBf16(1.0f + e));
  return floatToBf16(x / d);
}

// silu of every bf16 bit pattern as at::silu computes it, widened to fp32 bits (so the kernel's
// gather yields fp32 lanes); empty when libtorch's scalar formula disagrees with it anywhere.
std::vector<uint32_t> makeSiluTable() {
  std::vector<uint16_t> every(65536);
  for (uint32_t i = 0; i < 65536; ++i) every[i] = uint16_t(i);
  const at::Tensor x = at::from_blob(every.data(), {65536}, at::TensorOptions().dtype(at::kBFloat16));
  const at::Tensor s = at::silu(x).contiguous();
  const auto* silu = static_cast<const uint16_t*>(s.data_ptr());
  std::vector<uint32_t> table(65536);
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t scalar = siluScalarPath(uint16_t(i));
    const bool bothNan = std::isnan(bf16ToFloat(silu[i])) && std::isnan(bf16ToFloat(scalar));
    if (silu[i] != scalar && !bothNan) return {};
    table[i] = uint32_t(silu[i]) << 16;
  }
  return table;
}

const std::vector<uint32_t>& siluTable() {
  static const std::vector<uint32_t> table = cpuHasAvx2() ? makeSiluTable() : std::vector<uint32_t>{};
  return table;
}

CXR_AVX2 void siluTimesRange(const uint32_t* table, const uint16_t* gate, const uint16_t* up, uint16_t* out,
                             int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i index = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(gate + i)));
    const __m256 silu = _mm256_castsi256_ps(_mm256_i32gather_epi32(reinterpret_cast<const int*>(table), index, 4));
    storeBf16x8(out + i, _mm256_mul_ps(silu, widenBf16x8(up + i)));  // exact product, one rounding
  }
  for (; i < n; ++i) {
    float silu;
    std::memcpy(&silu, &table[gate[i]], 4);
    out[i] = floatToBf16(silu * bf16ToFloat(up[i]));
  }
}

// One row of scores: scaled, plus the mask row (when there is one), the padded keys -inf.
CXR_AVX2 void scoreRow(const uint16_t* scores, float* out, int64_t keys, int64_t keysPadded, float scale,
                       const float* maskRow) {
  const __m256 scaleVec = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= keys; j += 8) {
    __m256 v = _mm256_mul_ps(widenBf16x8(scores + j), scaleVec);
    if (maskRow) v = _mm256_add_ps(v, _mm256_loadu_ps(maskRow + j));  // never contracted: -ffp-contract=off
    _mm256_storeu_ps(out + j, v);
  }
  for (; j < keys; ++j) {
    float v = bf16ToFloat(scores[j]) * scale;
    if (maskRow) v = v + maskRow[j];
    out[j] = v;
  }
  for (; j < keysPadded; ++j) out[j] = -std::numeric_limits<float>::infinity();
}

// v rounded to bf16 and widened back: what a bf16 op's result is when the next op reads it.
CXR_AVX2 inline __m256 rounded(__m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i up = _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF)));
  const __m256i kept = _mm256_and_si256(up, _mm256_set1_epi32(int32_t(0xFFFF0000u)));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_castsi256_ps(_mm256_blendv_epi8(kept, _mm256_set1_epi32(0x7FC00000), nan));
}

// One position of one head: out = x * cos + rotate_half(x) * sin, every step rounded to bf16.
CXR_AVX2 void rotaryRow(const uint16_t* x, const uint16_t* cos, const uint16_t* sin, uint16_t* out, int64_t hd) {
  const int64_t half = hd / 2;
  const __m256 signBit = _mm256_set1_ps(-0.0f);
  int64_t d = 0;
  for (; d + 8 <= half; d += 8) {
    const __m256 a = widenBf16x8(x + d), b = widenBf16x8(x + half + d);
    // first half: a * cos - b * sin (rotate_half's -b, exactly negated); second: b * cos + a * sin
    const __m256 first = _mm256_add_ps(rounded(_mm256_mul_ps(a, widenBf16x8(cos + d))),
                                       rounded(_mm256_mul_ps(_mm256_xor_ps(b, signBit), widenBf16x8(sin + d))));
    const __m256 second = _mm256_add_ps(rounded(_mm256_mul_ps(b, widenBf16x8(cos + half + d))),
                                        rounded(_mm256_mul_ps(a, widenBf16x8(sin + half + d))));
    storeBf16x8(out + d, first);
    storeBf16x8(out + half + d, second);
  }
  const auto r = [](float v) { return bf16ToFloat(floatToBf16(v)); };
  for (; d < half; ++d) {
    const float a = bf16ToFloat(x[d]), b = bf16ToFloat(x[half + d]);
    out[d] = floatToBf16(r(a * bf16ToFloat(cos[d])) + r(-b * bf16ToFloat(sin[d])));
    out[half + d] = floatToBf16(r(b * bf16ToFloat(cos[half + d])) + r(a * bf16ToFloat(sin[half + d])));
  }
}

bool isCpuBf16(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kBFloat16 && t.is_contiguous();
}

}  // namespace

bool siluTableInUse() { return !siluTable().empty(); }

at::Tensor siluTimes(const at::Tensor& gate, const at::Tensor& up) {
  if (!isCpuBf16(gate) || !isCpuBf16(up) || !gate.sizes().equals(up.sizes()) || !siluTableInUse())
    return at::silu(gate) * up;
  at::Tensor out = at::empty_like(gate);
  const uint32_t* table = siluTable().data();
  const auto* g = static_cast<const uint16_t*>(gate.data_ptr());
  const auto* u = static_cast<const uint16_t*>(up.data_ptr());
  auto* o = static_cast<uint16_t*>(out.data_ptr());
  at::parallel_for(0, gate.numel(), at::internal::GRAIN_SIZE, [&](int64_t begin, int64_t end) {
    siluTimesRange(table, g + begin, u + begin, o + begin, end - begin);
  });
  return out;
}

at::Tensor scaledMaskedScores(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows,
                              int64_t keys) {
  const int64_t rowsPadded = scores.size(1), keysPadded = scores.size(2);
  const bool maskFits = !mask.defined() || (mask.device().is_cpu() && mask.scalar_type() == at::kFloat &&
                                            mask.is_contiguous() && mask.sizes().equals({rows, keys}));
  if (!isCpuBf16(scores) || scores.dim() != 3 || !maskFits || !cpuHasAvx2()) {
    at::Tensor s = scores.to(at::kFloat).mul_(scale);
    if (mask.defined()) s.narrow(1, 0, rows).narrow(2, 0, keys).add_(mask);
    if (keysPadded > keys) s.narrow(2, keys, keysPadded - keys).fill_(-std::numeric_limits<float>::infinity());
    return s;
  }
  at::Tensor out = at::empty(scores.sizes(), scores.options().dtype(at::kFloat));
  const auto* in = static_cast<const uint16_t*>(scores.data_ptr());
  float* o = out.data_ptr<float>();
  const float* m = mask.defined() ? mask.data_ptr<float>() : nullptr;
  const auto scaleF = float(scale);  // what mul_(double) on an fp32 tensor multiplies by
  const int64_t allRows = scores.size(0) * rowsPadded;
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, keysPadded));
  at::parallel_for(0, allRows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t row = r % rowsPadded;  // the padded query rows are not masked
      scoreRow(in + r * keysPadded, o + r * keysPadded, keys, keysPadded, scaleF,
               m && row < rows ? m + row * keys : nullptr);
    }
  });
  return out;
}

void rotaryInto(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& out) {
  const int64_t heads = out.size(0), T = out.size(1), hd = out.size(2);
  const auto bf16Rows = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == at::kBFloat16 && t.stride(-1) == 1;
  };
  if (!bf16Rows(x) || !bf16Rows(out) || !isCpuBf16(cos) || !isCpuBf16(sin) || x.dim() != 2 || out.dim() != 3 ||
      x.size(0) != T || x.size(1) != heads * hd || cos.size(0) != T || cos.size(1) != hd || hd % 2 != 0 ||
      !cpuHasAvx2()) {
    const at::Tensor xh = x.reshape({T, heads, hd}).transpose(0, 1);
    const int64_t half = hd / 2;
    const at::Tensor rotated = at::cat({-xh.narrow(-1, half, half), xh.narrow(-1, 0, half)}, -1);
    out.copy_(xh * cos + rotated * sin);
    return;
  }
  const auto* in = static_cast<const uint16_t*>(x.data_ptr());
  const auto* c = static_cast<const uint16_t*>(cos.data_ptr());
  const auto* s = static_cast<const uint16_t*>(sin.data_ptr());
  auto* o = static_cast<uint16_t*>(out.data_ptr());
  const int64_t xRow = x.stride(0), outHead = out.stride(0), outRow = out.stride(1);
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / hd);
  at::parallel_for(0, heads * T, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t h = i / T, t = i % T;
      rotaryRow(in + t * xRow + h * hd, c + t * hd, s + t * hd, o + h * outHead + t * outRow, hd);
    }
  });
}

}  // namespace cxr::detail
