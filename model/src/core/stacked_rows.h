// Several matrices' rows treated as one stacked range, for kernels that run several products of the
// same input in ONE parallel call (q, k and v; gate and up): thread_pool.h says why one call beats
// three. No torch; header only.
#pragma once

#include <algorithm>
#include <cstdint>

namespace cxr::detail {

// For the stacked rows [begin, end) of targets[0..count) (each with a row count `n`, stacked in
// order), calls visit(target, lo, hi) for each target's share, rows [lo, hi) of that target.
template <typename Target, typename Visit>
void forEachStackedPiece(const Target* targets, int count, int64_t begin, int64_t end, const Visit& visit) {
  int64_t first = 0;  // the stacked row index of targets[t]'s row 0
  for (int t = 0; t < count && first < end; first += targets[t].n, ++t) {
    const int64_t lo = std::max(begin, first) - first, hi = std::min(end, first + targets[t].n) - first;
    if (lo < hi) visit(targets[t], lo, hi);
  }
}

template <typename Target>
int64_t stackedRows(const Target* targets, int count) {
  int64_t total = 0;
  for (int t = 0; t < count; ++t) total += targets[t].n;
  return total;
}

// For rows [lo, hi) of one target and `positions` inputs, calls visit(r0, r1, p) so that every
// position passes over a tile of rows [r0, r1) before the next tile: the kernels for several positions
// (gemvBf16Positions, gemvQuantPositions) read each weight row from memory once for all positions,
// the tile staying in the core's cache meanwhile. A tile holds about kGemvTileBytes of weights (16 to
// 256 KiB made no difference on Zen 5 at 17 positions); one position takes the whole range at once.
constexpr int64_t kGemvTileBytes = int64_t(64) << 10;
template <typename Visit>
void forEachTileAndPosition(int64_t lo, int64_t hi, int64_t rowBytes, int64_t positions, const Visit& visit) {
  const int64_t tileRows =
      positions == 1 ? hi - lo : std::max<int64_t>(1, kGemvTileBytes / std::max<int64_t>(1, rowBytes));
  for (int64_t r0 = lo; r0 < hi; r0 += tileRows) {
    const int64_t r1 = std::min(hi, r0 + tileRows);
    for (int64_t p = 0; p < positions; ++p) visit(r0, r1, p);
  }
}

}  // namespace cxr::detail
