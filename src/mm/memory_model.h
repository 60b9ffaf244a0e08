// memory_model.h - physical memory: the arena of page frames and the mem_map.
//
// RAM is one mmap'ed arena (2 MiB aligned, so THP frames are host-huge-page aligned);
// a page frame is 4 KiB of it. mem_map, the array of struct page, sits in a separate
// region aligned to kMemMapAlign, right after a small header; so from any struct page
// the header (and with it the pfn, the frame address and the owning Machine) is found
// with one mask, with no global table. pfn <-> page <-> address are O(1).
//
// Threading: immutable after construction, but for mark_allocated() (atomic).
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "mm/mm_types.h"

namespace guplab {

class Machine;

inline constexpr uintptr_t kMemMapAlign = 1ul << 30;  // at most 16M pages (64 GiB) a machine

/** The page at the start of a mem_map region. */
struct MemMapHeader {
  Machine* machine;
  char* arena;
  page* mem_map;
  unsigned long nr_pages;
};

/**
 * PhysMemCache - host mappings of RAM arenas and mem_maps that machines booted one
 * after another on one host thread reuse (an explorer boots thousands): mapping and
 * faulting in a fresh arena costs more than a short sim run. A machine that boots from
 * the cache sees what a fresh mapping would show: every frame the previous machine
 * allocated was zeroed when it gave the mapping back. The struct pages are not
 * constructed here, in either case: zone_init() initializes each one (as the kernel's
 * memmap init does), and every pfn belongs to a zone.
 *
 * Threading: one host thread at a time (not locked); outlives every PhysMem using it.
 */
class PhysMemCache {
 public:
  PhysMemCache() = default;
  ~PhysMemCache();
  PhysMemCache(const PhysMemCache&) = delete;
  PhysMemCache& operator=(const PhysMemCache&) = delete;
  size_t cached() const { return free_.size(); }

 private:
  friend class PhysMem;
  struct Mapping {
    uint64_t ram_bytes = 0;
    void* region = nullptr;
    size_t region_len = 0;
    void* arena_map = nullptr;
    size_t arena_len = 0;
  };
  static constexpr size_t kMaxCached = 4;
  std::vector<Mapping> free_;
};

class PhysMem {
 public:
  /**
   * REQUIRES: ram_bytes is a multiple of 2 MiB and at most 64 GiB. With @cache, the
   * mappings come from it when it has a pair of this size, and go back to it after.
   */
  PhysMem(Machine* machine, uint64_t ram_bytes, PhysMemCache* cache = nullptr);
  ~PhysMem();
  PhysMem(const PhysMem&) = delete;
  PhysMem& operator=(const PhysMem&) = delete;

  page* mem_map() const { return hdr_->mem_map; }
  char* arena() const { return hdr_->arena; }
  unsigned long nr_pages() const { return hdr_->nr_pages; }
  uint64_t bytes() const { return hdr_->nr_pages << PAGE_SHIFT; }
  bool pfn_valid(unsigned long pfn) const { return pfn < hdr_->nr_pages; }
  page* pfn_to_page(unsigned long pfn) const { return hdr_->mem_map + pfn; }
  /** contains() - is @addr inside this machine's RAM? */
  bool contains(const void* addr) const {
    auto a = reinterpret_cast<uintptr_t>(addr), b = reinterpret_cast<uintptr_t>(hdr_->arena);
    return a >= b && a < b + bytes();
  }
  unsigned long virt_to_pfn(const void* addr) const {
    return (reinterpret_cast<uintptr_t>(addr) - reinterpret_cast<uintptr_t>(hdr_->arena)) >> PAGE_SHIFT;
  }
  /**
   * mark_allocated() - frames [@pfn, @pfn + 2^@order) were handed out (the page
   * allocator calls it), so they are zeroed before a cached arena is reused. Free of
   * cost without a cache. Any task.
   */
  void mark_allocated(unsigned long pfn, unsigned order) {
    if (used_.empty()) return;
    for (unsigned long i = pfn >> 6, last = (pfn + (1ul << order) - 1) >> 6; i <= last; i++) {
      const unsigned long lo = i == (pfn >> 6) ? (pfn & 63) : 0;
      const unsigned long hi = i == last ? ((pfn + (1ul << order) - 1) & 63) : 63;
      const uint64_t bits = (hi == 63 ? ~0ull : ((1ull << (hi + 1)) - 1)) & ~((1ull << lo) - 1);
      std::atomic_ref<uint64_t>(used_[i]).fetch_or(bits, std::memory_order_relaxed);
    }
  }

 private:
  void map_fresh(uint64_t ram_bytes);
  PhysMemCache* cache_ = nullptr;
  std::vector<uint64_t> used_;  // with a cache: a bit per frame ever allocated
  void* region_ = nullptr;  // the header + mem_map mapping
  size_t region_len_ = 0;
  void* arena_map_ = nullptr;
  size_t arena_len_ = 0;
  MemMapHeader* hdr_ = nullptr;
};

inline const MemMapHeader* page_memmap_header(const page* p) {
  return reinterpret_cast<const MemMapHeader*>(reinterpret_cast<uintptr_t>(p) & ~(kMemMapAlign - 1));
}
/** page_to_pfn() - the frame number of @p within its machine. */
inline unsigned long page_to_pfn(const page* p) {
  return static_cast<unsigned long>(p - page_memmap_header(p)->mem_map);
}
/** page_address() - the frame's bytes in the arena (the kernel's direct map). */
inline void* page_address(const page* p) {
  const MemMapHeader* h = page_memmap_header(p);
  return h->arena + (static_cast<uintptr_t>(p - h->mem_map) << PAGE_SHIFT);
}
/** page_machine() - the machine whose RAM holds @p. */
inline Machine* page_machine(const page* p) { return page_memmap_header(p)->machine; }
/** virt_to_page() - the struct page of an arena address. */
inline page* virt_to_page(const void* addr, const PhysMem& mem) { return mem.pfn_to_page(mem.virt_to_pfn(addr)); }

/**
 * copy_frame() - the CPU copies the frame @src to @dst (COW, fork's copy of a pinned
 * page, a bounce copy) while a device may be writing @src: relaxed word loads, the
 * defined form of that race (the copy may hold pieces of the device's writes, as on
 * real hardware). REQUIRES: both page aligned.
 */
inline void copy_frame(void* dst, const void* src) {
  auto* s = static_cast<const uint64_t*>(src);
  auto* d = static_cast<uint64_t*>(dst);
  for (size_t i = 0; i < PAGE_SIZE / 8; i++) d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/**
 * copy_to_frame() / copy_from_frame() - a CPU store or load of @n bytes through a
 * mapping (uaccess) while a device or a migration copy may touch the same frame: relaxed
 * byte accesses, the defined form of that race, as copy_frame().
 */
inline void copy_to_frame(void* dst, const void* src, size_t n) {
  auto* d = static_cast<char*>(dst);
  auto* s = static_cast<const char*>(src);
  for (size_t i = 0; i < n; i++) __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}
inline void copy_from_frame(void* dst, const void* src, size_t n) {
  auto* d = static_cast<char*>(dst);
  auto* s = static_cast<const char*>(src);
  for (size_t i = 0; i < n; i++) d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

}  // namespace guplab
