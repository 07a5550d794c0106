// Matrix-vector product for the decode step on CPU: y = W x with W [N, K] and x [K] in bf16,
// fp32 accumulation, y rounded to bf16 (nearest even), exactly the contract of a bf16 at::linear.
// Why: for one position at::linear reaches only about half of the memory bandwidth on this machine
// (and without AVX-512 it runs ATen's generic bf16 GEMM), and decoding is nothing but these
// products over 13 GB. Two variants, chosen by the CPU level (cpu_level.h): AVX-512 BF16 dot
// products, and AVX2 + FMA on bf16 widened to fp32 by a shift.
#pragma once

#include <cstdint>

#include "core/cpu_level.h"

namespace cxr::detail {

// True when the CPU runs one of the variants (otherwise callers use at::linear).
bool gemvBf16Available();
// Rows [0, N) are split over the kernel threads (thread_pool.h). `level` picks the variant (tests
// run both); the CPU must have it.
void gemvBf16(const uint16_t* w, const uint16_t* x, uint16_t* y, int64_t n, int64_t k, CpuLevel level = cpuLevel());

// One product y = W x of gemvBf16Several: W [n, k] (the shared k), y [n].
struct GemvTarget {
  const uint16_t* w;
  uint16_t* y;
  int64_t n;
};
// Several products of the same x in ONE parallel call, their rows split over the threads as if the
// matrices were stacked (q, k and v; gate and up): each call is a point where every thread waits for
// the slowest, which on a loaded machine is the one the scheduler took the core from.
void gemvBf16Several(const GemvTarget* targets, int count, const uint16_t* x, int64_t k,
                     CpuLevel level = cpuLevel());

// The same products for a few positions at once: x [positions, k], each target's y [positions, n]
// (row-major). Every result is bit for bit the one gemvBf16 gives that position alone (the same
// kernel on the same row), so a position's numbers do not depend on how many came with it; but each
// weight row comes from memory once for all positions: the rows are taken in tiles that stay in the
// core's cache while every position passes over them. For the few positions of a prompt after a
// kept image prefix, or a follow-up question, where a GEMM (oneDNN) spends most of its time
// reordering the weights.
void gemvBf16Positions(const GemvTarget* targets, int count, const uint16_t* x, int64_t positions, int64_t k,
                       CpuLevel level = cpuLevel());
// Up to how many positions a bf16 product takes gemvBf16Positions rather than a GEMM. At the AVX-512
// level one (the decode step): oneDNN's bf16 GEMM was faster from 8 positions on, and as fast at 4,
// on 7B layer shapes (2 threads, Zen 5). At the AVX2 level 24: a 7B text prefill of 24 positions took
// 3.20-3.32 s against 3.68-3.78 s through the fp32 GEMM on widened weights, of 12 positions 1.8-2.2 s
// against 2.8 s (docs/performance.md, "Few positions").
int64_t gemvBf16FewPositions(CpuLevel level = cpuLevel());

}  // namespace cxr::detail
