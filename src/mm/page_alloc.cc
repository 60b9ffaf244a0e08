// page_alloc.cc - the buddy allocator.
#include "base/buggify.h"
#include "mm/page_alloc.h"

#include <fmt/format.h>

#include <cstring>
#include <new>

#include "base/bug.h"
#include "machine/machine.h"
#include "mm/memory_model.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"
#include "mm/vmscan.h"

namespace guplab {

namespace {

// Flags a page may carry when it is freed; anything else means it is still in use.
constexpr uint64_t kFlagsCheckAtFree =
    (1ull << PG_locked) | (1ull << PG_writeback) | (1ull << PG_lru) | (1ull << PG_active) |
    (1ull << PG_private) | (1ull << PG_unevictable) | (1ull << PG_mlocked) | (1ull << PG_dma_pinned) |
    (1ull << PG_buddy) | (1ull << PG_reserved) | (1ull << PG_pgtable) | (1ull << PG_zero);
constexpr uint64_t kZoneMask = 3ull << ZONES_PGSHIFT;

std::string bad_page_reason(const page* p) {
  std::string why;
  if (page_ref_count(p) != 0) why += fmt::format(" refcount={}", page_ref_count(p));
  if (atomic_read(&p->_mapcount) != -1) why += fmt::format(" mapcount={}", atomic_read(&p->_mapcount) + 1);
  if (p->mapping) why += " mapping!=NULL";
  uint64_t f = p->flags.load(std::memory_order_relaxed) & kFlagsCheckAtFree;
  if (f) why += fmt::format(" flags={:#x}", f);
  if (p->lab_private) why += fmt::format(" fake_mappings={}", p->lab_private);
  return why;
}

void check_free_page(page* p) {
  std::string why = bad_page_reason(p);
  if (!why.empty()) bug_hit(__FILE__, __LINE__, "free_pages_prepared", "bad page state",
                            fmt::format("pfn {:#x}:{}", page_to_pfn(p), why));
}

void add_to_free_list(zone* z, page* p, unsigned order) REQUIRES(z->lock) {
  p->private_ = order;
  __SetPageBuddy(p);
  list_add(&p->lru, &z->free_area_[order].free_list);
  z->free_area_[order].nr_free++;
}

void del_from_free_list(zone* z, page* p, unsigned order) REQUIRES(z->lock) {
  list_del(&p->lru);
  __ClearPageBuddy(p);
  p->private_ = 0;
  z->free_area_[order].nr_free--;
}

// Merge with free buddies and put the result on its free list.
void free_one(zone* z, page* p, unsigned order) REQUIRES(z->lock) {
  unsigned long pfn = page_to_pfn(p) - z->zone_start_pfn;
  page* base = p - pfn;
  while (order < MAX_ORDER - 1) {
    unsigned long buddy_pfn = pfn ^ (1ul << order);
    if (buddy_pfn >= z->spanned_pages) break;
    page* buddy = base + buddy_pfn;
    if (!PageBuddy(buddy) || buddy->private_ != order) break;
    del_from_free_list(z, buddy, order);
    pfn &= buddy_pfn;
    order++;
  }
  add_to_free_list(z, base + pfn, order);
}

page* take_from_zone(zone* z, unsigned order) REQUIRES(z->lock) {
  for (unsigned o = order; o < MAX_ORDER; o++) {
    free_area* fa = &z->free_area_[o];
    if (list_empty(&fa->free_list)) continue;
    page* p = list_entry(fa->free_list.next, page, lru);
    del_from_free_list(z, p, o);
    while (o > order) {  // split, returning the upper halves
      o--;
      add_to_free_list(z, p + (1ul << o), o);
    }
    return p;
  }
  return nullptr;
}

}  // namespace

zone* page_zone(const page* p) { return &page_machine(p)->zones()[page_zonenum(p)]; }

void zone_init(Machine* m, zone* z, unsigned zid, const char* name, unsigned long start, unsigned long n,
               unsigned long reserved_pfn) NO_THREAD_SAFETY_ANALYSIS {
  z->name = name;
  z->zone_start_pfn = start;
  z->spanned_pages = n;
  spin_lock_init(&z->lock, "zone->lock");
  spin_lock_init(&z->gup_lock, "zone->gup_lock");
  for (auto& fa : z->free_area_) {
    INIT_LIST_HEAD(&fa.free_list);
    fa.nr_free = 0;
  }
  PhysMem& mem = m->mem();
  // One pass over the zone's struct pages, as the kernel's __init_single_page(): each is
  // constructed zeroed, then given its zone and no mapping.
  for (unsigned long pfn = start; pfn < start + n; pfn++) {
    page* p = new (mem.pfn_to_page(pfn)) page{};
    p->flags.store(static_cast<uint64_t>(zid) << ZONES_PGSHIFT, std::memory_order_relaxed);
    atomic_set(&p->_mapcount, -1);
  }
  // As the kernel hands boot memory to the buddy allocator: in the largest aligned
  // blocks that fit, so booting does not merge every page up from order 0 (the free
  // lists end up the same either way).
  unsigned long freed = 0;
  for (unsigned long off = 0; off < n;) {
    if (start + off == reserved_pfn) {
      off++;
      continue;
    }
    unsigned order = 0;
    while (order + 1 < MAX_ORDER) {
      const unsigned long len = 1ul << (order + 1);
      const bool aligned = (off & (len - 1)) == 0;
      const bool holds_reserved = reserved_pfn >= start + off && reserved_pfn < start + off + len;
      if (!aligned || off + len > n || holds_reserved) break;
      order++;
    }
    free_one(z, mem.pfn_to_page(start + off), order);
    freed += 1ul << order;
    off += 1ul << order;
  }
  z->free_pages.store(static_cast<long>(freed), std::memory_order_relaxed);
}

page* alloc_pages_on(Machine* m, gfp_t gfp, unsigned order) {
  BUG_ON(order >= MAX_ORDER);
  zone* zones = m->zones();
  zone* order_of_try[2] = {&zones[ZONE_NORMAL], nullptr};
  if (any(gfp, gfp_t::__GFP_MOVABLE)) order_of_try[0] = &zones[ZONE_MOVABLE], order_of_try[1] = &zones[ZONE_NORMAL];
  auto take = [&]() -> page* {
    for (zone* z : order_of_try) {
      if (!z || z->spanned_pages == 0) continue;
      page* q;
      {
        SpinGuard g(&z->lock);
        q = take_from_zone(z, order);
      }
      if (q) {
        z->free_pages.fetch_sub(1l << order, std::memory_order_relaxed);
        return q;
      }
    }
    return nullptr;
  };
  // Fault injection (sim): memory pressure (reclaim first, as a machine short of memory
  // does) and allocation failure (which every caller must survive).
  if (sim_buggify("alloc_pages:pressure") && __alloc_pages_may_reclaim(m, gfp)) try_to_free_pages(m, 32ul << order, gfp);
  if (sim_buggify("alloc_pages:fail")) return nullptr;
  page* p = take();
  // Direct reclaim: free clean page cache and try again (mm/vmscan.h).
  for (int tries = 0; !p && tries < 4 && __alloc_pages_may_reclaim(m, gfp); tries++) {
    if (!try_to_free_pages(m, 32ul << order, gfp)) break;
    p = take();
  }
  if (!p) return nullptr;
  prep_new_page(m, p, gfp, order);
  return p;
}

void prep_new_page(Machine* m, page* p, gfp_t gfp, unsigned order) {
  m->mem().mark_allocated(page_to_pfn(p), order);
  m->vmstat().mod(NR_FREE_PAGES, -(1l << order));
  m->vmstat().mod(PGALLOC, 1l << order);
  for (unsigned long i = 0; i < (1ul << order); i++) {
    page* q = p + i;
    q->flags.store(q->flags.load(std::memory_order_relaxed) & kZoneMask, std::memory_order_relaxed);
    // lru.next is compound_head, which GUP-fast reads locklessly (PageTail()) for a pte
    // it has not yet validated: a single atomic store, as every list store to ->next.
    list_set_next(&q->lru, nullptr);
    q->lru.prev = nullptr;
    q->mapping = nullptr;
    q->index = 0;
    q->private_ = 0;
    q->lab_private = 0;
  }
  if (any(gfp, gfp_t::__GFP_ZERO)) std::memset(page_address(p), 0, PAGE_SIZE << order);
  if (order && any(gfp, gfp_t::__GFP_COMP)) prep_compound_page(p, order);
  init_page_count(p);
}

page* take_free_page(Machine* m, unsigned long pfn) NO_THREAD_SAFETY_ANALYSIS {
  PhysMem& mem = m->mem();
  if (!mem.pfn_valid(pfn)) return nullptr;
  page* const target = mem.pfn_to_page(pfn);
  zone* z = page_zone(target);
  const unsigned long rel = pfn - z->zone_start_pfn;
  page* const base = target - rel;
  {
    SpinGuard g(&z->lock);
    unsigned o = 0;
    unsigned long head = rel;
    for (; o < MAX_ORDER; o++) {
      head = rel & ~((1ul << o) - 1);
      if (head + (1ul << o) > z->spanned_pages) return nullptr;
      page* h = base + head;
      if (PageBuddy(h) && h->private_ == o) break;
    }
    if (o == MAX_ORDER) return nullptr;  // not free
    del_from_free_list(z, base + head, o);
    while (o > 0) {  // split, giving back the halves that do not hold @pfn
      o--;
      const unsigned long half = 1ul << o;
      if (rel < head + half) {
        add_to_free_list(z, base + head + half, o);
      } else {
        add_to_free_list(z, base + head, o);
        head += half;
      }
    }
  }
  z->free_pages.fetch_sub(1, std::memory_order_relaxed);
  prep_new_page(m, target, gfp_t::NONE, 0);
  return target;
}

page* alloc_pages(gfp_t gfp, unsigned order) { return alloc_pages_on(current_machine(), gfp, order); }

folio* folio_alloc(gfp_t gfp, unsigned order) {
  page* p = alloc_pages(order ? (gfp | gfp_t::__GFP_COMP) : gfp, order);
  return p ? page_folio_of_head(p) : nullptr;
}

void prep_compound_page(page* head, unsigned order) {
  __SetPageHead(head);
  const unsigned long nr = 1ul << order;
  for (unsigned long i = 1; i < nr; i++) {
    page* t = head + i;
    set_page_count(t, 0);
    __atomic_store_n(&t->compound_head, reinterpret_cast<uintptr_t>(head) | 1, __ATOMIC_RELEASE);
  }
  head[1].compound_order_word = order;
  head[1]._entire_mapcount = -1;
  head[1]._nr_pages_mapped = 0;
  head[1]._pincount = 0;
}

void destroy_compound_page(page* head) {
  const unsigned long nr = compound_nr(head);
  BUG_ON_MSG(head[1]._pincount != 0, fmt::format("freeing a folio with _pincount {}", head[1]._pincount));
  for (unsigned long i = 1; i < nr; i++) {
    page* t = head + i;
    // compound_head() reads this word locklessly (GUP-fast on a folio being freed).
    __atomic_store_n(&t->compound_head, 0, __ATOMIC_RELAXED);
    t->compound_order_word = 0;
    t->mapping = nullptr;
    t->index = 0;
  }
  __ClearPageHead(head);
}

void free_pages_prepared(page* p, unsigned order) {
  Machine* m = page_machine(p);
  for (unsigned long i = 0; i < (1ul << order); i++) check_free_page(p + i);
  zone* z = page_zone(p);
  {
    SpinGuard g(&z->lock);
    free_one(z, p, order);
  }
  z->free_pages.fetch_add(1l << order, std::memory_order_relaxed);
  m->vmstat().mod(NR_FREE_PAGES, 1l << order);
  m->vmstat().mod(PGFREE, 1l << order);
}

void __free_pages(page* p, unsigned order) {
  if (!page_ref_dec_and_test(p)) return;
  if (PageHead(p)) destroy_compound_page(p);
  p->flags.fetch_and(~((1ull << PG_dirty) | (1ull << PG_uptodate) | (1ull << PG_referenced) |
                       (1ull << PG_swapbacked) | (1ull << PG_anon_exclusive) | (1ull << PG_workingset) |
                       (1ull << PG_error) | (1ull << PG_bounce) | (1ull << PG_pin_waiters)),
                     std::memory_order_relaxed);
  free_pages_prepared(p, order);
}

bool take_free_blocks_boot(Machine* m, unsigned long start_pfn, unsigned long nr) NO_THREAD_SAFETY_ANALYSIS {
  constexpr unsigned kTop = MAX_ORDER - 1;
  constexpr unsigned long kBlock = 1ul << kTop;
  BUG_ON((start_pfn | nr) & (kBlock - 1));
  if (nr == 0 || !m->mem().pfn_valid(start_pfn + nr - 1)) return false;
  PhysMem& mem = m->mem();
  zone* z = page_zone(mem.pfn_to_page(start_pfn));
  if (start_pfn < z->zone_start_pfn || start_pfn + nr > z->zone_start_pfn + z->spanned_pages) return false;
  SpinGuard g(&z->lock);
  for (unsigned long pfn = start_pfn; pfn < start_pfn + nr; pfn += kBlock) {
    page* p = mem.pfn_to_page(pfn);
    if (!PageBuddy(p) || p->private_ != kTop) return false;
  }
  for (unsigned long pfn = start_pfn; pfn < start_pfn + nr; pfn += kBlock) del_from_free_list(z, mem.pfn_to_page(pfn), kTop);
  z->free_pages.fetch_sub(static_cast<long>(nr), std::memory_order_relaxed);
  return true;
}

unsigned long nr_free_pages(Machine* m) {
  unsigned long n = 0;
  for (unsigned z = 0; z < MAX_NR_ZONES; z++) n += static_cast<unsigned long>(m->zones()[z].free_pages.load(std::memory_order_relaxed));
  return n;
}

}  // namespace guplab
