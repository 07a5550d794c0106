// The prefill's fused elementwise chains (model/src/core/fused_elementwise.h) against the libtorch ops
// they replace, bit for bit:
// - siluTimes(gate, up) == at::silu(gate) * up, on every bf16 bit pattern of gate (NaN where libtorch
//   gives NaN), on random operands of lengths around the vector width and libtorch's thread shares,
//   with 1 and 2 threads, and through libtorch itself for fp32 and non-contiguous operands;
// - the property its table rests on: libtorch's bf16 silu of one element (the op's scalar path)
//   equals its silu of a whole tensor (the vector path) for every bit pattern;
// - rotaryInto == xh * cos + rotate_half(xh) * sin copied into the output, for x as a view of wider rows
//   (the projections' shared output), the output a fresh tensor or the rows of a KV cache, head sizes
//   with and without a vector tail, one position (decode) and many, bf16 and fp32;
// - scaledMaskedScores == scores.to(fp32).mul_(scale), plus the mask, padded keys -inf, with and
//   without padding, mask and padded query rows, for bf16 and fp32 scores;
// - attentionProbabilities == at::softmax of those scores, rounded to bf16 (the same cases, rows of NaN
//   and rows the mask hides wholly included);
// - softmaxRowsToBf16 (the decode step's per-head softmax) == at::softmax(row).to(bf16), rows of 1 to
//   40 keys and a report's length, with hidden keys and a NaN;
// - no elements, no rows, rows shorter than a vector: results of the right (empty) shape.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "core/cpu_level.h"
#include "core/fused_elementwise.h"
#include "support/check.h"

using namespace cxr::detail;

namespace {

// Equal bit for bit, or NaN in the same places (a NaN's payload is not part of the contract).
bool sameValues(const at::Tensor& a, const at::Tensor& b) {
  if (!a.sizes().equals(b.sizes()) || a.scalar_type() != b.scalar_type()) return false;
  const at::Tensor af = a.to(at::kFloat), bf = b.to(at::kFloat);
  const at::Tensor nanA = at::isnan(af), nanB = at::isnan(bf);
  if (!at::equal(nanA, nanB)) return false;
  return at::equal(af.masked_fill(nanA, 0), bf.masked_fill(nanB, 0));
}

at::Tensor everyBf16Pattern() {
  std::vector<int16_t> bits(65536);
  for (int i = 0; i < 65536; ++i) bits[size_t(i)] = int16_t(uint16_t(i));
  return at::from_blob(bits.data(), {65536}, at::kShort).clone().view(at::kBFloat16);
}

void siluOnEveryPattern() {
  const at::Tensor gate = everyBf16Pattern();
  const at::Tensor ones = at::ones({65536}, at::kBFloat16);
  CHECK(sameValues(siluTimes(gate, ones), at::silu(gate) * ones), "siluTimes on every bf16 bit pattern");
  const at::Tensor whole = at::silu(gate);
  int differing = 0;
  for (int64_t i = 0; i < 65536; ++i)
    if (!sameValues(at::silu(gate.narrow(0, i, 1).clone()), whole.narrow(0, i, 1))) ++differing;
  CHECK(differing == 0, "libtorch's bf16 silu of one element differs from its silu of a whole tensor for " +
                            std::to_string(differing) + " bit patterns");
}

void siluOnRandomOperands() {
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (int64_t n : {1, 7, 8, 9, 31, 33, 63, 65, 1000, 32767, 32768, 32769, 65553, 100003}) {
      const at::Tensor gate = at::randn({n}).mul(4).to(at::kBFloat16), up = at::randn({n}).to(at::kBFloat16);
      CHECK(at::equal(siluTimes(gate, up), at::silu(gate) * up),
            "siluTimes, " + std::to_string(n) + " elements, " + std::to_string(threads) + " threads");
    }
    const at::Tensor gate = at::randn({37, 11008}).mul(3).to(at::kBFloat16), up = at::randn({37, 11008}).to(at::kBFloat16);
    const at::Tensor got = siluTimes(gate, up);
    CHECK(got.sizes().equals(gate.sizes()) && at::equal(got, at::silu(gate) * up),
          "siluTimes, 37 x 11008, " + std::to_string(threads) + " threads");
  }
  const at::Tensor gate32 = at::randn({5, 40}), up32 = at::randn({5, 40});
  CHECK(at::equal(siluTimes(gate32, up32), at::silu(gate32) * up32), "siluTimes on fp32 operands");
  const at::Tensor wide = at::randn({40, 6}).to(at::kBFloat16), up = at::randn({6, 40}).to(at::kBFloat16);
  CHECK(at::equal(siluTimes(wide.t(), up), at::silu(wide.t()) * up), "siluTimes on a transposed gate");
}

at::Tensor scoresChain(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows, int64_t keys) {
  at::Tensor s = scores.to(at::kFloat).clone().mul_(scale);  // .to() of fp32 scores would be the scores themselves
  if (mask.defined()) s.narrow(1, 0, rows).narrow(2, 0, keys).add_(mask);
  const int64_t keysPadded = scores.size(2);
  if (keysPadded > keys) s.narrow(2, keys, keysPadded - keys).fill_(-std::numeric_limits<float>::infinity());
  return s;
}

void scoresAsTheChain() {
  struct Case { int64_t heads, rows, rowsPadded, keys, keysPadded, past; bool masked; };
  for (const Case c : {Case{2, 37, 48, 58, 64, 21, true}, Case{3, 33, 48, 33, 48, 0, false}, Case{1, 64, 64, 64, 64, 0, true},
                       Case{2, 17, 17, 47, 47, 30, true}, Case{4, 5, 5, 1100, 1104, 1095, true}}) {
    const at::Tensor scores = at::randn({c.heads, c.rowsPadded, c.keysPadded}).mul(20).to(at::kBFloat16);
    at::Tensor mask;
    if (c.masked)  // causal, as llamaForward builds it
      mask = at::full({c.rows, c.keys}, -std::numeric_limits<float>::infinity()).triu(c.past + 1);
    const double scale = 1.0 / std::sqrt(128.0);
    const std::string where = std::to_string(c.heads) + " x " + std::to_string(c.rows) + "/" +
                              std::to_string(c.rowsPadded) + " x " + std::to_string(c.keys) + "/" +
                              std::to_string(c.keysPadded) + (c.masked ? ", masked" : "");
    const at::Tensor got = scaledMaskedScores(scores, scale, mask, c.rows, c.keys);
    CHECK(got.scalar_type() == at::kFloat && at::equal(got, scoresChain(scores, scale, mask, c.rows, c.keys)),
          "scaledMaskedScores, " + where);
    CHECK(at::equal(attentionProbabilities(scores, scale, mask, c.rows, c.keys, at::kBFloat16),
                    at::softmax(scoresChain(scores, scale, mask, c.rows, c.keys), -1).to(at::kBFloat16)),
          "attentionProbabilities, " + where);
    const at::Tensor scores32 = scores.to(at::kFloat), scores32Before = scores32.clone();
    CHECK(at::equal(attentionProbabilities(scores32, scale, mask, c.rows, c.keys, at::kFloat),
                    at::softmax(scoresChain(scores32, scale, mask, c.rows, c.keys), -1)),
          "attentionProbabilities in fp32, " + where);
    CHECK(at::equal(scores32, scores32Before), "fp32 scores left as they were, " + where);
    CHECK(at::equal(scaledMaskedScores(scores32, scale, mask, c.rows, c.keys),
                    scoresChain(scores32, scale, mask, c.rows, c.keys)),
          "scaledMaskedScores on fp32 scores, " + where);
  }
}

// Many rows of the report's length: the sums' rounding differs from libtorch's somewhere in them if the
// lane order does. Also NaN scores and a row the mask hides wholly (NaN probabilities in libtorch).
void probabilitiesOnLongRows() {
  const int64_t rows = 96, keys = 1117, keysPadded = 1120, past = 1021;
  const at::Tensor scores = at::randn({4, rows, keysPadded}).mul(40).to(at::kBFloat16);
  const at::Tensor causal = at::full({rows, keys}, -std::numeric_limits<float>::infinity()).triu(past + 1);
  const at::Tensor want = at::softmax(scoresChain(scores, 0.088, causal, rows, keys), -1).to(at::kBFloat16);
  CHECK(at::equal(attentionProbabilities(scores, 0.088, causal, rows, keys, at::kBFloat16), want),
        "attentionProbabilities, 4 heads x 96 rows x 1117 keys");
  at::Tensor odd = scores.clone();
  odd[1][5][17] = std::numeric_limits<float>::quiet_NaN();
  at::Tensor hiding = causal.clone();
  hiding[7].fill_(-std::numeric_limits<float>::infinity());
  CHECK(sameValues(attentionProbabilities(odd, 0.088, hiding, rows, keys, at::kBFloat16),
                   at::softmax(scoresChain(odd, 0.088, hiding, rows, keys), -1).to(at::kBFloat16)),
        "attentionProbabilities with a NaN score and a wholly hidden row");
}

// The decode step's rows: one position's scores against 1 to 40 keys and a report's, scaled, some
// hidden (-inf: keys past a shorter conversation are never there, but the kernel must not care), one NaN.
void decodeRows() {
  for (int64_t keys : {1, 2, 7, 8, 9, 15, 16, 17, 40, 1121}) {
    const int64_t heads = 3;
    at::Tensor scores = at::randn({heads, keys}).mul(6);
    if (keys > 8) scores[1].narrow(0, 0, 8).fill_(-std::numeric_limits<float>::infinity());
    if (keys > 4) scores[2][3] = std::numeric_limits<float>::quiet_NaN();
    const at::Tensor want = at::softmax(scores, -1).to(at::kBFloat16);
    at::Tensor probs = at::empty({heads, keys}, at::kBFloat16);
    at::Tensor scratch = scores.clone();
    softmaxRowsToBf16(scratch.data_ptr<float>(), static_cast<uint16_t*>(probs.data_ptr()), heads, keys);
    CHECK(sameValues(probs, want), "softmaxRowsToBf16, " + std::to_string(heads) + " rows of " + std::to_string(keys));
  }
}

// Shapes at the edges: nothing to compute, rows shorter than a vector.
void edgeShapes() {
  const at::Tensor none = at::empty({0}, at::kBFloat16);
  CHECK(siluTimes(none, none).numel() == 0, "siluTimes of no elements");
  const at::Tensor shortRows = at::randn({1, 3, 5}).to(at::kBFloat16);
  CHECK(at::equal(attentionProbabilities(shortRows, 0.5, at::Tensor(), 3, 5, at::kBFloat16),
                  at::softmax(scoresChain(shortRows, 0.5, at::Tensor(), 3, 5), -1).to(at::kBFloat16)),
        "attentionProbabilities on rows of 5 keys");
  const at::Tensor noRows = at::empty({2, 0, 16}, at::kBFloat16);
  CHECK(attentionProbabilities(noRows, 0.5, at::Tensor(), 0, 16, at::kBFloat16).numel() == 0 &&
            scaledMaskedScores(noRows, 0.5, at::Tensor(), 0, 16).numel() == 0,
        "attentionProbabilities and scaledMaskedScores of no rows");
  at::Tensor out = at::empty({4, 0, 32}, at::kBFloat16);
  rotaryInto(at::empty({0, 128}, at::kBFloat16), at::empty({0, 32}, at::kBFloat16), at::empty({0, 32}, at::kBFloat16), out);
  CHECK(out.numel() == 0, "rotaryInto of no positions");
}

void rotaryAsTheOps() {
  struct Case { int64_t positions, heads, headDim, past; };
  for (const Case c : {Case{1, 4, 128, 40}, Case{37, 3, 128, 0}, Case{5, 2, 16, 3}, Case{9, 2, 12, 1}, Case{33, 1, 64, 7}}) {
    for (const auto dtype : {at::kBFloat16, at::kFloat}) {
      const int64_t width = c.heads * c.headDim, capacity = c.past + c.positions + 4;
      // x as one of three projections sharing a row, as projectSeveral may return it
      const at::Tensor rows = at::randn({c.positions, 3 * width}).mul(3).to(dtype);
      const at::Tensor x = rows.narrow(1, width, width);
      const at::Tensor angles = at::arange(c.past, c.past + c.positions).unsqueeze(1).to(at::kFloat) *
                                at::rand({1, c.headDim}).mul(2);
      const at::Tensor cos = angles.cos().to(dtype), sin = angles.sin().to(dtype);
      const at::Tensor xh = x.reshape({c.positions, c.heads, c.headDim}).transpose(0, 1);
      const int64_t half = c.headDim / 2;
      const at::Tensor want = xh * cos + at::cat({-xh.narrow(-1, half, half), xh.narrow(-1, 0, half)}, -1) * sin;
      const std::string where = std::to_string(c.positions) + " positions x " + std::to_string(c.heads) + " heads of " +
                                std::to_string(c.headDim) + (dtype == at::kFloat ? ", fp32" : ", bf16");
      at::Tensor fresh = at::empty({c.heads, c.positions, c.headDim}, x.options());
      rotaryInto(x, cos, sin, fresh);
      CHECK(at::equal(fresh, want), "rotaryInto a fresh tensor, " + where);
      at::Tensor cache = at::zeros({c.heads, capacity, c.headDim}, x.options());
      rotaryInto(x, cos, sin, cache.narrow(1, c.past, c.positions));
      CHECK(at::equal(cache.narrow(1, c.past, c.positions), want), "rotaryInto a cache's rows, " + where);
      CHECK(cache.narrow(1, 0, c.past).count_nonzero().item<int64_t>() == 0 &&
                cache.narrow(1, c.past + c.positions, 4).count_nonzero().item<int64_t>() == 0,
            "rotaryInto wrote only its rows of the cache, " + where);
    }
  }
}

}  // namespace

int main() {
  if (!cpuHasAvx2()) {
    std::printf("no AVX2 on this CPU: the fused chains run libtorch's ops; skipped\n");
    return 0;
  }
  at::manual_seed(11);
  std::printf("silu table in use: %s\n", siluTableInUse() ? "yes" : "no");
  CHECK(siluTableInUse(), "the silu table is not in use: libtorch's two paths of bf16 silu disagree here");
  siluOnEveryPattern();
  siluOnRandomOperands();
  std::printf("fused softmax in use: %s\n", fusedSoftmaxInUse() ? "yes" : "no");
  CHECK(fusedSoftmaxInUse(), "the fused softmax is not in use: it differed from libtorch's on its probe");
  scoresAsTheChain();
  probabilitiesOnLongRows();
  decodeRows();
  rotaryAsTheOps();
  edgeShapes();
  return check::finish("test_fused_elementwise");
}
