// page-flags.h - PageFoo()/SetPageFoo()/ClearPageFoo() accessors and compound pages.
// Threading: atomic bit operations; the __ forms only for pages nobody else can see.
#pragma once
#include "mm/mm_types.h"

namespace guplab {

// Page##Name<S>() takes the scheduling-point policy of base/sched.h (default: ask).
#define GUPLAB_PAGEFLAG(Name, bit)                                                      \
  template <typename S = SchedCheck>                                                    \
  inline bool Page##Name(const page* p) { return test_bit<S>(bit, &p->flags); }         \
  inline void SetPage##Name(page* p) { set_bit(bit, &p->flags); }                       \
  inline void ClearPage##Name(page* p) { clear_bit(bit, &p->flags); }                   \
  inline bool TestSetPage##Name(page* p) { return test_and_set_bit(bit, &p->flags); }   \
  inline bool TestClearPage##Name(page* p) { return test_and_clear_bit(bit, &p->flags); } \
  inline void __SetPage##Name(page* p) { __set_bit(bit, &p->flags); }                   \
  inline void __ClearPage##Name(page* p) { __clear_bit(bit, &p->flags); }

GUPLAB_PAGEFLAG(Locked, PG_locked)
GUPLAB_PAGEFLAG(Writeback, PG_writeback)
GUPLAB_PAGEFLAG(Referenced, PG_referenced)
GUPLAB_PAGEFLAG(Dirty, PG_dirty)
GUPLAB_PAGEFLAG(LRU, PG_lru)
GUPLAB_PAGEFLAG(Head, PG_head)
GUPLAB_PAGEFLAG(Active, PG_active)
GUPLAB_PAGEFLAG(Workingset, PG_workingset)
GUPLAB_PAGEFLAG(Error, PG_error)
GUPLAB_PAGEFLAG(Reserved, PG_reserved)
GUPLAB_PAGEFLAG(Private, PG_private)
GUPLAB_PAGEFLAG(Reclaim, PG_reclaim)
GUPLAB_PAGEFLAG(SwapBacked, PG_swapbacked)
GUPLAB_PAGEFLAG(Unevictable, PG_unevictable)
GUPLAB_PAGEFLAG(Mlocked, PG_mlocked)
GUPLAB_PAGEFLAG(AnonExclusive, PG_anon_exclusive)
GUPLAB_PAGEFLAG(DmaPinned, PG_dma_pinned)
GUPLAB_PAGEFLAG(Buddy, PG_buddy)
GUPLAB_PAGEFLAG(Table, PG_pgtable)
GUPLAB_PAGEFLAG(Zero, PG_zero)
GUPLAB_PAGEFLAG(Bounce, PG_bounce)
GUPLAB_PAGEFLAG(PinWaiters, PG_pin_waiters)
GUPLAB_PAGEFLAG(Hugetlb, PG_hugetlb)
GUPLAB_PAGEFLAG(ZoneDevice, PG_zone_device)
#undef GUPLAB_PAGEFLAG

// PG_uptodate publishes the page's contents (read I/O, a zeroed or copied page): the
// setter's stores to the data come before it, the tester's loads of the data after it
// (the kernel's smp_wmb()/smp_rmb() in folio_mark_uptodate()/folio_test_uptodate()).
inline bool PageUptodate(const page* p) { return test_bit_acquire(PG_uptodate, &p->flags); }
inline void SetPageUptodate(page* p) { set_bit_release(PG_uptodate, &p->flags); }
inline void ClearPageUptodate(page* p) { clear_bit(PG_uptodate, &p->flags); }
inline bool TestSetPageUptodate(page* p) { return test_and_set_bit(PG_uptodate, &p->flags); }
inline bool TestClearPageUptodate(page* p) { return test_and_clear_bit(PG_uptodate, &p->flags); }
inline void __SetPageUptodate(page* p) {
  std::atomic_thread_fence(std::memory_order_release);
  __set_bit(PG_uptodate, &p->flags);
}
inline void __ClearPageUptodate(page* p) { __clear_bit(PG_uptodate, &p->flags); }

/** PageTail() - is @p a tail page of a compound page? */
inline bool PageTail(const page* p) {
  return __atomic_load_n(&p->compound_head, __ATOMIC_ACQUIRE) & 1;
}
inline bool PageCompound(const page* p) { return PageHead(p) || PageTail(p); }

/** compound_head() - the head page of @p (itself if @p is not a tail page). */
inline page* compound_head(const page* p) {
  uintptr_t h = __atomic_load_n(&p->compound_head, __ATOMIC_ACQUIRE);
  if (h & 1) return reinterpret_cast<page*>(h - 1);
  return const_cast<page*>(p);
}
inline folio* page_folio(const page* p) { return page_folio_of_head(compound_head(p)); }

/** compound_order() - log2 of the pages in @head's compound page (0 if not compound). */
inline unsigned compound_order(const page* head) {
  if (!PageHead(head)) return 0;
  return static_cast<unsigned>(head[1].compound_order_word);
}
inline unsigned long compound_nr(const page* head) { return 1ul << compound_order(head); }
inline unsigned folio_order(const folio* f) { return compound_order(f); }
inline unsigned long folio_nr_pages(const folio* f) { return 1ul << folio_order(f); }
template <typename S = SchedCheck>
inline bool folio_test_large(const folio* f) { return PageHead<S>(f); }

// page->mapping is read with READ_ONCE: truncate clears it while rmap and dirtying
// look at it.
inline bool PageAnon(const page* p) {
  const page* h = compound_head(p);
  return (reinterpret_cast<uintptr_t>(__atomic_load_n(&h->mapping, __ATOMIC_ACQUIRE)) & PAGE_MAPPING_ANON) != 0;
}
inline anon_vma* page_anon_vma(const page* p) {
  const page* h = compound_head(p);
  uintptr_t m = reinterpret_cast<uintptr_t>(__atomic_load_n(&h->mapping, __ATOMIC_ACQUIRE));
  return (m & PAGE_MAPPING_ANON) ? reinterpret_cast<anon_vma*>(m - PAGE_MAPPING_ANON) : nullptr;
}
/** page_mapping() - the file address_space of @p, or nullptr for anon/unmapped pages. */
inline address_space* page_mapping(const page* p) {
  const page* h = compound_head(p);
  uintptr_t m = reinterpret_cast<uintptr_t>(__atomic_load_n(&h->mapping, __ATOMIC_ACQUIRE));
  return (m & PAGE_MAPPING_ANON) ? nullptr : reinterpret_cast<address_space*>(m);
}

/** page_zonenum() - 0 = ZONE_NORMAL, 1 = ZONE_MOVABLE. */
inline unsigned page_zonenum(const page* p) {
  return static_cast<unsigned>(p->flags.load(std::memory_order_relaxed) >> ZONES_PGSHIFT);
}

}  // namespace guplab
