// swap.h - getting and putting page references; freeing a folio on its last put.
// (In the kernel these live in include/linux/mm.h and mm/swap.c.)
//
// Threading: any task. The last put may come from any context, including a device's
// completion task; freeing needs no current task (the page knows its machine).
#pragma once
#include "mm/mm_types.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"

namespace guplab {

/** folio_get() - take a reference. REQUIRES: the caller already holds one. */
inline void folio_get(folio* f) { page_ref_inc(f); }
/** get_page() - take a reference on @p's folio. REQUIRES: the caller holds one. */
inline void get_page(page* p) { folio_get(page_folio(p)); }

/** __folio_put() - free a folio whose refcount just reached zero. */
void __folio_put(folio* f);

/** folio_put() - drop a reference; frees the folio if it was the last. */
inline void folio_put(folio* f) {
  if (page_ref_dec_and_test(f)) __folio_put(f);
}
/** folio_put_refs() - drop @refs references at once. S: see base/sched.h. */
template <typename S = SchedCheck>
inline void folio_put_refs(folio* f, int refs) {
  if (page_ref_sub_and_test<S>(f, refs)) __folio_put(f);
}
/** put_page() - drop a reference on @p's folio. */
inline void put_page(page* p) { folio_put(page_folio(p)); }

/** folio_putback_lru() - back onto its LRU list after isolation, dropping the isolation ref. */
void folio_putback_lru(folio* f);

/** set_page_dirty() / folio_mark_dirty() - mark dirty; file pages tell their mapping. */
bool folio_mark_dirty(folio* f);
inline bool set_page_dirty(page* p) { return folio_mark_dirty(page_folio(p)); }
/** set_page_dirty_lock() - set_page_dirty() under the page lock, as drivers call it. */
bool set_page_dirty_lock(page* p);

}  // namespace guplab
