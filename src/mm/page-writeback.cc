// page-writeback.cc - dirty and writeback page state, clear_page_dirty_for_io() with
// the writeback policies, write_cache_pages(), and the data half of fsync().
#include <fmt/format.h>


#include "machine/trace_point.h"
#include "base/bug.h"
#include "base/errno.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/filemap.h"
#include "mm/internal.h"
#include "mm/memory.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/pin.h"
#include "mm/rmap.h"
#include "mm/swap.h"

namespace guplab {

const char* to_string(wb_reason r) {
  switch (r) {
    case wb_reason::background: return "background";
    case wb_reason::periodic: return "periodic";
    case wb_reason::sync: return "sync";
    case wb_reason::fsync: return "fsync";
    case wb_reason::vmscan: return "vmscan";
    case wb_reason::umount: return "umount";
    case wb_reason::manual: return "manual";
  }
  return "?";
}

namespace {

bool mapping_can_writeback(const address_space* mapping) {
  return mapping->a_ops && (mapping->a_ops->writepage || mapping->a_ops->writepages);
}

void clear_tags(address_space* mapping, folio* f, bool dirty_too) {
  SpinGuard g(&mapping->i_pages.xa_lock);
  if (folio_mapping_read(f) != mapping) return;
  if (dirty_too) __xa_clear_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_DIRTY);
  __xa_clear_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_TOWRITE);
}

/** pinned_write() - what the policy of @m does with a pinned page in a @sync_mode writeback. */
PinnedWrite pinned_write(const Machine* m, writeback_sync_modes sync_mode) {
  return sync_mode == WB_SYNC_ALL ? m->wb().sync_all : m->wb().sync_none;
}

}  // namespace

// ---- dirty / writeback state --------------------------------------------------------

bool clear_page_dirty_for_io(page* p, writeback_sync_modes sync_mode) {
  folio* f = page_folio(p);
  BUG_ON(!PageLocked(f));
  address_space* mapping = folio_mapping_read(f);
  if (!mapping || !mapping_can_writeback(mapping)) return TestClearPageDirty(f);
  Machine* m = page_machine(f);
  const PinnedWrite action = pinned_write(m, sync_mode);
  // Seed 002's skip_pinned_pages = (sync_mode != WB_SYNC_ALL) under rfc002; a policy
  // that leaves a pinned page alone skips it in every mode it does so.
  const bool skip_pinned_pages = action == PinnedWrite::skip || action == PinnedWrite::write_unprotected;
  // Every mapping made clean and read-only first, so a CPU store after this point
  // faults and dirties the page again rather than slipping past the write.
  int skipped = 0;
  const int cleaned = __page_mkclean(p, skip_pinned_pages, &skipped);
  TEST_SYNC_POINT(sp::kWritebackMkcleanDone);
  if (skipped && action == PinnedWrite::skip) {
    if (m->tracing())
      m->trace(fmt::format("clear_page_dirty_for_io: index {} pinned, left dirty ({})", f->index,
                           to_string(m->wb_effective_policy())));
    return false;
  }
  // rfc002 (seed 002 as posted): page_mkclean() skipped the pinned page and returned 0,
  // its ptes still writable; the dirty bit is cleared all the same and the page written.
  if (skipped && m->tracing())
    m->trace(fmt::format("clear_page_dirty_for_io: index {} pinned, ptes left writable, written ({})", f->index,
                         to_string(m->wb_effective_policy())));
  if (cleaned && !skipped) folio_mark_dirty(f);  // a dirty pte's data belongs to this write
  if (TestClearPageDirty(f)) {
    m->vmstat().mod(NR_FILE_DIRTY, -1);
    return true;
  }
  return false;
}

void folio_start_writeback(folio* f) {
  BUG_ON(!PageLocked(f));
  BUG_ON_MSG(TestSetPageWriteback(f), "folio_start_writeback: already under writeback");
  if (address_space* mapping = folio_mapping_read(f)) {
    SpinGuard g(&mapping->i_pages.xa_lock);
    __xa_set_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_WRITEBACK);
    if (!PageDirty(f)) __xa_clear_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_DIRTY);
    __xa_clear_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_TOWRITE);
  }
  page_machine(f)->vmstat().inc(NR_WRITEBACK);
  trace_point(page_machine(f), "writeback", "folio_start_writeback", "pfn={:#x} index={}{}", page_to_pfn(f), f->index,
              folio_maybe_dma_pinned(f) ? " pinned" : "");
}

void folio_end_writeback(folio* f) {
  TEST_SYNC_POINT(sp::kWritebackEnd);
  folio_get(f);  // a waiter may truncate and free it the moment the bit clears
  if (address_space* mapping = folio_mapping_read(f)) {
    SpinGuard g(&mapping->i_pages.xa_lock);
    __xa_clear_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_WRITEBACK);
  }
  BUG_ON_MSG(!TestClearPageWriteback(f), "folio_end_writeback: not under writeback");
  page_machine(f)->vmstat().mod(NR_WRITEBACK, -1);
  trace_point(page_machine(f), "writeback", "folio_end_writeback", "pfn={:#x} index={}", page_to_pfn(f), f->index);
  folio_wake_bit(f, PG_writeback);
  folio_put(f);
}

void folio_cancel_dirty(folio* f) {
  BUG_ON(!PageLocked(f));
  address_space* mapping = folio_mapping_read(f);
  if (TestClearPageDirty(f) && mapping) {
    page_machine(f)->vmstat().mod(NR_FILE_DIRTY, -1);
    clear_tags(mapping, f, true);
  }
}

void folio_redirty_for_writepage(writeback_control* wbc, folio* f) {
  wbc->pages_skipped++;
  folio_mark_dirty(f);
}

void folio_wait_stable(folio* f) {
  if (page_machine(f)->wb().stable_pages) folio_wait_writeback(f);
}

page* folio_bounce_for_write(folio* f, writeback_control* wbc) {
  Machine* m = page_machine(f);
  if (pinned_write(m, wbc->sync_mode) != PinnedWrite::bounce || !folio_maybe_dma_pinned(f)) return nullptr;
  page* b = alloc_pages_on(m, gfp_t::GFP_KERNEL, 0);
  if (!b) return nullptr;  // no memory: the page itself is written (as ignore)
  // The device may be writing @f right now: this copy is what goes to disk.
  copy_frame(page_address(b), page_address(f));
  SetPageBounce(b);
  wbc->pages_bounced++;
  // The copy is what this write makes durable; whatever the device stores after it
  // must reach the disk too, so the page stays dirty (its buffers as well) while it
  // may be pinned: the next writeback takes a new copy, the first one after the unpin
  // writes the page itself.
  folio_mark_dirty(f);
  if (m->tracing()) m->trace(fmt::format("writeback: index {} pinned, writing a bounce copy, kept dirty", f->index));
  return b;
}

void bounce_page_free(page* b) {
  ClearPageBounce(b);
  put_page(b);
}

// ---- walking a mapping's dirty pages --------------------------------------------------

namespace {
void tag_pages_for_writeback(address_space* mapping, pgoff_t start, pgoff_t end) {
  SpinGuard g(&mapping->i_pages.xa_lock);
  pgoff_t index = start;
  while (index <= end) {
    pgoff_t found = index;
    if (!xa_find(&mapping->i_pages, &found, end, PAGECACHE_TAG_DIRTY)) break;
    __xa_set_mark(&mapping->i_pages, found, PAGECACHE_TAG_TOWRITE);
    if (found == end) break;
    index = found + 1;
  }
}

pgoff_t last_index(loff_t range_end) {
  return range_end == LLONG_MAX ? ~0ul : static_cast<pgoff_t>(range_end >> PAGE_SHIFT);
}
}  // namespace

int write_cache_pages(address_space* mapping, writeback_control* wbc, writepage_t writepage, void* data) {
  pgoff_t index = static_cast<pgoff_t>(wbc->range_start >> PAGE_SHIFT);
  const pgoff_t end = last_index(wbc->range_end);
  const bool tagged = wbc->sync_mode == WB_SYNC_ALL || wbc->tagged_writepages;
  const xa_mark_t tag = tagged ? PAGECACHE_TAG_TOWRITE : PAGECACHE_TAG_DIRTY;
  // Data integrity: write exactly what is dirty now, not what gets dirtied meanwhile.
  if (tagged) tag_pages_for_writeback(mapping, index, end);
  int ret = 0;
  bool done = false;
  folio_batch fb;
  while (!done && index <= end) {
    if (!filemap_get_folios_tag(mapping, &index, end, tag, &fb)) break;
    for (unsigned i = 0; i < fb.nr && !done; i++) {
      folio* f = fb.folios[i];
      folio_lock(f);
      if (folio_mapping_read(f) != mapping) {  // truncated
        folio_unlock(f);
        continue;
      }
      if (!PageDirty(f)) {  // written by someone else meanwhile
        clear_tags(mapping, f, true);
        folio_unlock(f);
        continue;
      }
      if (PageWriteback(f)) {
        if (wbc->sync_mode == WB_SYNC_NONE) {
          folio_unlock(f);
          continue;
        }
        folio_wait_writeback(f);
      }
      TEST_SYNC_POINT(sp::kWritebackClearDirtyBefore);
      if (!clear_page_dirty_for_io(f, wbc->sync_mode)) {
        if (PageDirty(f)) {  // pinned, and the policy leaves it dirty
          wbc->pages_skipped++;
          clear_tags(mapping, f, false);
        }
        folio_unlock(f);
        continue;
      }
      const int err = writepage(f, wbc, data);  // unlocks @f
      wbc->pages_written++;
      if (err) {
        if (!ret) ret = err;
        if (wbc->sync_mode == WB_SYNC_NONE) done = true;
      }
      if (--wbc->nr_to_write <= 0 && wbc->sync_mode == WB_SYNC_NONE) done = true;
    }
    folio_batch_release(&fb);
    cond_resched();
  }
  return ret;
}

int do_writepages(address_space* mapping, writeback_control* wbc) {
  if (!mapping->a_ops) return 0;
  if (mapping->a_ops->writepages) return mapping->a_ops->writepages(mapping, wbc);
  if (mapping->a_ops->writepage) return write_cache_pages(mapping, wbc, mapping->a_ops->writepage, nullptr);
  return 0;
}

int filemap_fdatawrite_wbc(address_space* mapping, writeback_control* wbc) {
  if (!mapping_can_writeback(mapping) || !xa_marked(&mapping->i_pages, PAGECACHE_TAG_DIRTY)) return 0;
  return do_writepages(mapping, wbc);
}

int filemap_fdatawrite_range(address_space* mapping, loff_t start, loff_t end) {
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_ALL;
  wbc.range_start = start;
  wbc.range_end = end;
  wbc.reason = wb_reason::fsync;
  return filemap_fdatawrite_wbc(mapping, &wbc);
}

int filemap_flush(address_space* mapping) {
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_NONE;
  return filemap_fdatawrite_wbc(mapping, &wbc);
}

int filemap_check_errors(address_space* mapping) {
  int ret = 0;
  if (test_bit(AS_ENOSPC, &mapping->flags) && test_and_clear_bit(AS_ENOSPC, &mapping->flags)) ret = -ENOSPC;
  if (test_bit(AS_EIO, &mapping->flags) && test_and_clear_bit(AS_EIO, &mapping->flags)) ret = -EIO;
  return ret;
}

int filemap_fdatawait_range(address_space* mapping, loff_t start, loff_t end) {
  pgoff_t index = static_cast<pgoff_t>(start >> PAGE_SHIFT);
  const pgoff_t last = last_index(end);
  folio_batch fb;
  while (index <= last && filemap_get_folios_tag(mapping, &index, last, PAGECACHE_TAG_WRITEBACK, &fb)) {
    for (unsigned i = 0; i < fb.nr; i++) folio_wait_writeback(fb.folios[i]);
    folio_batch_release(&fb);
  }
  return filemap_check_errors(mapping);
}

int filemap_write_and_wait_range(address_space* mapping, loff_t start, loff_t end) {
  int err = filemap_fdatawrite_range(mapping, start, end);
  int err2 = filemap_fdatawait_range(mapping, start, end);
  return err ? err : err2;
}

int file_write_and_wait_range(file* filp, loff_t start, loff_t end) {
  return filemap_write_and_wait_range(filp->f_mapping, start, end);
}

void balance_dirty_pages_ratelimited(address_space* mapping) {
  Machine* m = current_machine();
  const int64_t dirty = m->vmstat().read(NR_FILE_DIRTY);
  const int64_t ram = static_cast<int64_t>(m->mem().nr_pages());
  if (dirty > ram / 10) wakeup_flusher_threads(m, wb_reason::background);
  // Past the hard limit the writer helps: it writes some of its own pages.
  if (dirty > ram / 5) {
    writeback_control wbc;
    wbc.sync_mode = WB_SYNC_NONE;
    wbc.nr_to_write = 256;
    wbc.reason = wb_reason::background;
    filemap_fdatawrite_wbc(mapping, &wbc);
  }
}

}  // namespace guplab
