// host_buffer_cache.h - HostBufferCache: zeroed host buffers (a ramdisk's storage and its
// per-sector write generations) that devices of machines booted one after another on one
// host thread reuse, as BootCache reuses their RAM (machine/boot_cache.h). Mapping a
// fresh buffer, faulting it in and unmapping it again (a TLB shootdown) costs more than
// a short sim run of the explorer.
//
// A buffer is given back only with every byte zero again (its user zeroes what it wrote),
// so a buffer from take() reads exactly as a fresh anonymous mapping does.
//
// Threading: one host thread at a time (not locked); outlives every device using it.
#pragma once
#include <cstddef>
#include <vector>

namespace guplab {

class HostBufferCache {
 public:
  /** Buffers larger than this are never cached (a big fio ramdisk is not worth keeping). */
  static constexpr size_t kMaxBytes = 64ull << 20;
  static constexpr size_t kMaxCached = 8;

  HostBufferCache() = default;
  ~HostBufferCache();
  HostBufferCache(const HostBufferCache&) = delete;
  HostBufferCache& operator=(const HostBufferCache&) = delete;

  /**
   * take() - a cached buffer of exactly @bytes, every byte zero, or nullptr when the
   * cache has none (map a fresh one then). The caller owns it until give().
   */
  void* take(size_t bytes);
  /**
   * give() - return @p, an mmap'ed buffer of @bytes. Kept for a later take() when
   * there is room and @bytes <= kMaxBytes, unmapped otherwise.
   * REQUIRES: every byte of @p is zero.
   */
  void give(void* p, size_t bytes);
  size_t cached() const { return free_.size(); }

 private:
  struct Buf {
    void* p = nullptr;
    size_t bytes = 0;
  };
  std::vector<Buf> free_;
};

}  // namespace guplab
