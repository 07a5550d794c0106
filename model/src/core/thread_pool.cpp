#include "core/thread_pool.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/parallel.h"

namespace cxr::detail {

namespace {

using Clock = std::chrono::steady_clock;

// How long a thread spins on a flag before it sleeps on it (a futex). Between two regions of a decode
// step the calling thread runs small libtorch ops for 10-100 us: a worker spinning that long starts
// the next region at once, where a sleeping one costs a wake-up. Longer spins take the core from
// whoever else needs it (on a loaded machine: the thread everyone waits for).
constexpr std::chrono::microseconds kSpin{50};
// Chunks per thread and call: a descheduled thread delays a call by at most one chunk of work.
constexpr int64_t kChunksPerThread = 32;

// Spins until pred() holds (true) or kSpin has passed (false).
template <typename Pred>
bool spinUntil(Pred pred) {
  const auto deadline = Clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    if (pred()) return true;
    __builtin_ia32_pause();
    if (i % 64 == 0 && Clock::now() >= deadline) return false;
  }
}

thread_local bool tlsInsideBody = false;

// Marks the thread as running a body (a parallelFor inside it runs serially) for its lifetime.
class InsideBody {
 public:
  InsideBody() : previous_(tlsInsideBody) { tlsInsideBody = true; }
  ~InsideBody() { tlsInsideBody = previous_; }
  InsideBody(const InsideBody&) = delete;
  InsideBody& operator=(const InsideBody&) = delete;

 private:
  bool previous_;
};

class Pool {
 public:
  ~Pool() {
    stopping_.store(true, std::memory_order_release);
    wake_.fetch_add(1, std::memory_order_acq_rel);
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  void setThreads(int threads) {
    std::lock_guard lock(callMutex_);
    threads_.store(std::max(1, threads), std::memory_order_relaxed);
  }
  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void run(int64_t n, int64_t grain, void* body, pool_internal::ChunkFunction call) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    std::unique_lock lock(callMutex_, std::try_to_lock);
    const int threads = threads_.load(std::memory_order_relaxed);
    if (!lock.owns_lock() || tlsInsideBody || threads <= 1 || n <= grain) {
      InsideBody inside;
      call(body, 0, n);
      return;
    }
    ensureWorkers(threads - 1);
    // The job, published by the release store of claim_ below (workers read it only after claiming).
    body_ = body;
    call_ = call;
    n_ = n;
    chunkSize_ = std::max(grain, (n + threads * kChunksPerThread - 1) / (threads * kChunksPerThread));
    chunks_ = (n + chunkSize_ - 1) / chunkSize_;
    error_ = nullptr;
    failed_.store(false, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    activeWorkers_.store(threads - 1, std::memory_order_relaxed);
    const uint32_t generation = ++generation_;
    claim_.store((uint64_t(generation) << 32) | uint64_t(chunks_), std::memory_order_release);
    wake_.store(generation, std::memory_order_release);
    wake_.notify_all();

    work(generation);
    const auto chunks = uint32_t(chunks_);
    if (!spinUntil([&] { return finished_.load(std::memory_order_acquire) == chunks; })) {
      for (uint32_t f = finished_.load(std::memory_order_acquire); f != chunks; f = finished_.load(std::memory_order_acquire))
        finished_.wait(f, std::memory_order_acquire);
    }
    if (failed_.load(std::memory_order_acquire)) {
      std::exception_ptr error = std::move(error_);
      error_ = nullptr;
      std::rethrow_exception(error);
    }
  }

 private:
  // Takes chunks of `generation` until none is left (a late thread finds another generation: stops).
  void work(uint32_t generation) {
    uint64_t v = claim_.load(std::memory_order_acquire);
    while (uint32_t(v >> 32) == generation && uint32_t(v) != 0) {
      if (!claim_.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      const int64_t index = chunks_ - int64_t(uint32_t(v));
      const int64_t begin = index * chunkSize_, end = std::min(n_, begin + chunkSize_);
      try {
        InsideBody inside;
        call_(body_, begin, end);
      } catch (...) {
        if (!failed_.exchange(true, std::memory_order_acq_rel)) error_ = std::current_exception();
      }
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == uint32_t(chunks_)) finished_.notify_one();
      v = claim_.load(std::memory_order_acquire);
    }
  }

  void ensureWorkers(int count) {
    while (int(workers_.size()) < count) {
      const int index = int(workers_.size());
      const uint32_t seen = wake_.load(std::memory_order_acquire);
      workers_.emplace_back([this, index, seen] { workerLoop(index, seen); });
    }
  }

  void workerLoop(int index, uint32_t seen) {
    // libtorch ops inside a body (the softmax of one-position attention) must not open an OpenMP
    // region of their own: this thread's OpenMP team is one thread. The lazy initialisation first,
    // which would otherwise set it back to the process's count at the first parallel_for.
    at::internal::lazy_init_num_threads();
    omp_set_num_threads(1);
    for (;;) {
      uint32_t generation = wake_.load(std::memory_order_acquire);
      if (generation == seen &&
          !spinUntil([&] { return (generation = wake_.load(std::memory_order_acquire)) != seen; })) {
        wake_.wait(seen, std::memory_order_acquire);
        generation = wake_.load(std::memory_order_acquire);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = generation;
      if (index < activeWorkers_.load(std::memory_order_relaxed)) work(generation);
    }
  }

  std::mutex callMutex_;  // one call at a time; held for the whole call
  std::atomic<int> threads_{1};
  std::vector<std::thread> workers_;
  std::atomic<int> activeWorkers_{0};
  std::atomic<bool> stopping_{false};
  uint32_t generation_ = 0;               // the last call's number (written under callMutex_)
  std::atomic<uint32_t> wake_{0};         // workers sleep until it changes
  std::atomic<uint64_t> claim_{0};        // generation << 32 | chunks not yet taken
  std::atomic<uint32_t> finished_{0};     // chunks done in this call
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;              // the first exception of this call
  void* body_ = nullptr;
  pool_internal::ChunkFunction call_ = nullptr;
  int64_t n_ = 0, chunkSize_ = 1, chunks_ = 0;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void setKernelThreads(int threads) { pool().setThreads(threads); }
int kernelThreads() { return pool().threads(); }

namespace pool_internal {
void run(int64_t n, int64_t grain, void* body, ChunkFunction call) { pool().run(n, grain, body, call); }
}  // namespace pool_internal

}  // namespace cxr::detail
