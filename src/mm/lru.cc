// lru.cc - adding, isolating and removing folios on the LRU lists.
#include "mm/lru.h"

#include "base/bug.h"
#include "machine/machine.h"
#include "mm/memory_model.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"

namespace guplab {

namespace {
lruvec* folio_lruvec(const folio* f) { return page_machine(f)->lru(); }
vm_stat_item lru_stat(lru_list l) {
  switch (l) {
    case LRU_INACTIVE_ANON: return NR_ZONE_INACTIVE_ANON;
    case LRU_ACTIVE_ANON: return NR_ZONE_ACTIVE_ANON;
    case LRU_INACTIVE_FILE: return NR_ZONE_INACTIVE_FILE;
    case LRU_ACTIVE_FILE: return NR_ZONE_ACTIVE_FILE;
    default: return NR_ZONE_UNEVICTABLE;
  }
}
void del_locked(lruvec* lv, folio* f) REQUIRES(lv->lru_lock) {
  lru_list l = folio_lru_list(f);
  list_del(&f->lru);
  lv->nr_pages[l] -= folio_nr_pages(f);
  page_machine(f)->vmstat().mod(lru_stat(l), -static_cast<int64_t>(folio_nr_pages(f)));
}
void add_locked(lruvec* lv, folio* f) REQUIRES(lv->lru_lock) {
  lru_list l = folio_lru_list(f);
  list_add(&f->lru, &lv->lists[l]);
  lv->nr_pages[l] += folio_nr_pages(f);
  page_machine(f)->vmstat().mod(lru_stat(l), static_cast<int64_t>(folio_nr_pages(f)));
}
}  // namespace

void lruvec_init(lruvec* lv) NO_THREAD_SAFETY_ANALYSIS {
  spin_lock_init(&lv->lru_lock, "lru_lock");
  for (auto& l : lv->lists) INIT_LIST_HEAD(&l);
}

lru_list folio_lru_list(const folio* f) {
  if (PageUnevictable(f)) return LRU_UNEVICTABLE;
  const bool file = !PageSwapBacked(f);
  const bool active = PageActive(f);
  if (file) return active ? LRU_ACTIVE_FILE : LRU_INACTIVE_FILE;
  return active ? LRU_ACTIVE_ANON : LRU_INACTIVE_ANON;
}

void folio_add_lru(folio* f) {
  lruvec* lv = folio_lruvec(f);
  SpinGuard g(&lv->lru_lock);
  BUG_ON(PageLRU(f));
  add_locked(lv, f);
  SetPageLRU(f);
}

bool folio_isolate_lru(folio* f) {
  lruvec* lv = folio_lruvec(f);
  SpinGuard g(&lv->lru_lock);
  if (!PageLRU(f)) return false;
  // A folio whose last reference is going away is not ours to take.
  if (!get_page_unless_zero(f)) return false;
  ClearPageLRU(f);
  del_locked(lv, f);
  return true;
}

bool lruvec_del_folio_if_lru(folio* f) {
  lruvec* lv = folio_lruvec(f);
  SpinGuard g(&lv->lru_lock);
  if (!PageLRU(f)) return false;
  ClearPageLRU(f);
  del_locked(lv, f);
  return true;
}

void folio_mark_accessed(folio* f) {
  if (!PageReferenced(f)) {
    SetPageReferenced(f);
    return;
  }
  if (PageActive(f) || PageUnevictable(f)) return;
  lruvec* lv = folio_lruvec(f);
  SpinGuard g(&lv->lru_lock);
  if (PageLRU(f)) {
    del_locked(lv, f);
    SetPageActive(f);
    add_locked(lv, f);
  } else {
    SetPageActive(f);
  }
  ClearPageReferenced(f);
  page_machine(f)->vmstat().inc(PGACTIVATE);
}

unsigned long isolate_lru_folios(lruvec* lv, lru_list l, unsigned long nr, list_head* dst,
                                 unsigned highest_zoneidx) {
  unsigned long taken = 0;
  SpinGuard g(&lv->lru_lock);
  list_head* head = &lv->lists[l];
  // Folios passed over keep their place at the old end, in their order (newest first
  // in @skipped, so that appending it puts the oldest last again).
  list_head skipped;
  INIT_LIST_HEAD(&skipped);
  // A zone-restricted scan may have to look at the whole list to find its pages.
  const unsigned long budget = highest_zoneidx == ~0u ? 4 * nr + 16 : lv->nr_pages[l] + 16;
  for (unsigned long scanned = 0; taken < nr && !list_empty(head) && scanned < budget; scanned++) {
    folio* f = static_cast<folio*>(list_entry(head->prev, page, lru));
    // Of a zone the caller cannot use, or its last reference is going (leave it to
    // __folio_put()): not ours.
    if (page_zonenum(f) > highest_zoneidx || !get_page_unless_zero(f)) {
      list_del(&f->lru);
      list_add(&f->lru, &skipped);
      continue;
    }
    ClearPageLRU(f);
    del_locked(lv, f);
    list_add_tail(&f->lru, dst);
    taken++;
  }
  while (!list_empty(&skipped)) {
    list_head* e = skipped.next;
    list_del(e);
    list_add_tail(e, head);
  }
  return taken;
}

unsigned long lruvec_size(lruvec* lv, lru_list l) {
  SpinGuard g(&lv->lru_lock);
  return lv->nr_pages[l];
}

}  // namespace guplab
