// page_alloc.h - zones, the buddy page allocator, and the zero page.
//
// Two zones: ZONE_NORMAL (kernel allocations: page tables, bounce pages) and
// ZONE_MOVABLE (user pages, which may come from either). Free pages sit on per-order
// buddy free lists under the zone lock. Every page handed out has refcount 1; a page
// returns when its last reference is put (mm/swap.h). Long-term pins of ZONE_MOVABLE
// pages are what upstream migrates away; the zone is recorded in page->flags.
//
// Threading: any task; each zone's lists are guarded by zone->lock.
#pragma once
#include <cstdint>

#include "base/spinlock.h"
#include "mm/gfp.h"
#include "mm/mm_types.h"

namespace guplab {

class Machine;

enum zone_type : unsigned { ZONE_NORMAL, ZONE_MOVABLE, MAX_NR_ZONES };

struct free_area {
  list_head free_list;
  unsigned long nr_free;
};

struct zone {
  const char* name = "";
  unsigned long zone_start_pfn = 0;
  unsigned long spanned_pages = 0;
  spinlock_t lock;
  free_area free_area_[MAX_ORDER] GUARDED_BY(lock);
  std::atomic<long> free_pages{0};
  /** seed 002's per-zone lock that serializes dma_pinned_count with page_mkclean(). */
  spinlock_t gup_lock;
};

/**
 * alloc_pages() - allocate 2^@order contiguous pages from the running task's machine.
 * Returns the first page with refcount 1, or nullptr when memory is exhausted.
 * With __GFP_COMP and order > 0 the result is a compound page (a large folio).
 */
page* alloc_pages(gfp_t gfp, unsigned order);
/** alloc_pages_on() - as alloc_pages(), on an explicit machine. */
page* alloc_pages_on(Machine* m, gfp_t gfp, unsigned order);
inline page* alloc_page(gfp_t gfp) { return alloc_pages(gfp, 0); }
/** folio_alloc() - a folio of 2^@order pages (compound when @order > 0). */
folio* folio_alloc(gfp_t gfp, unsigned order);

/**
 * __free_pages() - drop a reference to 2^@order pages allocated together; frees them
 * when it was the last.
 */
void __free_pages(page* p, unsigned order);
inline void __free_page(page* p) { __free_pages(p, 0); }

/**
 * free_pages_prepared() - give pages whose refcount has reached zero back to the buddy
 * allocator. BUGs if the page still looks in use (mapped, on the LRU, pinned, locked).
 * REQUIRES: page_ref_count(@p) == 0.
 */
void free_pages_prepared(page* p, unsigned order);

/** prep_compound_page() / destroy_compound_page() - make/unmake a compound page. */
void prep_compound_page(page* head, unsigned order);
void destroy_compound_page(page* head);

/**
 * take_free_blocks_boot() - take the frames [@start_pfn, @start_pfn + @nr) out of the
 * buddy allocator for good, as memblock reservations are (hugetlb pools, gigantic pages
 * above MAX_ORDER). Returns false, taking nothing, unless every MAX_ORDER-1 block of the
 * range is free and whole in one zone. The frames keep refcount 0 and their zone.
 * REQUIRES: boot (no task running); @start_pfn and @nr multiples of 2^(MAX_ORDER-1).
 */
bool take_free_blocks_boot(Machine* m, unsigned long start_pfn, unsigned long nr);

/**
 * prep_new_page() - what every page handed out goes through: counted, its fields reset
 * (the zone kept), zeroed for __GFP_ZERO, made compound for __GFP_COMP, refcount 1.
 * REQUIRES: the 2^@order frames at @p were just taken off a free list.
 */
void prep_new_page(Machine* m, page* p, gfp_t gfp, unsigned order);

/**
 * take_free_page() - take the free frame @pfn itself out of the buddy allocator (its
 * free block is split around it), as compaction's free scanner takes its targets.
 * Returns the page, prepared as alloc_pages() prepares one (refcount 1), or nullptr if
 * the frame is not free.
 */
page* take_free_page(Machine* m, unsigned long pfn);

/** page_zone() - the zone @p belongs to. */
zone* page_zone(const page* p);

/** nr_free_pages() - free pages of machine @m, all zones. */
unsigned long nr_free_pages(Machine* m);

/**
 * zone_init() - set up @z over [start, start+n): initialize each struct page there (all
 * zero, then its zone and no mapping: the mem_map holds nothing before) and free them.
 * Boot only; the zones together cover every pfn.
 */
void zone_init(Machine* m, zone* z, unsigned zid, const char* name, unsigned long start, unsigned long n,
               unsigned long reserved_pfn);

}  // namespace guplab
