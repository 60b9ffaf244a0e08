// fs-writeback.cc - dirty inodes, the per-filesystem flusher task, sync.
#include <fmt/format.h>

#include <vector>

#include "base/bug.h"
#include "base/clock.h"
#include "base/task.h"
#include "block/blkdev.h"
#include "fs/super.h"
#include "fs/writeback.h"
#include "block/genhd.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"

namespace guplab {

void __mark_inode_dirty(inode* ino, unsigned long flags) {
  super_block* sb = ino->i_sb;
  if (!sb) return;
  bdi_writeback* wb = &sb->s_wb;
  SpinGuard gl(&wb->list_lock);
  SpinGuard gi(&ino->i_lock);
  if ((ino->i_state & flags) == flags) return;
  const bool was_dirty = ino->i_state & I_DIRTY;
  ino->i_state |= flags;
  if (was_dirty) return;
  ino->dirtied_when = ktime_get_ns();
  // An inode being written back is requeued by its writer; a dying one never is.
  if (!(ino->i_state & (I_SYNC | I_FREEING)) && list_empty(&ino->i_io_list))
    list_add_tail(&ino->i_io_list, &wb->b_dirty);
}

namespace {

enum class grab : uint8_t { dirty, dirty_or_syncing, all };

// Referenced inodes of @sb: those on its dirty list, those and the ones being written
// back right now (off the list while their writer works), or every one.
std::vector<inode*> grab_inodes(super_block* sb, grab which) {
  std::vector<inode*> out;
  SpinGuard gs(&sb->s_inode_list_lock);
  auto take = [&](inode* i, bool only_syncing) {
    SpinGuard gi(&i->i_lock);
    if (i->i_state & (I_FREEING | I_NEW)) return;
    if (only_syncing && !(i->i_state & (I_SYNC | I_DIRTY))) return;
    atomic_inc(&i->i_count);  // under s_inode_list_lock: iput() is not evicting it
    out.push_back(i);
  };
  if (which != grab::dirty) {
    for (list_head* e = sb->s_inodes.next; e != &sb->s_inodes; e = e->next)
      take(list_entry(e, inode, i_sb_list), which == grab::dirty_or_syncing);
  } else {
    SpinGuard gl(&sb->s_wb.list_lock);
    for (list_head* e = sb->s_wb.b_dirty.next; e != &sb->s_wb.b_dirty; e = e->next)
      take(list_entry(e, inode, i_io_list), false);
  }
  return out;
}

// Until @ino's writer (another task in writeback_single_inode()) is done with it.
void inode_wait_for_writeback(inode* ino) NO_THREAD_SAFETY_ANALYSIS {
  bdi_writeback* wb = &ino->i_sb->s_wb;
  wait_event(&wb->sync_wait, [ino] {
    SpinGuard gi(&ino->i_lock);
    return !(ino->i_state & I_SYNC);
  });
}

}  // namespace

int writeback_single_inode(inode* ino, writeback_control* wbc) {
  super_block* sb = ino->i_sb;
  address_space* mapping = ino->i_mapping;
  unsigned long dirty = 0;
  for (;;) {
    {
      SpinGuard gl(&sb->s_wb.list_lock);
      SpinGuard gi(&ino->i_lock);
      if (ino->i_state & I_SYNC) {
        // Another task is writing it back. A background pass leaves it to that writer;
        // data integrity cannot: it waits (no lock held, below) and then writes what is
        // still dirty itself.
        if (wbc->sync_mode != WB_SYNC_ALL) return 0;
      } else {
        dirty = ino->i_state & I_DIRTY;
        // Cleared before writing: whatever dirties it during the write marks it again.
        ino->i_state &= ~I_DIRTY;
        ino->i_state |= I_SYNC;
        if (!list_empty(&ino->i_io_list)) list_del_init(&ino->i_io_list);
        break;
      }
    }
    inode_wait_for_writeback(ino);
  }
  int ret = do_writepages(mapping, wbc);
  if (wbc->sync_mode == WB_SYNC_ALL) {
    int err = filemap_fdatawait_range(mapping, 0, LLONG_MAX);
    if (!ret) ret = err;
  }
  if ((dirty & I_DIRTY_SYNC) && sb->s_op->write_inode) {
    int err = sb->s_op->write_inode(ino, wbc);
    if (!ret) ret = err;
  }
  {
    SpinGuard gl(&sb->s_wb.list_lock);
    SpinGuard gi(&ino->i_lock);
    ino->i_state &= ~I_SYNC;
    // Pages left dirty (skipped as pinned, or dirtied meanwhile) keep it on the list.
    if (xa_marked(&mapping->i_pages, PAGECACHE_TAG_DIRTY)) ino->i_state |= I_DIRTY_PAGES;
    if ((ino->i_state & I_DIRTY) && !(ino->i_state & I_FREEING) && list_empty(&ino->i_io_list))
      list_add_tail(&ino->i_io_list, &sb->s_wb.b_dirty);
  }
  wake_up_all(&sb->s_wb.sync_wait);
  return ret;
}

long writeback_inodes_sb(super_block* sb, long nr_pages, wb_reason reason) {
  long written = 0;
  for (inode* ino : grab_inodes(sb, grab::dirty)) {
    if (written < nr_pages) {
      writeback_control wbc;
      wbc.sync_mode = WB_SYNC_NONE;
      wbc.nr_to_write = nr_pages - written;
      wbc.reason = reason;
      writeback_single_inode(ino, &wbc);
      written += wbc.pages_written;
    }
    iput(ino);
  }
  return written;
}

void sync_inodes_sb(super_block* sb) {
  // The inodes a background pass is writing are off the dirty list, and may keep dirty
  // pages it skipped: sync waits for that pass and writes them itself.
  for (inode* ino : grab_inodes(sb, grab::dirty_or_syncing)) {
    writeback_control wbc;
    wbc.sync_mode = WB_SYNC_ALL;
    wbc.reason = wb_reason::sync;
    writeback_single_inode(ino, &wbc);
    iput(ino);
  }
  // Writeback started earlier (by the flusher) on inodes that are clean now.
  for (inode* ino : grab_inodes(sb, grab::all)) {
    filemap_fdatawait_range(ino->i_mapping, 0, LLONG_MAX);
    iput(ino);
  }
}

int sync_filesystem(super_block* sb) {
  // Completion work deferred to the devices' workers (fake_vma unpins; pages dirtied
  // after the I/O) changes what there is to write: let it finish first, whichever
  // device completed the I/O (a direct read from another disk into a mapped file page).
  if (sb->s_machine) sb->s_machine->block().flush_deferred();
  else if (sb->s_bdev) sb->s_bdev->flush_deferred();
  writeback_inodes_sb(sb, LONG_MAX, wb_reason::sync);
  sync_inodes_sb(sb);
  return sb->s_op->sync_fs ? sb->s_op->sync_fs(sb, 1) : 0;
}

void ksys_sync() {
  MountTable& mt = current_machine()->mounts();
  for (super_block* sb : mt.supers()) {
    sync_filesystem(sb);
    mt.drop_super(sb);
  }
}

// ---- the flusher ------------------------------------------------------------------------

namespace {
void flusher_main(super_block* sb) {
  bdi_writeback* wb = &sb->s_wb;
  Machine* m = sb->s_machine;
  for (;;) {
    auto cond = [wb] {
      return wb->kicked.load(std::memory_order_acquire) || wb->stopping.load(std::memory_order_acquire);
    };
    const uint64_t interval = wb->interval_ns.load(std::memory_order_relaxed);
    bool periodic = false;
    if (interval) periodic = !wait_event_timeout(&wb->wb_wait, cond, interval);
    else wait_event(&wb->wb_wait, cond);
    if (wb->stopping.load(std::memory_order_acquire)) break;
    wb->kicked.store(false, std::memory_order_release);
    wb->nr_started.fetch_add(1, std::memory_order_acq_rel);
    TEST_SYNC_POINT(sp::kFlusherWake);
    const wb_reason reason = periodic ? wb_reason::periodic : wb_reason::background;
    // The pass holds inode references: it holds the filesystem active too, so that an
    // umount waits for it instead of finding those inodes busy. Not mounted yet, or
    // being unmounted: nothing to do (umount writes everything itself).
    MountTable& mt = m->mounts();
    if (mt.grab_super(sb)) {
      if (m->tracing()) m->trace(fmt::format("flusher: {} pass ({})", sb->s_id, to_string(reason)));
      const long n = writeback_inodes_sb(sb, LONG_MAX, reason);
      wb->nr_written.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      mt.drop_super(sb);
    }
    wb->nr_passes.fetch_add(1, std::memory_order_acq_rel);
    wake_up_all(&wb->wb_wait);
  }
}
}  // namespace

int wb_start_flusher(super_block* sb, uint64_t interval_ns) {
  bdi_writeback* wb = &sb->s_wb;
  wb->interval_ns.store(interval_ns, std::memory_order_relaxed);
  wb->stopping.store(false, std::memory_order_release);
  task_struct* t = sb->s_machine->spawn("flush-" + sb->s_id, [sb] { flusher_main(sb); });
  wb->task.store(t, std::memory_order_release);
  return 0;
}

void wb_stop_flusher(super_block* sb) {
  bdi_writeback* wb = &sb->s_wb;
  wb->stopping.store(true, std::memory_order_release);
  wake_up_all(&wb->wb_wait);
  if (task_struct* t = wb->task.exchange(nullptr, std::memory_order_acq_rel)) task_join(t);
}

void wb_kick(super_block* sb) {
  sb->s_wb.kicked.store(true, std::memory_order_release);
  wake_up_all(&sb->s_wb.wb_wait);
}

void wakeup_flusher_threads(Machine* m, wb_reason reason) {
  MountTable& mt = m->mounts();
  for (super_block* sb : mt.supers()) {
    wb_kick(sb);
    mt.drop_super(sb);
  }
}

int wb_wait_for_pass(super_block* sb, uint64_t timeout_ns) {
  bdi_writeback* wb = &sb->s_wb;
  const uint64_t target = wb->nr_started.load(std::memory_order_acquire) + 1;
  wb_kick(sb);
  const bool ok = wait_event_timeout(
      &wb->wb_wait, [&] { return wb->nr_passes.load(std::memory_order_acquire) >= target; }, timeout_ns);
  return ok ? 0 : -ETIMEDOUT;
}

}  // namespace guplab
