// LLaMA's RMSNorm (spec 6.2) in one pass a row, bit for bit libtorch's chain of ops.
//
// The chain (transformers 4.36's LlamaRMSNorm, what the reference runs):
//   xf = x.to(kFloat); var = xf.pow(2).mean(-1, keepdim); y = weight * (xf * rsqrt(var + eps)).to(x.dtype)
// is eight libtorch ops, each a pass over [T, hidden] (fp32 copies of tens of megabytes in a 7B
// prefill) and each a dispatch of a few microseconds in a decode step, 65 times per forward. Every
// step but the mean is an elementwise IEEE operation whose result does not depend on the order of
// evaluation; the mean is libtorch 1.13's sum over the row (a cascade of vector accumulators, see
// rms_norm.cpp) divided by the row's length. The one-pass form repeats that sum's order, and is taken
// only where a check at first use found it equal to libtorch's chain on this machine.
#pragma once

#include <ATen/ATen.h>

namespace cxr::detail {

// x [..., hidden] and weight [hidden]. bf16 CPU tensors, contiguous, take the one-pass form (when in
// use); everything else libtorch's chain itself.
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// The statistic alone, as rmsNorm computes it: the mean of the squares of each row of x [..., hidden],
// fp32 [..., 1], bit for bit x.to(kFloat).pow(2).mean(-1, keepdim) (the one-pass sum where rmsNorm
// takes it, libtorch's ops elsewhere). Far more sensitive to the sum's order than the normalised bf16
// output, where a different last bit of the mean rarely shows: the check at first use and the tests
// compare it.
at::Tensor meanOfSquares(const at::Tensor& x);

// Whether rmsNorm takes its one-pass form here (false: the CPU lacks AVX2, or its check at first use
// found libtorch summing in another order, e.g. with ATEN_CPU_CAPABILITY=avx512). Tests print it.
bool fusedRmsNormInUse();

}  // namespace cxr::detail
