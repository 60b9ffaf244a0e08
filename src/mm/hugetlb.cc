// hugetlb.cc - hugetlb pools, MAP_HUGETLB mappings, their faults, zap, fork, mprotect.
#include "mm/hugetlb.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstring>
#include <stdexcept>

#include "base/bug.h"
#include "base/errno.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/internal.h"
#include "mm/page_alloc.h"
#include "mm/pgalloc.h"
#include "mm/rmap.h"
#include "mm/swap.h"

namespace guplab {

namespace {

constexpr unsigned kGigOrder = PUD_SHIFT - PAGE_SHIFT;  // 18
constexpr unsigned long kGigPages = 1ul << kGigOrder;
constexpr unsigned long kBlockPages = 1ul << HPAGE_PMD_ORDER;  // a MAX_ORDER-1 buddy block

// Where the boot puts the pools in RAM of @nr frames whose ZONE_MOVABLE starts at
// @movable_start: gigantic folios as 1 GiB-aligned ranges right below the last 1 GiB
// boundary, 2 MiB folios in the highest free blocks of ZONE_MOVABLE outside them.
struct PoolLayout {
  bool ok = false;
  unsigned long gig_start = 0;        // first pfn of the gigantic range
  std::vector<unsigned long> blocks;  // first pfn of each 2 MiB folio
};

PoolLayout pool_layout(unsigned long nr, unsigned long movable_start, unsigned long n2m, unsigned long n1g) {
  PoolLayout l;
  const unsigned long gig_top = n1g ? nr & ~(kGigPages - 1) : nr;
  if (n1g > gig_top / kGigPages) return l;
  l.gig_start = gig_top - n1g * kGigPages;
  if (n1g && l.gig_start < movable_start) return l;
  // 2 MiB candidates, highest first: above the gigantic range, then below it.
  unsigned long avail = (nr - gig_top) / kBlockPages + (l.gig_start > movable_start ? (l.gig_start - movable_start) / kBlockPages : 0);
  if (avail < n2m || (avail - n2m) * kBlockPages * PAGE_SIZE < kHugetlbMinMovableLeft) return l;
  for (unsigned long pfn = nr; l.blocks.size() < n2m && pfn >= gig_top + kBlockPages; pfn -= kBlockPages)
    l.blocks.push_back(pfn - kBlockPages);
  for (unsigned long pfn = l.gig_start; l.blocks.size() < n2m; pfn -= kBlockPages) l.blocks.push_back(pfn - kBlockPages);
  l.ok = true;
  return l;
}

// ZONE_NORMAL's size as Machine's boot computes it (machine/machine.cc).
unsigned long normal_zone_pages(unsigned long nr, unsigned pct) {
  const unsigned long block = 1ul << (MAX_ORDER - 1);
  unsigned long normal = (nr * pct / 100) / block * block;
  if (normal == 0) normal = block;
  return normal > nr ? nr : normal;
}

inline hugetlb_file* vma_file(const vm_area_struct* vma) { return static_cast<hugetlb_file*>(vma->vm_private_data); }

void hugetlb_vm_open(vm_area_struct* vma) { vma_file(vma)->refs.fetch_add(1, std::memory_order_relaxed); }
void hugetlb_vm_close(vm_area_struct* vma) { hugetlb_file_put(vma_file(vma)); }

const vm_operations_struct kHugetlbVmOps = {
    .name = "hugetlb",
    .open = hugetlb_vm_open,
    .close = hugetlb_vm_close,
};

hstate* folio_hstate(const folio* f) {
  HugetlbPools& pools = page_machine(f)->hugetlb();
  return folio_order(f) == kGigOrder ? pools.h1g() : pools.h2m();
}

// The pool folio for a fault: one the mapping reserved (@use_resv), or any free one not
// reserved by someone else. Refcount 1, zeroed, or nullptr if the pool has none.
folio* alloc_hugetlb_folio(hstate* h, bool use_resv) {
  page* p;
  {
    SpinGuard g(&h->lock);
    if (use_resv) BUG_ON(h->resv_huge_pages == 0);
    else if (h->free_huge_pages <= h->resv_huge_pages) return nullptr;
    BUG_ON(list_empty(&h->hugepage_freelist));
    p = list_entry(h->hugepage_freelist.next, page, lru);
    list_del(&p->lru);
    list_set_next(&p->lru, nullptr);  // compound_head's word: "not a tail"
    p->lru.prev = nullptr;
    if (use_resv) h->resv_huge_pages--;
    h->free_huge_pages--;
  }
  Machine* m = page_machine(p);
  m->mem().mark_allocated(page_to_pfn(p), h->order);
  // Zeroed as clear_huge_page() does; a folio never handed out since boot is known to
  // be zero already (the arena is fresh or was zeroed by the boot cache).
  if (p->private_) std::memset(page_address(p), 0, huge_page_size(h));
  p->private_ = 0;
  p->mapping = nullptr;
  p->index = 0;
  init_page_count(p);
  return page_folio_of_head(p);
}

// A pool folio becomes the private mapping's anonymous page at @haddr.
void hugetlb_add_new_anon_rmap(folio* f, vm_area_struct* vma, unsigned long haddr) {
  anon_vma* av = vma_anon_vma(vma);
  BUG_ON(!av);
  f->index = linear_page_index(vma, haddr);
  __SetPageAnonExclusive(f);
  folio_mapping_write(f, reinterpret_cast<address_space*>(reinterpret_cast<uintptr_t>(av) | PAGE_MAPPING_ANON));
}

inline int hugetlb_mapcount(folio* f) { return folio_int_read(&f[1]._entire_mapcount) + 1; }
inline void hugetlb_mapcount_add(folio* f, int d) { folio_int_add_return(&f[1]._entire_mapcount, d); }

pgtable_slot* huge_pte_offset(mm_struct* mm, unsigned long addr, const hstate* h) {
  return h->order == kGigOrder ? pud_walk(mm, addr) : pmd_walk(mm, addr);
}
pgtable_slot* huge_pte_alloc(mm_struct* mm, unsigned long addr, const hstate* h) {
  return h->order == kGigOrder ? pud_alloc_walk(mm, addr) : pmd_alloc_walk(mm, addr);
}

inline bool huge_leaf(pteval_t v) { return (v & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE); }

// make_huge_pte(): a leaf mapping @f with @vma's protection.
pteval_t make_huge_entry(const folio* f, const vm_area_struct* vma, bool writable, bool dirty) {
  pteval_t v = (static_cast<pteval_t>(page_to_pfn(f)) << PAGE_SHIFT) | vma->vm_page_prot.val | _PAGE_PSE | _PAGE_ACCESSED;
  if (writable && any(vma->vm_flags, VM_WRITE)) v |= _PAGE_RW;
  if (dirty) v |= _PAGE_DIRTY;
  return v;
}

void copy_huge_folio(folio* dst, folio* src, const hstate* h) {
  for (unsigned long i = 0; i < pages_per_huge_page(h); i++)
    copy_frame(page_address(folio_page(dst, i)), page_address(folio_page(src, i)));
}

vm_fault_t hugetlb_wp(vm_area_struct* vma, hugetlb_file* hf, pgtable_slot* slot, unsigned long haddr, pteval_t orig,
                      fault_flag flags) REQUIRES(hf->fault_mutex);

// The folio of hugetlbfs file @file at @vma's @haddr with a reference (the mapping's),
// or nullptr if the file has none there.
folio* hugetlbfs_find_folio(hugetlb_file* file, vm_area_struct* vma, unsigned long haddr) {
  const pgoff_t idx = linear_page_index(vma, haddr) >> file->h->order;
  down_read(&file->fault_mutex);
  folio* f = idx < file->cache.size() ? file->cache[idx] : nullptr;
  if (f) folio_get(f);
  up_read(&file->fault_mutex);
  return f;
}

// Map hugetlbfs file folio @f (a reference we hold) read-only in private @vma; a write
// or unshare fault then copies it (hugetlb_wp()).
vm_fault_t hugetlb_map_file_folio(vm_area_struct* vma, hugetlb_file* hf, pgtable_slot* slot, unsigned long haddr,
                                  folio* f, fault_flag flags) REQUIRES(hf->fault_mutex) {
  mm_struct* mm = vma->vm_mm;
  const pteval_t entry = make_huge_entry(f, vma, false, false);
  bool mapped = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (READ_ONCE(*slot) == 0) {
      hugetlb_mapcount_add(f, 1);
      WRITE_ONCE(*slot, entry);
      mapped = true;
    }
  }
  if (!mapped) {
    folio_put(f);
    return VM_FAULT_NONE;
  }
  if (any(flags, FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) return hugetlb_wp(vma, hf, slot, haddr, entry, flags);
  return VM_FAULT_NONE;
}

// hugetlb_no_page(): the entry at @slot is empty.
vm_fault_t hugetlb_no_page(vm_area_struct* vma, hugetlb_file* hf, pgtable_slot* slot, unsigned long haddr,
                           fault_flag flags) REQUIRES(hf->fault_mutex) {
  mm_struct* mm = vma->vm_mm;
  hstate* h = hf->h;
  const bool write = any(flags, FAULT_FLAG_WRITE);
  folio* f;
  if (hf->shared) {
    const pgoff_t idx = linear_page_index(vma, haddr) >> h->order;
    BUG_ON(idx >= hf->cache.size());
    f = hf->cache[idx];
    if (!f) {
      f = alloc_hugetlb_folio(h, hf->resv > 0);
      if (!f) return VM_FAULT_SIGBUS;
      if (hf->resv > 0) hf->resv--;
      hf->cache[idx] = f;  // the allocation's reference is the file's
    }
    folio_get(f);  // the mapping's
  } else if (folio* ff = hf->backing ? hugetlbfs_find_folio(hf->backing, vma, haddr) : nullptr) {
    // A private mapping of a hugetlbfs file page: mapped read-only; a write (or an
    // unshare) copies it at once.
    return hugetlb_map_file_folio(vma, hf, slot, haddr, ff, flags);
  } else {
    if (anon_vma_prepare(vma)) return VM_FAULT_OOM;
    f = alloc_hugetlb_folio(h, hf->resv > 0);
    if (!f) return VM_FAULT_SIGBUS;
    if (hf->resv > 0) hf->resv--;
    hugetlb_add_new_anon_rmap(f, vma, haddr);
  }
  // Private: a read fault maps the (exclusive) folio read-only; a write makes it
  // writable, as hugetlb_wp() would reuse it.
  const pteval_t entry = make_huge_entry(f, vma, hf->shared || write, write);
  bool mapped = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (READ_ONCE(*slot) == 0) {
      hugetlb_mapcount_add(f, 1);
      WRITE_ONCE(*slot, entry);  // release: the folio's state before the entry
      mapped = true;
    }
  }
  if (!mapped) folio_put(f);
  return VM_FAULT_NONE;
}

// hugetlb_wp(): a write (or unshare) fault on the read-only leaf @orig. A folio that is
// not anonymous (a hugetlbfs file's, in a private mapping) is always copied.
vm_fault_t hugetlb_wp(vm_area_struct* vma, hugetlb_file* hf, pgtable_slot* slot, unsigned long haddr, pteval_t orig,
                      fault_flag flags) REQUIRES(hf->fault_mutex) {
  mm_struct* mm = vma->vm_mm;
  hstate* h = hf->h;
  const bool unshare = any(flags, FAULT_FLAG_UNSHARE);
  folio* old = page_folio(mm_pfn_page(mm, pteval_pfn(orig)));
  {
    SpinGuard g(&mm->page_table_lock);
    if (READ_ONCE(*slot) != orig) return VM_FAULT_NONE;
    if (hf->shared) {
      if (!unshare && any(vma->vm_flags, VM_WRITE)) WRITE_ONCE(*slot, orig | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED);
      return VM_FAULT_NONE;
    }
    if (PageAnon(old) && (PageAnonExclusive(old) || hugetlb_mapcount(old) == 1)) {
      SetPageAnonExclusive(old);  // reuse: this mapping is its only one
      if (!unshare && any(vma->vm_flags, VM_WRITE)) WRITE_ONCE(*slot, orig | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED);
      mm_machine(mm)->vmstat().inc(PGREUSE);
      return VM_FAULT_NONE;
    }
    folio_get(old);
  }
  // Shared with another mm since fork: copy it.
  if (anon_vma_prepare(vma)) {
    folio_put(old);
    return VM_FAULT_OOM;
  }
  folio* nf = alloc_hugetlb_folio(h, hf->resv > 0);
  if (!nf) {
    folio_put(old);
    return VM_FAULT_SIGBUS;
  }
  if (hf->resv > 0) hf->resv--;
  copy_huge_folio(nf, old, h);
  hugetlb_add_new_anon_rmap(nf, vma, haddr);
  bool mapped = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (READ_ONCE(*slot) == orig) {
      hugetlb_mapcount_add(nf, 1);
      WRITE_ONCE(*slot, make_huge_entry(nf, vma, !unshare, !unshare));
      hugetlb_mapcount_add(old, -1);
      mapped = true;
    }
  }
  if (mapped) {
    folio_put(old);  // the old mapping's reference
    mm_machine(mm)->vmstat().inc(COW_FAULTS);
  } else {
    folio_put(nf);
  }
  folio_put(old);  // ours
  return VM_FAULT_NONE;
}

}  // namespace

// ---- pools -------------------------------------------------------------------------------

HugetlbPools::HugetlbPools(Machine* m, const MachineConfig& cfg) NO_THREAD_SAFETY_ANALYSIS {
  const unsigned orders[2] = {HPAGE_PMD_ORDER, kGigOrder};
  const char* names[2] = {"hugepages-2048kB", "hugepages-1048576kB"};
  for (int i = 0; i < 2; i++) {
    hstate* h = &hstates_[i];
    h->order = orders[i];
    h->name = names[i];
    spin_lock_init(&h->lock, "hstate->lock");
    INIT_LIST_HEAD(&h->hugepage_freelist);
  }
  if (!cfg.hugetlb_2m_pages && !cfg.hugetlb_1g_pages) return;
  const unsigned long nr = m->mem().nr_pages();
  const unsigned long movable_start = m->zones()[ZONE_MOVABLE].zone_start_pfn;
  PoolLayout l = pool_layout(nr, movable_start, cfg.hugetlb_2m_pages, cfg.hugetlb_1g_pages);
  if (!l.ok) {
    const uint64_t need = hugetlb_min_ram_bytes(cfg);
    const std::string need_s = need ? fmt::format("at least {} MiB", need >> 20) : "more than the 64 GiB limit";
    throw std::invalid_argument(fmt::format(
        "hugetlb: a pool of {} x 2 MiB and {} x 1 GiB pages needs RAM of {} (RAM is {} MiB; ZONE_NORMAL ({}%) and "
        "{} MiB of ZONE_MOVABLE stay with the buddy allocator, and 1 GiB pages are 1 GiB aligned): raise the RAM "
        "(MachineConfig::ram_bytes, gup_test --ram)",
        cfg.hugetlb_2m_pages, cfg.hugetlb_1g_pages, need_s, cfg.ram_bytes >> 20, cfg.normal_zone_percent,
        kHugetlbMinMovableLeft >> 20));
  }
  auto add = [&](hstate* h, unsigned long pfn) {
    if (!take_free_blocks_boot(m, pfn, 1ul << h->order))
      throw std::logic_error(fmt::format("hugetlb: frames {:#x}+{:#x} not free at boot", pfn, 1ul << h->order));
    page* head = m->mem().pfn_to_page(pfn);
    prep_compound_page(head, h->order);
    __SetPageHugetlb(head);
    head->private_ = 0;  // zero since boot
    SpinGuard g(&h->lock);
    list_add_tail(&head->lru, &h->hugepage_freelist);
    h->nr_huge_pages++;
    h->free_huge_pages++;
  };
  for (unsigned long i = 0; i < cfg.hugetlb_1g_pages; i++) add(h1g(), l.gig_start + i * kGigPages);
  for (unsigned long pfn : l.blocks) add(h2m(), pfn);
}

hstate* HugetlbPools::shift_to_hstate(unsigned shift) {
  if (shift == PMD_SHIFT) return h2m();
  if (shift == PUD_SHIFT) return h1g();
  return nullptr;
}

HugetlbPoolStat HugetlbPools::stat(hstate* h) {
  SpinGuard g(&h->lock);
  return {h->nr_huge_pages, h->free_huge_pages, h->resv_huge_pages};
}

uint64_t hugetlb_min_ram_bytes(const MachineConfig& cfg) {
  const uint64_t lo = (cfg.hugetlb_2m_pages * PMD_SIZE + cfg.hugetlb_1g_pages * PUD_SIZE + PMD_SIZE) & PMD_MASK;
  for (uint64_t ram = lo ? lo : PMD_SIZE; ram <= (64ull << 30); ram += PMD_SIZE) {
    const unsigned long nr = ram >> PAGE_SHIFT;
    if (pool_layout(nr, normal_zone_pages(nr, cfg.normal_zone_percent), cfg.hugetlb_2m_pages, cfg.hugetlb_1g_pages).ok)
      return ram;
  }
  return 0;
}

bool folio_test_hugetlb(const folio* f) { return PageHugetlb(f); }

void free_huge_folio(folio* f) {
  hstate* h = folio_hstate(f);
  BUG_ON_MSG(f[1]._pincount != 0 || f->lab_private != 0 || hugetlb_mapcount(f) != 0,
             fmt::format("freeing hugetlb folio pfn {:#x} with pincount {} fake mappings {} mapcount {}",
                         page_to_pfn(f), f[1]._pincount, f->lab_private, hugetlb_mapcount(f)));
  constexpr uint64_t kKeep = (3ull << ZONES_PGSHIFT) | (1ull << PG_head) | (1ull << PG_hugetlb);
  f->flags.fetch_and(kKeep, std::memory_order_relaxed);
  f->mapping = nullptr;
  f->index = 0;
  f->private_ = 1;  // its frames may hold data now
  SpinGuard g(&h->lock);
  list_add(&f->lru, &h->hugepage_freelist);
  h->free_huge_pages++;
}

// ---- mappings ----------------------------------------------------------------------------

hstate* hstate_vma(const vm_area_struct* vma) { return vma_file(vma)->h; }

int hugetlb_file_setup(Machine* m, int flags, unsigned long* len, hugetlb_file** out) {
  const unsigned shift = static_cast<unsigned>((flags >> kMapHugeShift) & kMapHugeMask);
  hstate* h = m->hugetlb().shift_to_hstate(shift ? shift : PMD_SHIFT);
  if (!h) return -EINVAL;
  const unsigned long sz = huge_page_size(h);
  if (*len > TASK_SIZE) return -ENOMEM;
  *len = (*len + sz - 1) & ~(sz - 1);
  auto* hf = new hugetlb_file;
  hf->h = h;
  hf->shared = (flags & 0x0f) != MAP_PRIVATE;
  init_rwsem(&hf->fault_mutex, "hugetlb_fault_mutex");
  const unsigned long n = *len / sz;
  if (hf->shared) hf->cache.assign(n, nullptr);
  if (!(flags & MAP_NORESERVE)) {
    SpinGuard g(&h->lock);
    if (h->free_huge_pages - h->resv_huge_pages < n) {
      delete hf;
      return -ENOMEM;
    }
    h->resv_huge_pages += n;
    hf->resv = static_cast<long>(n);
  }
  *out = hf;
  return 0;
}

void hugetlb_file_put(hugetlb_file* hf) NO_THREAD_SAFETY_ANALYSIS /* the last reference: no one else */ {
  if (hf->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (hf->resv) {
    SpinGuard g(&hf->h->lock);
    hf->h->resv_huge_pages -= static_cast<unsigned long>(hf->resv);
  }
  for (folio* f : hf->cache)
    if (f) folio_put(f);
  if (hf->backing) hugetlb_file_put(hf->backing);
  delete hf;
}

int hugetlbfs_file_create(Machine* m, unsigned long size, hugetlb_file** out) {
  hstate* h = m->hugetlb().h2m();
  if (size == 0 || size > TASK_SIZE) return -EINVAL;
  const unsigned long n = (size + huge_page_size(h) - 1) / huge_page_size(h);
  auto* hf = new hugetlb_file;
  hf->h = h;
  hf->shared = true;
  init_rwsem(&hf->fault_mutex, "hugetlb_fault_mutex");
  hf->cache.assign(n, nullptr);
  for (folio*& f : hf->cache) {
    f = alloc_hugetlb_folio(h, false);  // fallocate(): the file's reference
    if (!f) {
      hugetlb_file_put(hf);
      return -ENOSPC;
    }
  }
  *out = hf;
  return 0;
}

int hugetlbfs_mmap_setup(hugetlb_file* file, bool shared, int flags, unsigned long* len, hugetlb_file** out) {
  hstate* h = file->h;
  const unsigned long sz = huge_page_size(h);
  if (*len > TASK_SIZE) return -ENOMEM;
  *len = (*len + sz - 1) & ~(sz - 1);
  const unsigned long n = *len / sz;
  auto reserve = [h](unsigned long want) {
    SpinGuard g(&h->lock);
    if (h->free_huge_pages - h->resv_huge_pages < want) return false;
    h->resv_huge_pages += want;
    return true;
  };
  if (shared) {
    down_write(&file->fault_mutex);
    if (file->cache.size() < n) file->cache.resize(n, nullptr);  // mmap extends i_size
    unsigned long missing = 0;
    for (unsigned long i = 0; i < n; i++) missing += file->cache[i] == nullptr;
    const bool ok = (flags & MAP_NORESERVE) || reserve(missing);
    if (ok && !(flags & MAP_NORESERVE)) file->resv += static_cast<long>(missing);
    up_write(&file->fault_mutex);
    if (!ok) return -ENOMEM;
    file->refs.fetch_add(1, std::memory_order_relaxed);
    *out = file;
    return 0;
  }
  if (!(flags & MAP_NORESERVE) && !reserve(n)) return -ENOMEM;
  auto* view = new hugetlb_file;
  view->h = h;
  init_rwsem(&view->fault_mutex, "hugetlb_fault_mutex");
  if (!(flags & MAP_NORESERVE)) view->resv = static_cast<long>(n);
  file->refs.fetch_add(1, std::memory_order_relaxed);
  view->backing = file;
  *out = view;
  return 0;
}

void hugetlb_vma_init(vm_area_struct* vma, hugetlb_file* hf) {
  vma->vm_ops = &kHugetlbVmOps;
  vma->vm_private_data = hf;
  vma->vm_flags |= VM_HUGETLB | VM_DONTEXPAND;
  vma->vm_pgoff = 0;
}

vm_fault_t hugetlb_fault(vm_area_struct* vma, unsigned long address, fault_flag flags) {
  mmap_assert_locked(vma->vm_mm);  // REQUIRES (hugetlb.h)
  mm_struct* mm = vma->vm_mm;
  hugetlb_file* hf = vma_file(vma);
  const unsigned long haddr = address & huge_page_mask(hf->h);
  pgtable_slot* slot = huge_pte_alloc(mm, haddr, hf->h);
  if (!slot) return VM_FAULT_OOM;
  down_write(&hf->fault_mutex);
  vm_fault_t ret = VM_FAULT_NONE;
  const pteval_t e = READ_ONCE(*slot);
  const bool write = any(flags, FAULT_FLAG_WRITE);
  if (e == 0) {
    ret = hugetlb_no_page(vma, hf, slot, haddr, flags);
  } else if (WARN_ON_ONCE(!huge_leaf(e))) {
    ret = VM_FAULT_SIGBUS;
  } else if ((write || any(flags, FAULT_FLAG_UNSHARE)) && !(e & _PAGE_RW)) {
    ret = hugetlb_wp(vma, hf, slot, haddr, e, flags);
  } else {
    ptep_set_bits(slot, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
  }
  up_write(&hf->fault_mutex);
  return ret;
}

void unmap_hugepage_range(mmu_gather* tlb, vm_area_struct* vma, unsigned long start, unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  hstate* h = hstate_vma(vma);
  const unsigned long sz = huge_page_size(h);
  // Only whole huge pages (MADV_DONTNEED may ask for less).
  for (unsigned long addr = (start + sz - 1) & huge_page_mask(h); addr + sz <= end && addr >= start; addr += sz) {
    pgtable_slot* slot = huge_pte_offset(mm, addr, h);
    if (!slot) continue;
    SpinGuard g(&mm->page_table_lock);
    if (!huge_leaf(READ_ONCE(*slot))) continue;
    const pteval_t e = xchg(*slot, pteval_t{0});
    folio* f = page_folio(mm_pfn_page(mm, pteval_pfn(e)));
    if (e & _PAGE_DIRTY) folio_mark_dirty(f);
    hugetlb_mapcount_add(f, -1);
    tlb_remove_page(tlb, f);
  }
}

int copy_hugetlb_page_range(vm_area_struct* dst_vma, vm_area_struct* src_vma) {
  mm_struct* src_mm = src_vma->vm_mm;
  mm_struct* dst_mm = dst_vma->vm_mm;
  hugetlb_file* hf = vma_file(src_vma);
  hstate* h = hf->h;
  const unsigned long sz = huge_page_size(h);
  const bool cow = is_cow_mapping(src_vma->vm_flags);
  if (!hf->shared) {
    // The child's private mapping owns no reservation: a file of its own.
    auto* nf = new hugetlb_file;
    nf->h = h;
    init_rwsem(&nf->fault_mutex, "hugetlb_fault_mutex");
    if (hf->backing) {  // a private mapping of a hugetlbfs file still reads that file
      hf->backing->refs.fetch_add(1, std::memory_order_relaxed);
      nf->backing = hf->backing;
    }
    dst_vma->vm_private_data = nf;
    hugetlb_file_put(hf);  // the reference dup_mm()'s ->open() took
  }
  for (unsigned long addr = src_vma->vm_start; addr < src_vma->vm_end; addr += sz) {
    pgtable_slot* sslot = huge_pte_offset(src_mm, addr, h);
    if (!sslot || READ_ONCE(*sslot) == 0) continue;
    pgtable_slot* dslot = huge_pte_alloc(dst_mm, addr, h);
    if (!dslot) return -ENOMEM;
    folio* copy_of = nullptr;
    {
      SpinGuard gd(&dst_mm->page_table_lock);
      SpinGuard gs(&src_mm->page_table_lock);
      pteval_t e = READ_ONCE(*sslot);
      if (!huge_leaf(e)) continue;
      folio* f = page_folio(mm_pfn_page(src_mm, pteval_pfn(e)));
      folio_get(f);
      if (cow && PageAnon(f)) {
        if (PageAnonExclusive(f) && src_mm->has_pinned.load(std::memory_order_acquire) && folio_maybe_dma_pinned(f)) {
          copy_of = f;  // maybe pinned: the child gets its own copy (below, unlocked)
        } else {
          ClearPageAnonExclusive(f);
          if (e & _PAGE_RW) {
            ptep_set_wrprotect(sslot);
            e &= ~_PAGE_RW;
          }
        }
      }
      if (!copy_of) {
        hugetlb_mapcount_add(f, 1);
        WRITE_ONCE(*dslot, e & ~_PAGE_ACCESSED);
      }
    }
    if (!copy_of) continue;
    folio* nf = alloc_hugetlb_folio(h, false);
    if (!nf) {
      folio_put(copy_of);
      return -ENOMEM;
    }
    copy_huge_folio(nf, copy_of, h);
    folio_put(copy_of);
    hugetlb_add_new_anon_rmap(nf, dst_vma, addr);
    SpinGuard gd(&dst_mm->page_table_lock);
    hugetlb_mapcount_add(nf, 1);
    WRITE_ONCE(*dslot, make_huge_entry(nf, dst_vma, true, true));
  }
  return 0;
}

long hugetlb_change_protection(vm_area_struct* vma, unsigned long start, unsigned long end, pgprot_t newprot) {
  mm_struct* mm = vma->vm_mm;
  hstate* h = hstate_vma(vma);
  const unsigned long sz = huge_page_size(h);
  long changed = 0;
  for (unsigned long addr = start & huge_page_mask(h); addr < end; addr += sz) {
    pgtable_slot* slot = huge_pte_offset(mm, addr, h);
    if (!slot) continue;
    SpinGuard g(&mm->page_table_lock);
    const pteval_t old = READ_ONCE(*slot);
    if (!huge_leaf(old)) continue;
    pteval_t v = (old & kPteKeepMask) | newprot.val | _PAGE_PSE;
    if ((old & _PAGE_RW) && any(vma->vm_flags, VM_WRITE)) v |= _PAGE_RW;
    if (v == old) continue;
    WRITE_ONCE(*slot, v);
    changed++;
  }
  return changed;
}

page* hugetlb_mmu_follow(mm_struct* mm, vm_area_struct* vma, unsigned long addr, bool write, bool force) {
  hstate* h = hstate_vma(vma);
  pgtable_slot* slot = huge_pte_offset(mm, addr & huge_page_mask(h), h);
  if (!slot) return nullptr;
  SpinGuard g(&mm->page_table_lock);
  const pteval_t e = READ_ONCE(*slot);
  if (!huge_leaf(e)) return nullptr;
  page* head = mm_pfn_page(mm, pteval_pfn(e));
  if (write && !(e & _PAGE_RW) && !(force && PageAnon(head) && PageAnonExclusive(head))) return nullptr;
  folio_get(page_folio(head));
  ptep_set_bits(slot, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
  return head + ((addr & ~huge_page_mask(h)) >> PAGE_SHIFT);
}

}  // namespace guplab
