// The decode kernels' thread pool (model/src/core/thread_pool.h):
// - every index of [0, n) is visited exactly once, for many sizes and grains, with 1 to 4 threads;
// - every range handed to the body is at least `grain` long, except the last one;
// - the work really spreads over several threads when there is more than one;
// - an exception thrown by the body reaches the caller, and the pool works normally afterwards;
// - a parallelFor inside a body runs serially on that body's thread (no deadlock, all indices once);
// - two threads calling at once both finish with every index visited once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "support/check.h"

using cxr::detail::parallelFor;

namespace {

// Runs parallelFor over [0, n) and checks the exactly-once and grain properties.
void checkCoverage(int threads, int64_t n, int64_t grain) {
  cxr::detail::setKernelThreads(threads);
  std::vector<std::atomic<int>> visits(static_cast<size_t>(n));
  std::atomic<int64_t> shortRanges{0};
  std::atomic<int64_t> endsAtN{0};
  parallelFor(n, grain, [&](int64_t begin, int64_t end) {
    if (end - begin < grain && end != n) ++shortRanges;
    if (end == n) ++endsAtN;
    for (int64_t i = begin; i < end; ++i) visits[static_cast<size_t>(i)].fetch_add(1);
  });
  int64_t wrong = 0;
  for (const auto& v : visits) wrong += v.load() != 1;
  const std::string what = std::to_string(threads) + " threads, n=" + std::to_string(n) + ", grain " + std::to_string(grain);
  CHECK(wrong == 0, what + ": " + std::to_string(wrong) + " indices not visited exactly once");
  CHECK(shortRanges.load() == 0, what + ": " + std::to_string(shortRanges.load()) + " ranges but the last below the grain");
  CHECK(n == 0 || endsAtN.load() == 1, what + ": the last index is in exactly one range");
}

}  // namespace

int main() {
  for (int threads : {1, 2, 3, 4})
    for (int64_t n : {0, 1, 2, 15, 16, 17, 100, 4096, 11008, 32000})
      for (int64_t grain : {1, 16, 1000}) checkCoverage(threads, n, grain);

  // Several threads take part when there are several (the body waits a little so that one thread
  // cannot finish everything before the others wake up).
  cxr::detail::setKernelThreads(2);
  CHECK(cxr::detail::kernelThreads() == 2, "the thread count is kept");
  std::mutex mutex;
  std::set<std::thread::id> seen;
  for (int attempt = 0; attempt < 20 && seen.size() < 2; ++attempt) {
    parallelFor(64, 1, [&](int64_t, int64_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard lock(mutex);
      seen.insert(std::this_thread::get_id());
    });
  }
  CHECK(seen.size() == 2, "2 kernel threads: the work ran on " + std::to_string(seen.size()) + " thread(s)");

  // An exception in a body comes back to the caller; the other ranges still run.
  for (int threads : {1, 2}) {
    cxr::detail::setKernelThreads(threads);
    std::atomic<int64_t> done{0};
    bool caught = false;
    try {
      parallelFor(1000, 1, [&](int64_t begin, int64_t end) {
        done += end - begin;
        if (begin <= 500 && 500 < end) throw std::runtime_error("index 500");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "index 500";
    }
    CHECK(caught, std::to_string(threads) + " threads: the body's exception reaches the caller");
    if (threads > 1) CHECK(done.load() == 1000, "the ranges without the exception still ran: " + std::to_string(done.load()));
    checkCoverage(threads, 5000, 16);  // and the pool still works
  }

  // Nested use: the inner call runs serially on the body's thread.
  cxr::detail::setKernelThreads(2);
  std::vector<std::atomic<int>> visits(100 * 50);
  std::atomic<int> innerOnOtherThread{0};
  parallelFor(100, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto outer = std::this_thread::get_id();
      parallelFor(50, 1, [&](int64_t b, int64_t e) {
        if (std::this_thread::get_id() != outer) ++innerOnOtherThread;
        for (int64_t j = b; j < e; ++j) visits[static_cast<size_t>(i * 50 + j)].fetch_add(1);
      });
    }
  });
  CHECK(std::all_of(visits.begin(), visits.end(), [](const auto& v) { return v.load() == 1; }),
        "nested calls visit every inner index exactly once");
  CHECK(innerOnOtherThread.load() == 0, "a nested call runs on the thread of the body that made it");

  // Two callers at once: one gets the pool, the other runs serially; both complete.
  std::vector<std::atomic<int>> a(20000), b(20000);
  auto fill = [](std::vector<std::atomic<int>>& v) {
    for (int round = 0; round < 50; ++round)
      parallelFor(int64_t(v.size()), 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) v[static_cast<size_t>(i)].fetch_add(1);
      });
  };
  std::thread other([&] { fill(b); });
  fill(a);
  other.join();
  CHECK(std::all_of(a.begin(), a.end(), [](const auto& v) { return v.load() == 50; }) &&
            std::all_of(b.begin(), b.end(), [](const auto& v) { return v.load() == 50; }),
        "two threads calling at once: every index visited once per call");

  return check::finish("test_thread_pool");
}
