// The engine's CPU allocator for libtorch (block_reuse.h says why).
#include "core/block_reuse.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace cxr::detail {

namespace {

constexpr size_t kLargeBytes = size_t(1) << 20;  // smaller blocks: glibc's heap reuses them already
// Outside scopes, blocks from this size on are mapped here too (not kept): the KV cache's, 15 MB per
// layer and kind at 7B, whose first touch (the image prefix copied into a new conversation's cache)
// cost 1.3 s in 4 KiB page faults on this VM.
constexpr size_t kHugeBytes = size_t(4) << 20;
constexpr size_t kMaxKeptBytes = size_t(2) << 30;
constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t(2) << 20;

// `bytes` (a multiple of kPage) of fresh memory; from 2 MiB on aligned to 2 MiB and advised as
// transparent huge pages, so that its first touch faults once per 2 MiB rather than per 4 KiB (the
// kernel's default THP mode, madvise, gives them only where asked; kernels before 6.7 do not align
// large anonymous mappings themselves). nullptr when the system has no memory for it.
void* mapFresh(size_t bytes) {
  const size_t slack = bytes >= kHugePage ? kHugePage : 0;
  void* raw = ::mmap(nullptr, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  if (!slack) return raw;
  const auto begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > begin) ::munmap(raw, aligned - begin);
  if (const size_t tail = begin + bytes + slack - (aligned + bytes); tail > 0)
    ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // advice: failure changes nothing
  return reinterpret_cast<void*>(aligned);
}

class BlockReuseAllocator final : public c10::Allocator {
 public:
  explicit BlockReuseAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kLargeBytes || (n < kHugeBytes && !reusing())) return fallback_->allocate(n);
    void* p = take((n + kPage - 1) / kPage * kPage);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_allocate / raw_deallocate (oneDNN's buffers through ideep) free every block with this.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void enter() {
    std::lock_guard lock(mutex_);
    ++scopes_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    if (--scopes_ > 0) return;
    for (const auto& [bytes, p] : kept_) ::munmap(p, bytes);
    kept_.clear();
    keptBytes_ = 0;
  }
  BlockReuseCounts counts() {
    std::lock_guard lock(mutex_);
    return {reused_, mapped_, int64_t(keptBytes_)};
  }

  static BlockReuseAllocator* instance;

 private:
  bool reusing() const {
    std::lock_guard lock(mutex_);
    return scopes_ > 0;
  }

  // A kept block of `bytes` (or up to a quarter more), else a fresh mapping.
  void* take(size_t bytes) const {
    {
      std::lock_guard lock(mutex_);
      auto it = kept_.lower_bound(bytes);
      if (it != kept_.end() && it->first <= bytes + bytes / 4) {
        void* p = it->second;
        live_[p] = it->first;
        keptBytes_ -= it->first;
        kept_.erase(it);
        ++reused_;
        return p;
      }
    }
    void* p = mapFresh(bytes);
    // Worded as libtorch's own allocator words it: the engine turns it into its out-of-memory sentence.
    TORCH_CHECK(p != nullptr, "DefaultCPUAllocator: can't allocate memory: you tried to allocate ", bytes,
                " bytes.");
    std::lock_guard lock(mutex_);
    live_[p] = bytes;
    ++mapped_;
    return p;
  }

  static void release(void* p) {
    BlockReuseAllocator& self = *instance;
    size_t bytes = 0;
    {
      std::lock_guard lock(self.mutex_);
      auto it = self.live_.find(p);
      if (it == self.live_.end()) {  // a raw block of the fallback's
        self.fallback_->raw_deleter()(p);
        return;
      }
      bytes = it->second;
      self.live_.erase(it);
      if (self.scopes_ > 0 && self.keptBytes_ + bytes <= kMaxKeptBytes) {
        self.kept_.emplace(bytes, p);
        self.keptBytes_ += bytes;
        return;
      }
    }
    ::munmap(p, bytes);
  }

  c10::Allocator* fallback_;
  mutable std::mutex mutex_;
  int scopes_ = 0;
  mutable std::unordered_map<void*, size_t> live_;  // our blocks in use -> their mapped size
  mutable std::multimap<size_t, void*> kept_;       // freed blocks by size, while a scope lives
  mutable size_t keptBytes_ = 0;
  mutable int64_t reused_ = 0, mapped_ = 0;
};

BlockReuseAllocator* BlockReuseAllocator::instance = nullptr;

}  // namespace

void installBlockReuse() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never destroyed: tensors may be freed during the process's exit, after static destructors.
    BlockReuseAllocator::instance = new BlockReuseAllocator(c10::GetDefaultCPUAllocator());
    c10::SetCPUAllocator(BlockReuseAllocator::instance, /*priority=*/100);
  });
}

ReuseLargeBlocks::ReuseLargeBlocks() : counted_(BlockReuseAllocator::instance != nullptr) {
  if (counted_) BlockReuseAllocator::instance->enter();
}
ReuseLargeBlocks::~ReuseLargeBlocks() {
  if (counted_) BlockReuseAllocator::instance->leave();
}

BlockReuseCounts blockReuseCounts() {
  return BlockReuseAllocator::instance ? BlockReuseAllocator::instance->counts() : BlockReuseCounts{};
}

}  // namespace cxr::detail
