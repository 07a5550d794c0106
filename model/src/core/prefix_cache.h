// The KV cache of the shared image prefix (issue 9). Every prompt on an image starts with the same
// positions: BOS, the system prompt, the template's "[INST] <<SYS>>...", and the image's rows
// (ids up to and including the -200 placeholder; 1,066 positions for CXR-LLaVA v2's stock prompts).
// Report, differential and questions differ only after it. The model keeps the keys and values of
// that prefix for the last few encoded images, and a generation on one of them copies them into
// its own cache instead of recomputing them.
//
// Key: the EncodedImage object (a new encoding, e.g. of another window or frame, is another key;
// the entry holds only a weak reference, so an image nobody holds any more frees its entry at the
// next access) and the prefix ids themselves, which spell the system prompt: another system
// prompt is another key. The cache lives in Model::Impl, so another model never sees it.
//
// Memory: layers x 2 (K, V) x kvHeads x headDim x positions x element size per image; at the 7B
// shapes in bf16 32 x 2 x 4096 x 1066 x 2 bytes = 559 MB (533 MiB). The capacity (images kept,
// least recently used dropped first) is LoadOptions::prefixCacheImages / Model::setPrefixCacheImages.
//
// Not thread-safe: one owner thread, like the Model it belongs to.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "core/engine_internal.h"

namespace cxr::detail {

class PrefixCache {
 public:
  // The number of ids of the shared prefix of `ids`: through the image placeholder; 0 without one.
  static size_t prefixLength(const std::vector<int32_t>& ids);

  // Images kept (0 disables the cache and frees it). Shrinking drops the least recently used.
  void setCapacity(int images);
  int capacity() const { return capacity_; }
  // Bytes held by the stored keys and values.
  int64_t bytes() const;
  int entries() const { return int(entries_.size()); }

  // Whether the prefix `ids[0, n)` on `image` is stored (marks it as used).
  bool contains(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n);
  // Copies the stored prefix `ids[0, n)` on `image` into positions [0, P) of `cache` (whose
  // capacity must hold them) and returns P; 0 when it is not stored.
  int restore(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n,
              KvCache& cache);
  // Stores positions [0, positions) of `cache` as the prefix `ids[0, n)` on `image` (a copy),
  // unless it is stored already; drops the least recently used entries beyond the capacity.
  void store(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n,
             const KvCache& cache, int positions);

 private:
  struct Entry {
    std::weak_ptr<const EncodedImage> image;
    std::vector<int32_t> ids;  // the prefix ids, the image placeholder last
    int positions = 0;
    std::vector<at::Tensor> k, v;  // per layer [kvh, positions, hd]
  };
  // The live entry for (image, ids[0, n)), moved to the front; entries of released images are dropped.
  Entry* find(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n);
  void trim();

  std::list<Entry> entries_;  // most recently used first
  int capacity_ = 2;
};

}  // namespace cxr::detail
