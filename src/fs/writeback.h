// writeback.h - writing dirty page cache back (include/linux/writeback.h,
// mm/page-writeback.c, fs/fs-writeback.c): writeback_control, PG_writeback,
// clear_page_dirty_for_io(), write_cache_pages(), fsync's data part, the per-filesystem
// flusher task, and sync.
//
// What writeback does with a page that may be DMA-pinned is the machine's writeback
// policy (DESIGN decision 6): one row of the table in machine/wb_policy.h, computed at
// boot (Machine::wb()); under a design that tracks nothing (get) every policy acts as
// `ignore`. For a dirty page that page_maybe_dma_pinned() says is pinned (page_mkclean()
// finds the pin; under fake_vma by meeting the fake vma in rmap), per sync mode:
//
//   ignore      written as any page (the pre-2019 kernel). The device may be writing it
//               while it is read for I/O: a torn or stale page on disk.
//   skip        not written, left dirty (WB_SYNC_NONE and WB_SYNC_ALL: fsync returns
//               without it; wbc->pages_skipped counts it). Written once unpinned.
//   wait        WB_SYNC_ALL waits for the pin to go (page_mkclean(page, false) sleeps),
//               then writes it; WB_SYNC_NONE skips it as above. This departs from seed
//               002, whose WB_SYNC_NONE writes the page (see rfc002): `wait` is the
//               policy seed 002 aimed at, with no write while pinned and nothing lost.
//   bounce      a stable copy (a bounce page, PG_bounce) is taken and written, and the
//               page stays dirty while it may be pinned (what the device writes after
//               the copy is written by a later pass; the first pass after the unpin
//               writes the page itself). Its ptes are cleaned as usual, so a CPU write
//               faults. A copy taken while the device is half-way through a write of
//               its own is as torn as that write: bounce makes the I/O stable, not the
//               device's stores atomic.
//   keep_dirty  as skip, and unpinning a page of a file re-dirties it, so what the device
//               wrote is written even if the pinner does not dirty it.
//   rfc002      seed 002 as posted. WB_SYNC_NONE: page_mkclean(page, true) skips the
//               pinned page (its ptes stay writable) and returns 0, yet
//               clear_page_dirty_for_io() clears the dirty bit: the page is written while
//               pinned (torn if the device writes meanwhile; what it writes afterwards is
//               lost unless the driver dirties the page). WB_SYNC_ALL waits as `wait`.
//               try_to_unmap() leaves a pinned page mapped; reclaim does not otherwise
//               look at pins (an unmapped pinned page loses its buffers).
//   revoke      as skip at writeback; truncate breaks layout leases, emits
//               MMU_NOTIFY_TRUNCATE (listening devices revoke) and WARNs about a frame
//               an IOMMU still maps, pointing it at the scratch page (mm/truncate.h).
// Pinned pages are never written under skip, wait, keep_dirty, except through a bounce
// copy under bounce; ignore and rfc002 write them.
//
// Sync points (machine/sync_point.h), stable names:
//   "writeback:clear_dirty:before"  write_cache_pages(), page locked, about to call
//                                   clear_page_dirty_for_io()
//   "rmap:mkclean:pin_checked"      page_mkclean(), at a vma: the page was found unpinned,
//                                   its ptes are about to be write-protected
//   "writeback:mkclean:done"        clear_page_dirty_for_io() after page_mkclean()
//   "writeback:wait_pinned"         page_mkclean() (or folio_mkclean_wait_pinned()) about
//                                   to sleep for a pin (wait policy)
//   "writeback:submit"              a write bio is about to be submitted (pages in
//                                   PG_writeback, unlocked)
//   "writeback:end"                 a page's write completed, before PG_writeback clears
//   "flusher:wake"                  the flusher starts a pass
//
// Threading: any task; the flusher is one task per mounted filesystem. Each function
// says what it needs held.
#pragma once
#include <climits>
#include <cstdint>

#include "fs/fs.h"
#include "machine/config.h"

namespace guplab {

enum writeback_sync_modes : unsigned {
  WB_SYNC_NONE,  // don't wait on anything (background writeback, reclaim's kicks)
  WB_SYNC_ALL,   // data integrity: wait on locks and writeback of every page in range
};

/** Why a writeback pass was started (traces, counters). */
enum class wb_reason : unsigned { background, periodic, sync, fsync, vmscan, umount, manual };
const char* to_string(wb_reason r);

struct writeback_control {
  long nr_to_write = LONG_MAX;  // pages still to write (decremented)
  long pages_skipped = 0;       // dirty pages left alone (pinned: skip, keep_dirty, wait)
  long pages_written = 0;       // pages handed to the filesystem's writepage
  long pages_bounced = 0;       // of which written through a bounce copy
  loff_t range_start = 0;
  loff_t range_end = LLONG_MAX;  // inclusive
  writeback_sync_modes sync_mode = WB_SYNC_NONE;
  bool tagged_writepages = false;  // tag first even for WB_SYNC_NONE (no livelock)
  wb_reason reason = wb_reason::manual;
};

// ---- page state (mm/page-writeback.cc) ---------------------------------------------

/**
 * clear_page_dirty_for_io() - about to write locked dirty @p: make every mapping of it
 * clean and read-only (page_mkclean(), so the next CPU store faults and re-dirties it),
 * then clear PG_dirty. A pinned page: as the policy's row says for @sync_mode (seed 002's
 * skip_pinned_pages = (sync_mode != WB_SYNC_ALL) under rfc002; see the table above).
 * Returns true if the page was dirty and must now be written (under rfc002 a pinned page
 * too, its ptes left writable); false if it was clean, or if it is pinned and the policy
 * leaves it dirty (then it is still dirty).
 * REQUIRES: @p locked.
 */
bool clear_page_dirty_for_io(page* p, writeback_sync_modes sync_mode);
/** folio_start_writeback() - set PG_writeback (and the tags, NR_WRITEBACK). REQUIRES: locked. */
void folio_start_writeback(folio* f);
/** folio_end_writeback() - the write of @f completed: clear PG_writeback and wake waiters. */
void folio_end_writeback(folio* f);
/** folio_cancel_dirty() - truncate: drop @f's dirtiness without writing. REQUIRES: locked. */
void folio_cancel_dirty(folio* f);
/** folio_redirty_for_writepage() - writepage gives up on a page: dirty again, counted skipped. */
void folio_redirty_for_writepage(writeback_control* wbc, folio* f);
/**
 * folio_wait_stable() - before a CPU write (write_begin, page_mkwrite): wait for @f's
 * writeback under policies that promise a page is never written while it changes
 * (all but ignore and bounce). A FOLL_WRITE pin of a mapped page faults through
 * page_mkwrite, so it cannot begin while the page is being written either.
 */
void folio_wait_stable(folio* f);
/**
 * folio_bounce_for_write() - policy bounce: if @f may be pinned, a new page holding a
 * copy of it (PG_bounce) to write instead, and @f dirtied again (its buffers too); nullptr
 * to write @f itself. REQUIRES: @f locked, its dirty buffers already collected for this
 * write (so the re-dirtying is for the next one).
 */
page* folio_bounce_for_write(folio* f, writeback_control* wbc);
/** bounce_page_free() - the write of a bounce page completed. */
void bounce_page_free(page* b);

using writepage_t = int (*)(page* p, writeback_control* wbc, void* data);
/**
 * write_cache_pages() - walk @mapping's dirty pages in [range_start, range_end] and
 * call @writepage for each one clear_page_dirty_for_io() says to write, until
 * nr_to_write runs out. WB_SYNC_ALL first tags the dirty pages TOWRITE and writes
 * exactly those, waiting for pages already under writeback. Returns 0 or the first
 * error of @writepage.
 * REQUIRES: no page of @mapping locked by the caller.
 */
int write_cache_pages(address_space* mapping, writeback_control* wbc, writepage_t writepage, void* data);
/** do_writepages() - a_ops->writepages, or write_cache_pages() with a_ops->writepage. */
int do_writepages(address_space* mapping, writeback_control* wbc);

/** filemap_fdatawrite_wbc() - start writeback of @mapping as @wbc says. */
int filemap_fdatawrite_wbc(address_space* mapping, writeback_control* wbc);
/** filemap_fdatawrite_range() - start WB_SYNC_ALL writeback of [@start, @end]. */
int filemap_fdatawrite_range(address_space* mapping, loff_t start, loff_t end);
/** filemap_flush() - start WB_SYNC_NONE writeback of the whole mapping. */
int filemap_flush(address_space* mapping);
/** filemap_fdatawait_range() - wait for writeback of [@start, @end]; then report and clear errors. */
int filemap_fdatawait_range(address_space* mapping, loff_t start, loff_t end);
/** filemap_write_and_wait_range() - both: 0 or -EIO/-ENOSPC. */
int filemap_write_and_wait_range(address_space* mapping, loff_t start, loff_t end);
/** file_write_and_wait_range() - the data part of fsync(). */
int file_write_and_wait_range(file* filp, loff_t start, loff_t end);
/** filemap_check_errors() - a writeback error seen since the last call (and clear it). */
int filemap_check_errors(address_space* mapping);

/**
 * balance_dirty_pages_ratelimited() - after dirtying pages of @mapping: kick the
 * flusher once the machine's dirty pages pass the background threshold (10% of RAM).
 */
void balance_dirty_pages_ratelimited(address_space* mapping);

// ---- inodes, the flusher, sync (fs/fs-writeback.cc) --------------------------------

/**
 * __mark_inode_dirty() - @ino has dirty pages (I_DIRTY_PAGES) or metadata
 * (I_DIRTY_SYNC): put it on its filesystem's dirty list if it was clean. Any context
 * (no sleeping).
 */
void __mark_inode_dirty(inode* ino, unsigned long flags);
inline void mark_inode_dirty(inode* ino) { __mark_inode_dirty(ino, I_DIRTY_SYNC); }

/**
 * writeback_single_inode() - write @ino's dirty pages as @wbc says, then (WB_SYNC_ALL)
 * its metadata through s_op->write_inode; takes it off the dirty list once clean.
 */
int writeback_single_inode(inode* ino, writeback_control* wbc);
/**
 * writeback_inodes_sb() - one WB_SYNC_NONE pass over @sb's dirty inodes, oldest first,
 * writing up to @nr_pages pages. Returns pages written.
 */
long writeback_inodes_sb(super_block* sb, long nr_pages, wb_reason reason);
/** sync_inodes_sb() - WB_SYNC_ALL over every dirty inode of @sb, waiting for the I/O. */
void sync_inodes_sb(super_block* sb);
/**
 * sync_filesystem() - the device's deferred completion work flushed (block/blkdev.h:
 * deferred unpins may re-dirty pages), then data, then s_op->sync_fs(): what is written
 * is durable. Returns 0 or -errno.
 */
int sync_filesystem(super_block* sb);
/** ksys_sync() - sync(2): sync_filesystem() of every filesystem mounted on the current machine. */
void ksys_sync();

/**
 * wb_start_flusher() - start @sb's flusher task ("flush-<dev>"): it sleeps until kicked
 * (wakeup_flusher_threads(), the dirty threshold) or, with a non-zero interval, until
 * the interval passes, then runs writeback_inodes_sb() holding an active reference to
 * @sb (MountTable::grab_super(); a pass while @sb is not mounted, or being unmounted,
 * does nothing). Returns 0.
 */
int wb_start_flusher(super_block* sb, uint64_t interval_ns);
/** wb_stop_flusher() - stop and join it (umount). */
void wb_stop_flusher(super_block* sb);
/** wb_kick() - ask @sb's flusher for a pass. */
void wb_kick(super_block* sb);
/** wakeup_flusher_threads() - kick every flusher of machine @m. */
void wakeup_flusher_threads(Machine* m, wb_reason reason);
/**
 * wb_wait_for_pass() - wait until @sb's flusher has finished at least one pass that
 * started after this call (tests, scenarios). Returns 0, or -ETIMEDOUT after @timeout_ns.
 */
int wb_wait_for_pass(super_block* sb, uint64_t timeout_ns);

}  // namespace guplab
