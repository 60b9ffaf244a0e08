// host_buffer_cache.cc - reusing zeroed host buffers.
#include "block/host_buffer_cache.h"

#include <sys/mman.h>

namespace guplab {

HostBufferCache::~HostBufferCache() {
  for (const Buf& b : free_) munmap(b.p, b.bytes);
}

void* HostBufferCache::take(size_t bytes) {
  for (size_t i = 0; i < free_.size(); i++) {
    if (free_[i].bytes != bytes) continue;
    void* p = free_[i].p;
    free_.erase(free_.begin() + static_cast<long>(i));
    return p;
  }
  return nullptr;
}

void HostBufferCache::give(void* p, size_t bytes) {
  if (!p) return;
  if (bytes > kMaxBytes || free_.size() >= kMaxCached) {
    munmap(p, bytes);
    return;
  }
  free_.push_back({p, bytes});
}

}  // namespace guplab
