// Chains of libtorch elementwise ops in the forward passes (the LLaMA prefill above all; the vision
// tower's attention and every decode step take them too), each done in one pass, bit for bit what the
// chain gives. Why: in the 7B prefill (1162 positions, 2 threads) every op of such a chain reads and
// writes tens of megabytes, and libtorch's bf16 silu runs at ~1.2 G elements/s (a Sleef exp, a divide
// and three roundings per element): libtorch's profiler put the softmax, silu and the other ops these
// functions replace at ~2.4 s of a 32 s prefill (docs/performance.md).
//
// Each function takes the fast path for CPU tensors of the layouts the forward makes (below) on a CPU
// with AVX2 and otherwise runs the libtorch chain itself, so callers need no second route.
#pragma once

#include <ATen/ATen.h>

namespace cxr::detail {

// at::silu(gate) * up for bf16 gate and up of the same shape, both contiguous.
//
// libtorch 1.13 computes bf16 silu as x / (1 + exp(-x)) with each of exp, + and / rounded to bf16,
// so its result is a function of the one bf16 input: there are 65,536 of those, and the fast path
// reads a table that at::silu itself filled, once per process, with every bit pattern. The table is
// used only when libtorch's scalar formula (std::exp: the op's path for the last elements of each
// thread's share) gives the same 65,536 results as its vector path (Sleef) did; on this machine it
// does (test_fused_elementwise checks both paths against the table). The product with up is the
// exact product of two bf16 values in fp32, rounded once to bf16, as at::mul does. NaN inputs give
// NaN (the bit pattern of a NaN may differ from libtorch's).
at::Tensor siluTimes(const at::Tensor& gate, const at::Tensor& up);

// The attention scores made ready for the softmax: from bf16 scores [n, rowsPadded, keysPadded]
// (contiguous), the fp32 tensor that
//   s = scores.to(kFloat).mul_(scale);
//   s.narrow(1, 0, rows).narrow(2, 0, keys).add_(mask);   // when mask is defined: [rows, keys] fp32
//   s.narrow(2, keys, keysPadded - keys).fill_(-inf);
// gives, in one pass. Scores of another dtype (fp32 compute) take that chain.
at::Tensor scaledMaskedScores(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows,
                              int64_t keys);

// The attention's probabilities from the same scores: what
//   at::softmax(scaledMaskedScores(scores, scale, mask, rows, keys), -1).to(dtype)
// gives, for bf16 dtype in one pass over each row (scores, scale and mask into a row buffer, libtorch's
// softmax steps, rounding to bf16), skipping the exp of keys the mask hides. Taken where it was checked
// to equal libtorch's softmax on this machine (fusedSoftmaxInUse); otherwise those ops.
at::Tensor attentionProbabilities(const at::Tensor& scores, double scale, const at::Tensor& mask, int64_t rows,
                                  int64_t keys, at::ScalarType dtype);
bool fusedSoftmaxInUse();

// The softmax of each of `rows` fp32 rows of n scores, rounded to bf16 into probs [rows, n]: what
// at::softmax(scores, -1).to(kBFloat16) gives, one row at a time on the calling thread (the decode
// step calls it per head from the kernel pool's threads). The scores are overwritten.
void softmaxRowsToBf16(float* scores, uint16_t* probs, int64_t rows, int64_t n);

// Rotary position embedding (rotate_half form, spec 7.2) of x [T, heads * hd] (rows of any stride,
// elements contiguous) written into out [heads, T, hd] (any strides with contiguous elements: a fresh
// tensor for q, the KV cache's rows for k): what
//   xh = x.reshape({T, heads, hd}).transpose(0, 1);  out.copy_(xh * cos + rotateHalf(xh) * sin)
// gives, with cos and sin [T, hd] contiguous. In bf16 each product and the sum are rounded to bf16 as
// those ops round them; other dtypes take the ops.
void rotaryInto(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& out);

// Whether siluTimes takes its table (false: libtorch's ops, e.g. where libtorch's two paths of bf16
// silu disagree on this machine or the CPU lacks AVX2). Tests print it.
bool siluTableInUse();

}  // namespace cxr::detail
