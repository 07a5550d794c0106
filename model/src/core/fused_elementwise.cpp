#include "core/fused_elementwise.h"

#include <ATen/CPUGeneratorImpl.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/bf16.h"
#include "core/cpu_level.h"
#include "core/parallel.h"

// Sleef's 8-lane exp (libsleef, the library libtorch's own vector exp calls). Declared here because
// Debian's sleef.h declares its AVX2 functions only to files compiled for AVX2 throughout.
extern "C" __attribute__((target("avx2,fma"))) __m256 Sleef_expf8_u10(__m256);

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

// One position of one head: out = x * cos + rotate_half(x) * sin, every step rounded to bf16.
CXR_AVX2 void rotaryRow(const uint16_t* x, const uint16_t* cos, const uint16_t* sin, uint16_t* out, int64_t hd) {
  const int64_t half = hd / 2;
  const __m256 signBit = _mm256_set1_ps(-0.0f);
  int64_t d = 0;
  for (; d + 8 <= half; d += 8) {
    const __m256 a = widenBf16x8(x + d), b = widenBf16x8(x + half + d);
    // first half: a * cos - b * sin (rotate_half's -b, exactly negated); second: b * cos + a * sin
    const __m256 first = _mm256_add_ps(roundToBf16x8(_mm256_mul_ps(a, widenBf16x8(cos + d))),
                                       roundToBf16x8(_mm256_mul_ps(_mm256_xor_ps(b, signBit), widenBf16x8(sin + d))));
    const __m256 second = _mm256_add_ps(roundToBf16x8(_mm256_mul_ps(b, widenBf16x8(cos + half + d))),
                                        roundToBf16x8(_mm256_mul_ps(a, widenBf16x8(sin + half + d))));
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

// libtorch's own softmax of one fp32 row, rounded to bf16 into out.
void softmaxRowByLibtorch(float* row, uint16_t* out, int64_t n) {
  const at::Tensor p = at::softmax(at::from_blob(row, {1, n}, at::kFloat), -1).to(at::kBFloat16);
  std::memcpy(out, p.data_ptr(), size_t(n) * 2);
}

// What libtorch 1.13's fp32 softmax over a row computes at its AVX2 level (SoftMaxKernel.cpp's
// _vec_softmax_lastdim with vec::reduce_all, vec::map and functional_base.h's AVX2 lane reduction),
// then the rounding to bf16 of .to(kBFloat16): the maximum; exp(x - max) through Sleef, also for the
// last partial vector; their sum as 8 lane sums (the first vector the start, the partial vector's
// lanes added alone) folded 4+4, 2+2, 1+1; 1 / sum; each exp times that. A vector whose 8 scores are
// all -inf (keys the causal mask hides) adds +0 to each lane, so it is skipped and written as zeros.
CXR_AVX2 void softmaxRowToBf16(float* row, uint16_t* out, int64_t n) {
  const float negInf = -std::numeric_limits<float>::infinity();
  const int64_t whole = n - n % 8;
  __m256 maxVec = _mm256_set1_ps(negInf), unordered = _mm256_setzero_ps();
  for (int64_t j = 0; j < whole; j += 8) {
    const __m256 x = _mm256_loadu_ps(row + j);
    maxVec = _mm256_max_ps(maxVec, x);
    unordered = _mm256_or_ps(unordered, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, maxVec);
  float maximum = negInf;
  bool nan = _mm256_movemask_ps(unordered) != 0;
  for (float v : lanes) maximum = std::max(maximum, v);
  for (int64_t j = whole; j < n; ++j) {
    maximum = std::max(maximum, row[j]);
    nan = nan || std::isnan(row[j]);
  }
  if (nan || !std::isfinite(maximum) || n < 8) {  // libtorch's own steps for these (NaN propagation)
    softmaxRowByLibtorch(row, out, n);
    return;
  }
  const __m256 maxB = _mm256_set1_ps(maximum), negInfVec = _mm256_set1_ps(negInf);
  __m256 sum = _mm256_setzero_ps();  // +0 + e is e: the same as starting from the first vector
  for (int64_t j = 0; j < whole; j += 8) {
    const __m256 x = _mm256_loadu_ps(row + j);
    if (_mm256_movemask_ps(_mm256_cmp_ps(x, negInfVec, _CMP_NEQ_OQ)) == 0) {
      _mm256_storeu_ps(row + j, _mm256_setzero_ps());  // eight keys hidden by the mask: + 0 in every lane
      continue;
    }
    const __m256 e = Sleef_expf8_u10(_mm256_sub_ps(x, maxB));
    _mm256_storeu_ps(row + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (whole < n) {  // the partial vector: its lanes added alone
    alignas(32) float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(part, row + whole, size_t(n - whole) * 4);
    _mm256_store_ps(part, Sleef_expf8_u10(_mm256_sub_ps(_mm256_load_ps(part), maxB)));
    std::memcpy(row + whole, part, size_t(n - whole) * 4);
    _mm256_store_ps(lanes, sum);
    for (int64_t l = 0; l < n - whole; ++l) lanes[l] = lanes[l] + part[l];
    sum = _mm256_load_ps(lanes);
  }
  sum = _mm256_add_ps(sum, _mm256_permute2f128_ps(sum, sum, 0x1));
  sum = _mm256_add_ps(sum, _mm256_shuffle_ps(sum, sum, 0x4E));
  sum = _mm256_add_ps(sum, _mm256_shuffle_ps(sum, sum, 0xB1));
  const float inverse = 1 / _mm256_cvtss_f32(sum);
  const __m256 inverseVec = _mm256_set1_ps(inverse);
  int64_t j = 0;
  for (; j < whole; j += 8) storeBf16x8(out + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inverseVec));
  for (; j < n; ++j) out[j] = floatToBf16(row[j] * inverse);
}

bool isCpuBf16(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kBFloat16 && t.is_contiguous();
}

// No mask, or the [rows, keys] fp32 one the row kernels read.
bool maskFits(const at::Tensor& mask, int64_t rows, int64_t keys) {
  return !mask.defined() || (mask.device().is_cpu() && mask.scalar_type() == at::kFloat && mask.is_contiguous() &&
                             mask.sizes().equals({rows, keys}));
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
  if (!isCpuBf16(scores) || scores.dim() != 3 || !maskFits(mask, rows, keys) || !cpuHasAvx2()) {
    at::Tensor s = scores.to(at::kFloat).mul(scale);  // out of place: fp32 scores are the caller's
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
      x.size(0) != T || x.size(1) != heads * hd || cos.size(0) != T || cos.size(1) != hd || hd <= 0 || hd % 2 != 0 ||
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

namespace {

at::Tensor probabilitiesByOps(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows,
                              int64_t keys, at::ScalarType dtype) {
  return at::softmax(scaledMaskedScores(scores, scale, mask, rows, keys), -1).to(dtype);
}

at::Tensor probabilitiesFused(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows,
                              int64_t keys) {
  const int64_t rowsPadded = scores.size(1), keysPadded = scores.size(2), allRows = scores.size(0) * rowsPadded;
  at::Tensor out = at::empty(scores.sizes(), scores.options());
  const auto* in = static_cast<const uint16_t*>(scores.data_ptr());
  auto* o = static_cast<uint16_t*>(out.data_ptr());
  const float* m = mask.defined() ? mask.data_ptr<float>() : nullptr;
  const auto scaleF = float(scale);
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / (16 * keysPadded));
  at::parallel_for(0, allRows, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(keysPadded));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t inHead = r % rowsPadded;
      scoreRow(in + r * keysPadded, row.data(), keys, keysPadded, scaleF, m && inHead < rows ? m + inHead * keys : nullptr);
      softmaxRowToBf16(row.data(), o + r * keysPadded, keysPadded);
    }
  });
  return out;
}

// Whether softmaxRowToBf16 is libtorch's softmax here: its vector steps follow ATen's AVX2 level, which
// libtorch 1.13 takes on every CPU with AVX2 unless ATEN_CPU_CAPABILITY says otherwise. Checked once
// on random rows (ragged lengths, masked keys) against libtorch itself; any difference turns it off.
bool fusedSoftmaxAgrees() {
  static const bool agrees = [] {
    if (!atenKernelsAtAvx2()) return false;
    // rows as long as a report's (a different order of the lane sums shows in some of them), ragged
    // (its own generator: the process's default one, which tests seed, is left as it was)
    const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(20261207);
    const at::Tensor scores =
        at::randn({2, 64, 1120}, generator, at::TensorOptions().dtype(at::kFloat)).mul(30).to(at::kBFloat16);
    const at::Tensor mask = at::full({64, 1117}, -std::numeric_limits<float>::infinity()).triu(1054);
    return at::equal(probabilitiesFused(scores, 0.088, mask, 64, 1117),
                     probabilitiesByOps(scores, 0.088, mask, 64, 1117, at::kBFloat16));
  }();
  return agrees;
}

}  // namespace

bool fusedSoftmaxInUse() { return fusedSoftmaxAgrees(); }

at::Tensor attentionProbabilities(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows,
                                  int64_t keys, at::ScalarType dtype) {
  // (rows of fewer than 8 keys take libtorch's steps in softmaxRowToBf16 anyway)
  if (dtype != at::kBFloat16 || !isCpuBf16(scores) || scores.dim() != 3 || scores.size(2) < 8 ||
      !maskFits(mask, rows, keys) || !fusedSoftmaxAgrees())
    return probabilitiesByOps(scores, scale, mask, rows, keys, dtype);
  return probabilitiesFused(scores, scale, mask, rows, keys);
}

void softmaxRowsToBf16(float* scores, uint16_t* probs, int64_t rows, int64_t n) {
  const auto softmaxRow = fusedSoftmaxAgrees() ? softmaxRowToBf16 : softmaxRowByLibtorch;
  for (int64_t r = 0; r < rows; ++r) softmaxRow(scores + r * n, probs + r * n, n);
}

}  // namespace cxr::detail
