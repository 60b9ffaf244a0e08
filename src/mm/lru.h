// lru.h - the machine's LRU lists (one node, one lruvec) under lru_lock.
//
// A folio is on an LRU list iff PG_lru is set; it is added when it is first mapped or
// cached, isolated for reclaim, and taken off when its last reference goes. The
// dma_count design (seed 002) isolates pinned pages here too, to reuse their lru field.
//
// Threading: any task; lists guarded by lru_lock.
#pragma once
#include "base/spinlock.h"
#include "mm/mm_types.h"

namespace guplab {

enum lru_list : unsigned { LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE, LRU_UNEVICTABLE, NR_LRU_LISTS };

struct lruvec {
  spinlock_t lru_lock;
  list_head lists[NR_LRU_LISTS] GUARDED_BY(lru_lock);
  unsigned long nr_pages[NR_LRU_LISTS] GUARDED_BY(lru_lock) = {};
};

void lruvec_init(lruvec* lv);

/** folio_lru_list() - which list @f belongs on, from its flags. */
lru_list folio_lru_list(const folio* f);

/** folio_add_lru() - put @f on its LRU list and set PG_lru. REQUIRES: !PG_lru. */
void folio_add_lru(folio* f);
/**
 * folio_isolate_lru() - take @f off its LRU list, clearing PG_lru, and take a reference
 * for the caller. Returns false if it was not on an LRU.
 */
bool folio_isolate_lru(folio* f);
/** folio_putback_lru() - undo folio_isolate_lru(): back on its list, reference dropped. */
void folio_putback_lru(folio* f);
/** lruvec_del_folio_if_lru() - remove @f from its LRU if it is on one; true if it was. */
bool lruvec_del_folio_if_lru(folio* f);
/** folio_mark_accessed() - referenced -> active promotion, as mark_page_accessed(). */
void folio_mark_accessed(folio* f);
/**
 * isolate_lru_folios() - take up to @nr folios off the tail (oldest end) of list @l of
 * @lv onto @dst (through their lru field), each with a reference and PG_lru cleared,
 * as folio_isolate_lru() does; folios being freed are skipped, and so are folios of
 * zones above @highest_zoneidx (reclaim for a ZONE_NORMAL allocation gains nothing from
 * freeing ZONE_MOVABLE pages): both go back to the head of the list. Returns how many.
 */
unsigned long isolate_lru_folios(lruvec* lv, lru_list l, unsigned long nr, list_head* dst,
                                 unsigned highest_zoneidx = ~0u);
/** lruvec_size() - pages on list @l. */
unsigned long lruvec_size(lruvec* lv, lru_list l);

}  // namespace guplab
