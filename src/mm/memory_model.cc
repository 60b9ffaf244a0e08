// memory_model.cc - mapping the arena and the mem_map.
#include "mm/memory_model.h"

#include <sys/mman.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace guplab {

namespace {
void* map_aligned(size_t len, size_t align, void** raw, size_t* raw_len) {
  *raw_len = len + align;
  void* p = mmap(nullptr, *raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  *raw = p;
  uintptr_t a = (reinterpret_cast<uintptr_t>(p) + align - 1) & ~(align - 1);
  return reinterpret_cast<void*>(a);
}
}  // namespace

PhysMemCache::~PhysMemCache() {
  for (const Mapping& m : free_) {
    munmap(m.arena_map, m.arena_len);
    munmap(m.region, m.region_len);
  }
}

void PhysMem::map_fresh(uint64_t ram_bytes) {
  const unsigned long nr = ram_bytes >> PAGE_SHIFT;
  const size_t map_bytes = PAGE_SIZE + nr * sizeof(page);
  void* base = map_aligned(map_bytes, kMemMapAlign, &region_, &region_len_);
  // Host THP for mem_map, best effort, as the kernel maps its vmemmap with huge pages: a
  // walk over many struct pages (GUP, unpin, LRU scans) should not pay a host TLB miss
  // every 64 pages.
  madvise(base, map_bytes, MADV_HUGEPAGE);
  void* arena = map_aligned(ram_bytes, PMD_SIZE, &arena_map_, &arena_len_);
  madvise(arena, ram_bytes, MADV_HUGEPAGE);  // host THP for the arena, best effort
}

namespace {
uintptr_t align_up(const void* p, uintptr_t align) {
  return (reinterpret_cast<uintptr_t>(p) + align - 1) & ~(align - 1);
}
}  // namespace

PhysMem::PhysMem(Machine* machine, uint64_t ram_bytes, PhysMemCache* cache) : cache_(cache) {
  if (ram_bytes == 0 || ram_bytes % PMD_SIZE != 0 || ram_bytes > (64ull << 30))
    throw std::invalid_argument("RAM size must be a non-zero multiple of 2 MiB, at most 64 GiB");
  const unsigned long nr = ram_bytes >> PAGE_SHIFT;
  bool reused = false;
  if (cache_) {
    for (size_t i = 0; i < cache_->free_.size(); i++) {
      const PhysMemCache::Mapping m = cache_->free_[i];
      if (m.ram_bytes != ram_bytes) continue;
      cache_->free_.erase(cache_->free_.begin() + static_cast<long>(i));
      region_ = m.region, region_len_ = m.region_len, arena_map_ = m.arena_map, arena_len_ = m.arena_len;
      reused = true;
      break;
    }
    used_.assign((nr + 63) / 64, 0);
  }
  if (!reused) map_fresh(ram_bytes);
  void* base = reinterpret_cast<void*>(align_up(region_, kMemMapAlign));
  void* arena = reinterpret_cast<void*>(align_up(arena_map_, PMD_SIZE));
  // The header page reads as a fresh mapping; the struct pages after it are storage
  // only until zone_init() initializes each (whatever the previous machine left there).
  if (reused) std::memset(base, 0, PAGE_SIZE);
  hdr_ = new (base) MemMapHeader{};
  hdr_->machine = machine;
  hdr_->arena = static_cast<char*>(arena);
  hdr_->mem_map = reinterpret_cast<page*>(static_cast<char*>(base) + PAGE_SIZE);
  hdr_->nr_pages = nr;
}

PhysMem::~PhysMem() {
  if (!cache_ || cache_->free_.size() >= PhysMemCache::kMaxCached) {
    munmap(arena_map_, arena_len_);
    munmap(region_, region_len_);
    return;
  }
  // Frame 0 (the zero page) and every frame ever allocated go back zeroed.
  used_[0] |= 1;
  for (size_t w = 0; w < used_.size(); w++)
    for (uint64_t bits = used_[w]; bits; bits &= bits - 1)
      std::memset(hdr_->arena + ((w * 64 + static_cast<size_t>(__builtin_ctzll(bits))) << PAGE_SHIFT), 0, PAGE_SIZE);
  cache_->free_.push_back({bytes(), region_, region_len_, arena_map_, arena_len_});
}

}  // namespace guplab
