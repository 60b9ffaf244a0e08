// vmscan.h - page reclaim (mm/vmscan.c): freeing clean page-cache pages when memory is
// short. There is no swap, so only the file LRU lists are scanned.
//
// shrink_folio_list() takes each isolated folio through what the kernel does: trylock;
// skip pages under writeback; age (folio_referenced(): mapped pages used twice go back
// to the active list); leave dirty pages to the flusher (and kick it); unmap mapped ones
// (try_to_unmap(): a page that may be DMA-pinned stays mapped and is kept, seed 002;
// under every writeback policy but ignore a pinned page is kept before that, mapped or
// not: the pinner may still dirty it, and writeback needs its buffers then); drop the
// buffers (try_to_release_page()); finally remove it from the page cache if,
// and only if, its reference count can be frozen at exactly the references reclaim
// expects (the cache's and the isolation's). A page somebody else still holds — a GUP
// pin under the `get` design, which nothing else detects — is therefore never freed,
// but it may already have lost its buffers: that is the state seed 002's BUG_ON comes
// from.
//
// Direct reclaim: an allocation that may enter the filesystem (__GFP_FS, not
// __GFP_NORETRY) made by a task of the machine reclaims and retries before failing.
//
// Sync points: "reclaim:try_to_unmap:before" (a mapped page, locked, about to be
// unmapped), "reclaim:drop_buffers:done" (its buffers were just dropped),
// "reclaim:remove_mapping:before" (about to freeze and remove it).
//
// Threading: any task of the machine, holding no page lock, i_mmap_rwsem or
// page_table_lock (reclaim only trylocks pages).
#pragma once
#include <cstdint>

#include "mm/gfp.h"
#include "mm/mm_types.h"

namespace guplab {

class Machine;

/** reclaim_stat - what one reclaim pass saw. */
struct reclaim_stat {
  unsigned long nr_scanned = 0;
  unsigned long nr_reclaimed = 0;     // pages freed
  unsigned long nr_activated = 0;     // referenced: back to the active list
  unsigned long nr_dirty = 0;         // left to the flusher
  unsigned long nr_writeback = 0;     // under writeback
  unsigned long nr_unmap_fail = 0;    // still mapped after try_to_unmap() (pinned, mostly)
  unsigned long nr_pinned = 0;        // may be DMA-pinned: kept (policies other than ignore)
  unsigned long nr_buffers_dropped = 0;
  unsigned long nr_ref_kept = 0;      // count could not be frozen: someone holds the page
  unsigned long nr_locked = 0;        // page lock busy
};

/**
 * shrink_folio_list() - try to free every folio on @folios (isolated from the LRU,
 * each holding the isolation reference); what is not freed goes back to the LRU.
 * Returns pages freed; adds to *@stat.
 */
unsigned long shrink_folio_list(list_head* folios, reclaim_stat* stat);

/**
 * try_to_free_pages() - reclaim at least @nr_to_reclaim pages of machine @m if it can
 * (scanning the inactive file list, refilling it from the active one), from the zones
 * an allocation with @gfp may use: every zone with __GFP_MOVABLE, ZONE_NORMAL only
 * without (kernel allocations). Returns pages freed. REQUIRES: a task of @m; see the
 * threading note above.
 */
unsigned long try_to_free_pages(Machine* m, unsigned long nr_to_reclaim, gfp_t gfp, reclaim_stat* stat = nullptr);

/** try_to_release_page() - drop the filesystem's private data (buffers) of locked clean @f. */
bool try_to_release_page(folio* f, gfp_t gfp);

/** __alloc_pages_may_reclaim() - the allocator asks: may this allocation reclaim? */
bool __alloc_pages_may_reclaim(Machine* m, gfp_t gfp);

}  // namespace guplab
