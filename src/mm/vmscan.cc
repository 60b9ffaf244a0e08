// vmscan.cc - reclaim of clean page-cache pages.
#include "mm/vmscan.h"

#include <fmt/format.h>

#include "base/bug.h"
#include "base/task.h"
#include "fs/buffer_head.h"
#include "fs/fs.h"
#include "fs/writeback.h"  // wakeup_flusher_threads()
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/filemap.h"
#include "mm/gup.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/rmap.h"
#include "mm/swap.h"

namespace guplab {

namespace {

constexpr int kDefPriority = 12;

void trace(Machine* m, const folio* f, const char* what) {
  if (m->tracing()) m->trace(fmt::format("reclaim: pfn {:#x} index {}: {}", page_to_pfn(f), f->index, what));
}

// Remove @f from the cache if its count is exactly the cache's and ours.
bool remove_mapping(address_space* mapping, folio* f) {
  SpinGuard g(&mapping->i_pages.xa_lock);
  if (!page_ref_freeze(f, 2)) return false;
  if (PageDirty(f)) {  // dirtied through a pin or a racing fault: not ours to drop
    page_ref_unfreeze(f, 2);
    return false;
  }
  __filemap_remove_folio(mapping, f);
  return true;
}

enum class verdict { reclaim, keep, activate };

verdict check_references(folio* f) {
  const int ptes = folio_referenced(f);
  const bool referenced = TestClearPageReferenced(f);
  if (ptes) {
    // Mapped and used: used twice (two ptes, or a pte and a read) stays in memory.
    if (referenced || ptes > 1) return verdict::activate;
    SetPageReferenced(f);
    return verdict::keep;
  }
  return verdict::reclaim;
}

}  // namespace

bool try_to_release_page(folio* f, gfp_t gfp) {
  BUG_ON(!PageLocked(f));
  if (PageWriteback(f)) return false;
  address_space* mapping = folio_mapping_read(f);
  if (mapping && mapping->a_ops && mapping->a_ops->release_folio) return mapping->a_ops->release_folio(f, gfp);
  return try_to_free_buffers(f);
}

unsigned long shrink_folio_list(list_head* folios, reclaim_stat* stat) {
  unsigned long freed = 0;
  list_head keep;
  INIT_LIST_HEAD(&keep);
  bool saw_dirty = false;
  Machine* m = nullptr;
  while (!list_empty(folios)) {
    folio* f = static_cast<folio*>(list_entry(folios->next, page, lru));
    list_del(&f->lru);
    m = page_machine(f);
    stat->nr_scanned++;
    auto keep_it = [&](bool activate) {
      if (activate) {
        SetPageActive(f);
        stat->nr_activated++;
      }
      list_add_tail(&f->lru, &keep);
    };
    if (!folio_trylock(f)) {
      stat->nr_locked++;
      keep_it(false);
      continue;
    }
    address_space* mapping = folio_mapping_read(f);
    if (PageWriteback(f)) {
      stat->nr_writeback++;
      folio_unlock(f);
      keep_it(false);
      continue;
    }
    if (PageAnon(f) || !mapping) {  // no swap; a truncated page is freed by its last put
      folio_unlock(f);
      keep_it(false);
      continue;
    }
    const verdict v = check_references(f);
    if (v != verdict::reclaim) {
      folio_unlock(f);
      keep_it(v == verdict::activate);
      continue;
    }
    if (PageDirty(f)) {
      stat->nr_dirty++;
      saw_dirty = true;
      folio_unlock(f);
      keep_it(false);
      continue;
    }
    // A page a device may be writing keeps its mapping and its buffers where the policy
    // says so (all that act on pins but rfc002): dropping them is what lets a driver's late
    // set_page_dirty() reach writepage with no buffers (seed 002's crash).
    if (m->wb().reclaim_keeps_pinned && folio_maybe_dma_pinned(f)) {
      stat->nr_pinned++;
      trace(m, f, "may be DMA-pinned: kept with its buffers");
      folio_unlock(f);
      keep_it(true);
      continue;
    }
    if (folio_mapped(f)) {
      TEST_SYNC_POINT(sp::kReclaimTryToUnmapBefore);
      if (!try_to_unmap(f, TTU_NONE)) {
        stat->nr_unmap_fail++;
        trace(m, f, "still mapped (pinned?): kept");
        folio_unlock(f);
        keep_it(true);
        continue;
      }
      if (PageDirty(f)) {  // a dirty pte came back with it
        stat->nr_dirty++;
        saw_dirty = true;
        folio_unlock(f);
        keep_it(false);
        continue;
      }
    }
    if (PagePrivate(f)) {
      if (!try_to_release_page(f, gfp_t::GFP_KERNEL)) {
        folio_unlock(f);
        keep_it(true);
        continue;
      }
      stat->nr_buffers_dropped++;
      trace(m, f, "buffers dropped");
      TEST_SYNC_POINT(sp::kReclaimDropBuffersDone);
    }
    TEST_SYNC_POINT(sp::kReclaimRemoveMappingBefore);
    if (!remove_mapping(mapping, f)) {
      stat->nr_ref_kept++;
      trace(m, f, "referenced by someone (a pin?): kept in the page cache");
      folio_unlock(f);
      keep_it(false);
      continue;
    }
    // Nobody can reach it now (count frozen at zero, out of the cache): free it.
    __ClearPageLocked(f);
    __folio_put(f);
    freed++;
  }
  while (!list_empty(&keep)) {
    folio* f = static_cast<folio*>(list_entry(keep.next, page, lru));
    list_del(&f->lru);
    folio_putback_lru(f);
  }
  stat->nr_reclaimed += freed;
  if (m) {
    m->vmstat().mod(PGSTEAL, static_cast<int64_t>(freed));
    if (saw_dirty) wakeup_flusher_threads(m, wb_reason::vmscan);
  }
  return freed;
}

namespace {

// Age the active file list: pages whose ptes were not used since the last look move to
// the inactive list.
void shrink_active_list(Machine* m, unsigned long nr, unsigned highest_zoneidx) {
  list_head l;
  INIT_LIST_HEAD(&l);
  unsigned long n = isolate_lru_folios(m->lru(), LRU_ACTIVE_FILE, nr, &l, highest_zoneidx);
  m->vmstat().mod(PGREFILL, static_cast<int64_t>(n));
  while (!list_empty(&l)) {
    folio* f = static_cast<folio*>(list_entry(l.next, page, lru));
    list_del(&f->lru);
    bool keep_active = false;
    if (folio_trylock(f)) {
      keep_active = folio_referenced(f) > 0;
      folio_unlock(f);
    }
    if (!keep_active) ClearPageActive(f);
    else m->vmstat().inc(PGROTATED);
    folio_putback_lru(f);
  }
}

}  // namespace

unsigned long try_to_free_pages(Machine* m, unsigned long nr_to_reclaim, gfp_t gfp, reclaim_stat* out) {
  reclaim_stat stat;
  unsigned long freed = 0;
  lruvec* lv = m->lru();
  // Only pages of zones the allocation may use are worth freeing (gfp_zone()).
  const unsigned highest_zoneidx = any(gfp, gfp_t::__GFP_MOVABLE) ? ZONE_MOVABLE : ZONE_NORMAL;
  for (int prio = kDefPriority; prio >= 0 && freed < nr_to_reclaim; prio--) {
    const unsigned long inactive = lruvec_size(lv, LRU_INACTIVE_FILE);
    const unsigned long active = lruvec_size(lv, LRU_ACTIVE_FILE);
    if (!inactive && !active) break;
    unsigned long scan = (inactive + active) >> prio;
    if (scan < 32) scan = 32;
    if (active > inactive) shrink_active_list(m, scan, highest_zoneidx);
    list_head l;
    INIT_LIST_HEAD(&l);
    const unsigned long n = isolate_lru_folios(lv, LRU_INACTIVE_FILE, scan, &l, highest_zoneidx);
    m->vmstat().mod(PGSCAN, static_cast<int64_t>(n));
    if (n) freed += shrink_folio_list(&l, &stat);
    cond_resched();
  }
  if (m->tracing() && stat.nr_scanned)
    m->trace(fmt::format("reclaim: scanned {} freed {} unmap_fail {} ref_kept {} dirty {} buffers_dropped {}",
                         stat.nr_scanned, stat.nr_reclaimed, stat.nr_unmap_fail, stat.nr_ref_kept, stat.nr_dirty,
                         stat.nr_buffers_dropped));
  if (out) {
    out->nr_scanned += stat.nr_scanned;
    out->nr_reclaimed += stat.nr_reclaimed;
    out->nr_activated += stat.nr_activated;
    out->nr_dirty += stat.nr_dirty;
    out->nr_writeback += stat.nr_writeback;
    out->nr_unmap_fail += stat.nr_unmap_fail;
    out->nr_buffers_dropped += stat.nr_buffers_dropped;
    out->nr_ref_kept += stat.nr_ref_kept;
    out->nr_locked += stat.nr_locked;
    out->nr_pinned += stat.nr_pinned;
  }
  return freed;
}

bool __alloc_pages_may_reclaim(Machine* m, gfp_t gfp) {
  if (!any(gfp, gfp_t::__GFP_FS) || any(gfp, gfp_t::__GFP_NORETRY)) return false;
  task_struct* t = current();
  return t && t->machine == m;
}

}  // namespace guplab
