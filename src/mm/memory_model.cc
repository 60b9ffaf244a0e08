// memory_model.cc - mapping the arena and the mem_map.
#include "mm/memory_model.h"

#include <sys/mman.h>

#include <cassert>
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

PhysMem::PhysMem(Machine* machine, uint64_t ram_bytes) {
  if (ram_bytes == 0 || ram_bytes % PMD_SIZE != 0 || ram_bytes > (64ull << 30))
    throw std::invalid_argument("RAM size must be a non-zero multiple of 2 MiB, at most 64 GiB");
  const unsigned long nr = ram_bytes >> PAGE_SHIFT;
  const size_t map_bytes = PAGE_SIZE + nr * sizeof(page);
  void* base = map_aligned(map_bytes, kMemMapAlign, &region_, &region_len_);
  // Host THP for mem_map, best effort, as the kernel maps its vmemmap with huge pages: a
  // walk over many struct pages (GUP, unpin, LRU scans) should not pay a host TLB miss
  // every 64 pages.
  madvise(base, map_bytes, MADV_HUGEPAGE);
  void* arena = map_aligned(ram_bytes, PMD_SIZE, &arena_map_, &arena_len_);
  madvise(arena, ram_bytes, MADV_HUGEPAGE);  // host THP for the arena, best effort
  hdr_ = new (base) MemMapHeader{};
  hdr_->machine = machine;
  hdr_->arena = static_cast<char*>(arena);
  hdr_->mem_map = new (static_cast<char*>(base) + PAGE_SIZE) page[nr];
  hdr_->nr_pages = nr;
}

PhysMem::~PhysMem() {
  munmap(arena_map_, arena_len_);
  munmap(region_, region_len_);
}

}  // namespace guplab
