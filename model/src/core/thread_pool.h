// The engine's own worker threads for the decode step's kernels (the gemv, one-position attention)
// and the weight-read probe that measures them. Why not OpenMP's: a decode step is ~200 short
// parallel regions (a few ms each at 7B), and an OpenMP region ends at a barrier where every thread
// waits for every other. With another program busy on one core, one of our threads is descheduled
// for a time slice now and then, and the whole step waits for it at each barrier (7B decode fell to
// 26-30 % of its idle speed beside a one-core busy loop, the tiny model to 2 %). Here a call's range is
// cut into many more chunks than threads, taken from a shared counter: a descheduled thread holds
// at most the one chunk it started, the others take the rest, and a thread that waits for the last
// chunk spins only briefly before it sleeps, leaving its core to the thread it waits for.
#pragma once

#include <cstdint>

namespace cxr::detail {

// How many threads (the calling one included) parallelFor uses from now on; 1 or less: every call
// runs on the calling thread. Model::load sets it with libtorch's intra-op thread count.
void setKernelThreads(int threads);
int kernelThreads();

namespace pool_internal {
using ChunkFunction = void (*)(void* body, int64_t begin, int64_t end);
void run(int64_t n, int64_t grain, void* body, ChunkFunction call);
}  // namespace pool_internal

// Calls body(begin, end) on disjoint ranges that together cover [0, n) exactly once, each at least
// `grain` long (but the last), on the pool's threads and the calling one; returns when all are done.
// An exception thrown by `body` is rethrown here (the first one; the other ranges still run). A call
// from inside a body, or while another thread's call runs, runs serially on the calling thread.
template <typename Body>
void parallelFor(int64_t n, int64_t grain, const Body& body) {
  pool_internal::run(n, grain, const_cast<void*>(static_cast<const void*>(&body)),
                     [](void* b, int64_t begin, int64_t end) { (*static_cast<const Body*>(b))(begin, end); });
}

}  // namespace cxr::detail
