// Matrix-vector product for the decode step on CPU: y = W x with W [N, K] and x [K] in bf16,
// fp32 accumulation (AVX-512 BF16 dot products), y rounded to bf16 (nearest even), exactly the
// contract of a bf16 at::linear. Why: for one position at::linear reaches only about half of the
// memory bandwidth on this machine, and decoding is nothing but these products over 13 GB.
#pragma once

#include <cstdint>

namespace cxr::detail {

// True when the CPU has AVX-512 BF16 (otherwise callers use at::linear).
bool gemvBf16Available();
// Rows [0, N) are split over the kernel threads (thread_pool.h).
void gemvBf16(const uint16_t* w, const uint16_t* x, uint16_t* y, int64_t n, int64_t k);

// One product y = W x of gemvBf16Several: W [n, k] (the shared k), y [n].
struct GemvTarget {
  const uint16_t* w;
  uint16_t* y;
  int64_t n;
};
// Several products of the same x in ONE parallel call, their rows split over the threads as if the
// matrices were stacked (q, k and v; gate and up): each call is a point where every thread waits for
// the slowest, which on a loaded machine is the one the scheduler took the core from.
void gemvBf16Several(const GemvTarget* targets, int count, const uint16_t* x, int64_t k);

}  // namespace cxr::detail
