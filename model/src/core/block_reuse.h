// Reuse of large tensor blocks during a prefill or an image's encoding.
//
// Why: a 7B prefill allocates and frees blocks of 5-90 MB per product and per elementwise op (the
// activations of 1,121 positions, fp32 copies, oneDNN's reordered weights). glibc serves each block
// above its mmap threshold (at most 32 MiB) with fresh pages and returns them on free, so every one of
// those blocks is page-faulted and zeroed again by the kernel: measured, a quarter of the bf16 prefill
// (40.9 s -> 30.2 s with mmap disabled in glibc) and half of the vision tower (3.9 s -> 2.0 s). glibc's
// own switches are process-wide and do not reach blocks above 64 MiB made on a thread other than
// the main one (the GUI's engine worker), so the engine installs libtorch's CPU allocator hook
// (c10::SetCPUAllocator) instead: inside a ReuseLargeBlocks scope, blocks of 1 MiB and more come from
// a list of freed blocks of the same size when one is there, and the scope's end gives every kept
// block back to the system, so that nothing stays resident between answers (the peak RSS targets
// are taken after a report). Outside scopes, blocks of 4 MiB and more (the KV cache's) are mapped
// here too but not kept. Fresh blocks of 2 MiB and more are advised as transparent huge pages: one
// fault per 2 MiB on first touch (the KV cache of a new conversation on an image, which the image's
// prefix is copied into, took 1.3 s of 4 KiB faults at 7B). Smaller blocks: libtorch's default.
#pragma once

#include <cstdint>

namespace cxr::detail {

// Makes the engine's allocator libtorch's CPU allocator (once per process; later calls do nothing).
void installBlockReuse();

// While at least one lives (on any thread), freed blocks of 1 MiB and more are kept for reuse, up
// to 2 GiB; when the last one ends, kept blocks go back to the system.
class ReuseLargeBlocks {
 public:
  ReuseLargeBlocks();
  ~ReuseLargeBlocks();
  ReuseLargeBlocks(const ReuseLargeBlocks&) = delete;
  ReuseLargeBlocks& operator=(const ReuseLargeBlocks&) = delete;

 private:
  bool counted_ = false;  // false before installBlockReuse()
};

// For tests and bench: blocks handed out from the kept list, blocks mapped fresh, bytes kept now.
struct BlockReuseCounts {
  int64_t reused = 0, mapped = 0, keptBytes = 0;
};
BlockReuseCounts blockReuseCounts();

}  // namespace cxr::detail
