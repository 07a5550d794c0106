// The shared image prefix's KV cache (prefix_cache.h).
#include "core/prefix_cache.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace cxr::detail {

size_t PrefixCache::prefixLength(const std::vector<int32_t>& ids) {
  const auto at = std::find(ids.begin(), ids.end(), kImageTokenId);
  return at == ids.end() ? 0 : size_t(at - ids.begin()) + 1;
}

void PrefixCache::setCapacity(int images) {
  capacity_ = std::max(0, images);
  trim();
}

int64_t PrefixCache::bytes() const {
  int64_t total = 0;
  for (const Entry& e : entries_)
    for (const auto* kv : {&e.k, &e.v})
      for (const at::Tensor& t : *kv) total += int64_t(t.numel()) * int64_t(t.element_size());
  return total;
}

PrefixCache::Entry* PrefixCache::find(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids,
                                      size_t n) {
  Entry* found = nullptr;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const std::shared_ptr<const EncodedImage> held = it->image.lock();
    if (!held) {  // nobody can ask about that image again
      it = entries_.erase(it);
      continue;
    }
    if (!found && image && held == image && n <= ids.size() && it->ids.size() == n &&
        std::equal(it->ids.begin(), it->ids.end(), ids.begin())) {
      entries_.splice(entries_.begin(), entries_, it++);
      found = &entries_.front();
      continue;
    }
    ++it;
  }
  return found;
}

bool PrefixCache::contains(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n) {
  return find(image, ids, n) != nullptr;
}

int PrefixCache::restore(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n,
                         KvCache& cache) {
  if (capacity_ == 0 || n == 0) return 0;
  const Entry* e = find(image, ids, n);
  if (!e || cache.capacity < e->positions || cache.k.size() != e->k.size()) return 0;
  c10::InferenceMode guard;
  for (size_t l = 0; l < e->k.size(); ++l) {
    cache.k[l].narrow(1, 0, e->positions).copy_(e->k[l]);
    cache.v[l].narrow(1, 0, e->positions).copy_(e->v[l]);
  }
  return e->positions;
}

void PrefixCache::store(const std::shared_ptr<const EncodedImage>& image, const std::vector<int32_t>& ids, size_t n,
                        const KvCache& cache, int positions) {
  if (capacity_ == 0 || !image || n == 0 || n > ids.size() || positions <= 0 || positions > cache.capacity) return;
  if (find(image, ids, n)) return;
  // Make room first, so that memory never holds more than `capacity` entries.
  while (!entries_.empty() && int(entries_.size()) >= capacity_) entries_.pop_back();
  c10::InferenceMode guard;
  Entry e;
  e.image = image;
  e.ids.assign(ids.begin(), ids.begin() + std::ptrdiff_t(n));
  e.positions = positions;
  for (size_t l = 0; l < cache.k.size(); ++l) {
    e.k.push_back(cache.k[l].narrow(1, 0, positions).clone());  // [kvh, positions, hd]
    e.v.push_back(cache.v[l].narrow(1, 0, positions).clone());
  }
  entries_.push_front(std::move(e));
  trim();
}

void PrefixCache::trim() {
  while (int(entries_.size()) > capacity_) entries_.pop_back();
}

}  // namespace cxr::detail
