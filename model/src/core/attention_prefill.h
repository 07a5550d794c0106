// The softmax attention of many positions at once (a prefill, the vision tower's tokens) in libtorch
// operations, through the routed matrix products (products.h). One position against the KV cache
// (a decode step) has its own kernels: attention_decode.h.
#pragma once

#include <ATen/ATen.h>

namespace cxr::detail {

// q: [kvh, G*T, hd] (G query heads per kv head, grouped head-major), k, v: [kvh, L, hd], mask:
// [G*T, L] additive fp32 (0 or -inf) or undefined; returns [kvh, G*T, hd] in q's dtype. Scores
// q.k^T in the compute dtype, then scaled, masked and softmaxed in fp32, probabilities rounded to the
// compute dtype before the product with V (spec 6.2).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                     const at::Tensor& mask);

}  // namespace cxr::detail
