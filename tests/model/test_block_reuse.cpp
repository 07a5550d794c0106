// The engine's CPU allocator (core/block_reuse.h): inside a ReuseLargeBlocks scope a freed block of
// 1 MiB or more serves the next request of its size (or up to a quarter smaller); smaller blocks, and
// outside scopes blocks under 4 MiB, are libtorch's default allocator's; blocks of 2 MiB and more are
// aligned to 2 MiB (huge pages); the last scope's end gives every kept
// block back; oneDNN's raw_allocate / raw_deallocate path works for both kinds; threads may share it.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "core/block_reuse.h"
#include "support/check.h"

using cxr::detail::blockReuseCounts;
using cxr::detail::ReuseLargeBlocks;

namespace {

constexpr int64_t kMiB = int64_t(1) << 20;

at::Tensor bytes(int64_t n) { return at::empty({n}, at::kByte); }

}  // namespace

int main() {
  cxr::detail::installBlockReuse();
  cxr::detail::installBlockReuse();  // a second load of a model installs nothing more

  {
    const auto before = blockReuseCounts();
    at::Tensor outside = bytes(2 * kMiB);
    outside.fill_(1);
    outside.reset();
    CHECK(blockReuseCounts().mapped == before.mapped && blockReuseCounts().keptBytes == 0,
          "outside a scope, a 2 MiB block is the default allocator's");
    at::Tensor kv = bytes(15 * kMiB);  // one layer's keys of the 7B KV cache
    kv.fill_(1);
    CHECK(blockReuseCounts().mapped == before.mapped + 1, "outside a scope, a 15 MiB block is mapped here");
    CHECK(reinterpret_cast<uintptr_t>(kv.data_ptr()) % (2 * kMiB) == 0,
          "aligned to 2 MiB, so that it can be backed by huge pages");
    kv.reset();
    CHECK(blockReuseCounts().keptBytes == 0, "and not kept when freed outside a scope");
  }

  {
    ReuseLargeBlocks scope;
    const auto start = blockReuseCounts();
    at::Tensor a = bytes(4 * kMiB);
    void* first = a.data_ptr();
    a.fill_(7);
    CHECK(blockReuseCounts().mapped == start.mapped + 1, "a first 4 MiB block is mapped fresh");
    a.reset();
    CHECK(blockReuseCounts().keptBytes == 4 * kMiB, "freed inside a scope, it is kept");
    at::Tensor b = bytes(4 * kMiB);
    CHECK(b.data_ptr() == first && blockReuseCounts().reused == start.reused + 1,
          "the next block of that size is the kept one");
    CHECK(blockReuseCounts().keptBytes == 0, "taken out of the kept list");
    b.reset();
    at::Tensor c = bytes(4 * kMiB - 300 * 1024);
    CHECK(c.data_ptr() == first, "a request up to a quarter smaller takes the kept block too");
    c.fill_(3);  // all of the request is writable
    c.reset();
    at::Tensor d = bytes(kMiB);
    CHECK(d.data_ptr() != first && blockReuseCounts().keptBytes == 4 * kMiB,
          "a request four times smaller maps its own block, the large one stays kept");
    const auto beforeSmall = blockReuseCounts();
    at::Tensor small = bytes(64 * 1024);
    small.reset();
    CHECK(blockReuseCounts().mapped == beforeSmall.mapped && blockReuseCounts().keptBytes == beforeSmall.keptBytes,
          "blocks under 1 MiB stay with the default allocator");

    // oneDNN's buffers come through raw_allocate and go back through raw_deallocate.
    c10::Allocator* cpu = c10::GetAllocator(c10::DeviceType::CPU);
    void* rawLarge = cpu->raw_allocate(size_t(8 * kMiB));
    void* rawSmall = cpu->raw_allocate(100);
    static_cast<char*>(rawLarge)[8 * kMiB - 1] = 1;
    static_cast<char*>(rawSmall)[99] = 1;
    const int64_t keptBefore = blockReuseCounts().keptBytes;
    cpu->raw_deallocate(rawLarge);
    cpu->raw_deallocate(rawSmall);
    CHECK(blockReuseCounts().keptBytes == keptBefore + 8 * kMiB, "a raw large block is kept like a tensor's");

    {
      ReuseLargeBlocks inner;
    }
    CHECK(blockReuseCounts().keptBytes > 0, "the end of a nested scope keeps the blocks");

    // Several threads allocating and freeing at once (the engine's worker beside the GUI's thread).
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([t] {
        for (int i = 0; i < 200; ++i) {
          at::Tensor x = bytes((1 + (i + t) % 5) * kMiB);
          x.data_ptr<uint8_t>()[0] = uint8_t(i);
        }
      });
    for (std::thread& th : threads) th.join();
    CHECK(blockReuseCounts().keptBytes <= int64_t(2) << 30, "what is kept stays within 2 GiB");
    d.reset();
  }
  CHECK(blockReuseCounts().keptBytes == 0, "the last scope's end gives every kept block back");

  {
    at::Tensor survivor;
    {
      ReuseLargeBlocks scope;
      survivor = bytes(2 * kMiB);
      survivor.fill_(5);
    }
    CHECK(survivor.sum().item<int64_t>() == 5 * 2 * kMiB, "a block made in a scope outlives it intact");
    survivor.reset();  // freed outside any scope: returned at once
    CHECK(blockReuseCounts().keptBytes == 0, "a block freed outside scopes is not kept");
  }
  return check::finish("test_block_reuse");
}
