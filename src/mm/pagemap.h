// pagemap.h - the page lock (PG_locked) and waiting on page bits.
//
// The page lock serializes a page's state changes (truncate, writeback start, mapping
// changes, set_page_dirty_lock()). Sleepers use the machine's hashed bit-wait table.
// Threading: any task. Not recursive.
#pragma once
#include "base/bit_wait.h"
#include "machine/machine.h"
#include "mm/memory_model.h"
#include "mm/page-flags.h"

namespace guplab {

inline BitWaitTable* folio_waitqueue_table(const folio* f) { return page_machine(f)->bit_wait_table(); }

/** folio_trylock() - take the folio lock if it is free. */
inline bool folio_trylock(folio* f) { return !test_and_set_bit_lock(PG_locked, &f->flags); }
/** folio_lock() - take the folio lock, sleeping while someone else holds it. */
inline void folio_lock(folio* f) {
  might_sleep();
  if (!folio_trylock(f)) wait_on_bit_lock(folio_waitqueue_table(f), &f->flags, PG_locked);
}
/** folio_unlock() - release the folio lock and wake sleepers. REQUIRES: locked by caller. */
inline void folio_unlock(folio* f) {
  clear_bit_unlock(PG_locked, &f->flags);
  wake_up_bit(folio_waitqueue_table(f), &f->flags, PG_locked);
}
inline void lock_page(page* p) { folio_lock(page_folio(p)); }
inline void unlock_page(page* p) { folio_unlock(page_folio(p)); }
inline bool trylock_page(page* p) { return folio_trylock(page_folio(p)); }

/** folio_wait_writeback() - sleep until PG_writeback is clear. */
inline void folio_wait_writeback(folio* f) {
  // wait_on_bit() tests the bit first, with acquire ordering.
  wait_on_bit(folio_waitqueue_table(f), &f->flags, PG_writeback);
}
/** folio_wake_bit() - wake sleepers on a page bit after clearing it. */
inline void folio_wake_bit(folio* f, unsigned bit) { wake_up_bit(folio_waitqueue_table(f), &f->flags, bit); }

}  // namespace guplab
