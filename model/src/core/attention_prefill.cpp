#include "core/attention_prefill.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/fused_elementwise.h"
#include "core/products.h"

namespace cxr::detail {

// Heads are processed in slices whose fp32 score block stays within 8 MiB (one head for the 1121-position
// report prompt or the 1025-token vision tower): such blocks stay in the L3 cache and are reused from
// the malloc heap, whereas blocks above glibc's 32 MiB mmap threshold come back as fresh pages on
// every slice. Measured on the 7B prefill shapes: 114 ms per layer against 245 ms with 64 MiB slices.
//
// Where the bf16 products pad their operands to multiples of 16 (products.h), q's rows and k's and
// v's positions are padded here, once per layer, instead of by every head's two products (each head
// copied q, k, v, its score block and its probabilities into padded tensors and its result out of
// one). The padded key columns get -inf scores, so their probabilities are exactly 0: the softmax of
// the real columns is bit for bit the unpadded one (the same maximum, and sums that only gain +0
// terms), and the product with V sees the zero columns matmulProduct's own padding gave it. The padded
// query rows attend to the real keys unmasked and are cut from the result. Measured on the 7B prefill
// shapes (32 heads, 1069 to 1121 positions, random operands): 80-88 ms a layer against 107-143; in the
// engine (1117 positions, three interleaved pairs) the prefill's time outside oneDNN's products went
// from 3.88-4.28 s to 3.36-4.01 s.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                     const at::Tensor& mask) {
  const int64_t heads = q.size(0), rows = q.size(1), keys = k.size(1);
  const bool padOnce = padsBf16Products(q, rows);
  const int64_t rowsPadded = padOnce ? bf16ProductRows(rows) : rows;
  const int64_t keysPadded = padOnce ? bf16ProductRows(keys) : keys;
  const at::Tensor qp = rowsPadded > rows ? at::constant_pad_nd(q, {0, 0, 0, rowsPadded - rows}) : q;
  const at::Tensor kp = keysPadded > keys ? at::constant_pad_nd(k, {0, 0, 0, keysPadded - keys}) : k;
  const at::Tensor vp = keysPadded > keys ? at::constant_pad_nd(v, {0, 0, 0, keysPadded - keys}) : v;
  const int64_t perSlice =
      std::max<int64_t>(1, (int64_t(8) << 20) / std::max<int64_t>(1, rowsPadded * keysPadded * 4));
  // Every slice's product with V is written into its rows of one result (a fresh block per head, kept
  // until a final concatenation, cost the 7B prefill 0.4 s: with heads 12 to 32 of every layer the
  // product ran at half its rate, on newly faulted-in pages).
  at::Tensor out = at::empty({heads, rowsPadded, q.size(2)}, q.options());
  for (int64_t h0 = 0; h0 < heads; h0 += perSlice) {
    const int64_t n = std::min(perSlice, heads - h0);
    at::Tensor qs = qp.narrow(0, h0, n), ks = kp.narrow(0, h0, n), vs = vp.narrow(0, h0, n);
    // softmax of the scaled, masked scores (padded keys -inf), in q's dtype: [n, rows', keys']
    at::Tensor probs =
        attentionProbabilities(matmulProduct(qs, ks.transpose(1, 2)), scale, mask, rows, keys, q.scalar_type());
    matmulProductInto(out.narrow(0, h0, n), probs, vs);  // [n, rows', hd]
  }
  return rowsPadded > rows ? out.narrow(1, 0, rows) : out;
}

}  // namespace cxr::detail
