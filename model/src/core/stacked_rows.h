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

}  // namespace cxr::detail
