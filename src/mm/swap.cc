// swap.cc - the last reference of a folio, and LRU putback.
#include "mm/swap.h"

#include "machine/machine.h"
#include "fs/fs.h"
#include "mm/hugetlb.h"
#include "mm/lru.h"
#include "mm/memory_model.h"
#include "mm/memremap.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"

namespace guplab {

void __folio_put(folio* f) {
  if (folio_test_hugetlb(f)) return free_huge_folio(f);  // back to its pool
  if (folio_is_zone_device(f)) return free_zone_device_folio(f);  // stays with its device, idle
  lruvec_del_folio_if_lru(f);
  if (PageAnon(f)) f->mapping = nullptr;
  const unsigned order = folio_order(f);
  if (order) {
    if (PageSwapBacked(f)) page_machine(f)->vmstat().mod(NR_ANON_THPS, -1);
    destroy_compound_page(f);
  }
  f->flags.fetch_and(~((1ull << PG_dirty) | (1ull << PG_uptodate) | (1ull << PG_referenced) |
                       (1ull << PG_swapbacked) | (1ull << PG_anon_exclusive) | (1ull << PG_workingset) |
                       (1ull << PG_error) | (1ull << PG_active) | (1ull << PG_bounce) | (1ull << PG_reclaim) |
                       (1ull << PG_pin_waiters)),
                     std::memory_order_relaxed);
  free_pages_prepared(f, order);
}

void folio_putback_lru(folio* f) {
  folio_add_lru(f);
  folio_put(f);
}

bool folio_mark_dirty(folio* f) {
  address_space* mapping = page_mapping(f);
  if (mapping && mapping->a_ops && mapping->a_ops->dirty_folio) return mapping->a_ops->dirty_folio(mapping, f);
  return !TestSetPageDirty(f);
}

bool set_page_dirty_lock(page* p) {
  folio* f = page_folio(p);
  folio_lock(f);
  bool ret = folio_mark_dirty(f);
  folio_unlock(f);
  return ret;
}

}  // namespace guplab
