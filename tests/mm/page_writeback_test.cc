// page_writeback_test.cc - mm/page-writeback.cc and the writeback half of mm/rmap.cc:
// clear_page_dirty_for_io(), page_mkclean(page, skip_pinned_pages) as seed 002 defines
// it (returns cleaned && !skipped), write_cache_pages() (ranges, nr_to_write,
// WB_SYNC_NONE vs WB_SYNC_ALL tagging), and, for a pinned dirty file page, what each
// writeback policy does under each pin design (fs/writeback.h's table): ignore writes
// it, skip and keep_dirty leave it dirty until the unpin, wait sleeps for the unpin
// under WB_SYNC_ALL, bounce writes a stable copy; `get` behaves as ignore throughout.
// Orders between tasks come from sync points, never from timing.
#include <gtest/gtest.h>

#include <atomic>

#include "base/clock.h"
#include "base/random.h"
#include "block/genhd.h"
#include "block/ramdisk.h"
#include "fs/direct-io.h"
#include "mm/rmap.h"
#include "tests/fs/fs_pin_fixture.h"
#include "tests/sim_explore.h"
#include "tests/sim_run.h"

namespace guplab::fstest {
namespace {

class PageWritebackTest : public FsPinTest {};

std::vector<DesignPolicy> tracked_with(WritebackPolicy p) {
  std::vector<DesignPolicy> v;
  for (PinDesign d : kAllPinDesigns)
    if (d != PinDesign::get) v.emplace_back(d, p);
  return v;
}

// ---- unpinned pages -----------------------------------------------------------------------

TEST_P(PageWritebackTest, ClearPageDirtyForIoCleansAndWriteProtectsEveryMapping) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, PAGE_SIZE);
  const unsigned long b = map_file(f, PAGE_SIZE);  // a second mapping of the same page
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);
  ASSERT_EQ(uaccess_write(mm_, b + 1, &x, 1), 0);
  EXPECT_TRUE(pte_write(pte_at(a)) && pte_dirty(pte_at(a)));
  EXPECT_TRUE(pte_write(pte_at(b)));
  folio* pg = cached(f, 0);
  ASSERT_NE(pg, nullptr);
  EXPECT_TRUE(PageDirty(pg));
  const int64_t dirty0 = vs(NR_FILE_DIRTY);
  folio_lock(pg);
  EXPECT_TRUE(clear_page_dirty_for_io(pg, WB_SYNC_NONE)) << "dirty: must be written";
  EXPECT_FALSE(PageDirty(pg));
  EXPECT_EQ(vs(NR_FILE_DIRTY), dirty0 - 1);
  for (unsigned long addr : {a, b}) {
    EXPECT_FALSE(pte_write(pte_at(addr))) << "the next store must fault";
    EXPECT_FALSE(pte_dirty(pte_at(addr)));
    EXPECT_TRUE(pte_present(pte_at(addr)));
  }
  EXPECT_FALSE(clear_page_dirty_for_io(pg, WB_SYNC_ALL)) << "clean now: nothing to write";
  folio_mark_dirty(pg);  // it was never written: keep the data
  folio_unlock(pg);
  folio_put(pg);
  // The store after the cleaning faults (page_mkwrite) and dirties it again.
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_FALSE(pte_write(pte_at(a)));
  ASSERT_EQ(uaccess_write(mm_, a + 2, &x, 1), 0);
  EXPECT_TRUE(pte_write(pte_at(a)));
  pg = cached(f, 0);
  EXPECT_TRUE(PageDirty(pg));
  folio_put(pg);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0)[2], 'x');
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  EXPECT_EQ(vm_munmap(mm_, b, PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(PageWritebackTest, PageMkcleanOfAnUnpinnedPageReturnsWhetherItCleaned) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);
  char c;
  ASSERT_EQ(uaccess_read(mm_, a + PAGE_SIZE, &c, 1), 0);  // mapped read-only, clean
  for (bool skip : {true, false}) {
    SCOPED_TRACE(skip ? "skip_pinned_pages" : "!skip_pinned_pages");
    folio* p0 = cached(f, 0);
    folio* p1 = cached(f, 1);
    folio_lock(p0);
    folio_lock(p1);
    EXPECT_EQ(page_mkclean(p1, skip), 0) << "a read-only clean pte: nothing cleaned";
    if (skip) {
      EXPECT_EQ(page_mkclean(p0, skip), 1) << "one writable dirty pte cleaned, none skipped";
      EXPECT_FALSE(pte_write(pte_at(a)));
      EXPECT_FALSE(pte_dirty(pte_at(a)));
    }
    EXPECT_EQ(page_mkclean(p0, skip), 0) << "already clean";
    folio_unlock(p1);
    folio_unlock(p0);
    folio_put(p1);
    folio_put(p0);
  }
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  folio* p0 = cached(f, 0);
  folio_lock(p0);
  EXPECT_EQ(page_mkclean(p0, true), 0) << "unmapped";
  folio_unlock(p0);
  folio_put(p0);
  filp_close(f);
}

// ---- a pinned page under each design and policy ---------------------------------------------

TEST_P(PageWritebackTest, PageMkcleanOfAPinnedPageSkipsUnlessPinsAreIgnored) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  page* p = pn.pages[0];
  ASSERT_TRUE(pte_write(pte_at(pn.addr))) << "FOLL_WRITE faulted it in writable";
  EXPECT_EQ(page_maybe_dma_pinned(p), tracked());
  folio_lock(page_folio(p));
  int skipped = -1;
  const int cleaned = __page_mkclean(p, true, &skipped);
  if (effective() == WritebackPolicy::ignore) {
    EXPECT_EQ(cleaned, 1);
    EXPECT_EQ(skipped, 0);
    EXPECT_FALSE(pte_write(pte_at(pn.addr))) << "pins are not looked at";
  } else {
    EXPECT_EQ(skipped, 1) << "seed 002: a pinned page is skipped";
    EXPECT_EQ(cleaned, 0);
    EXPECT_TRUE(pte_write(pte_at(pn.addr))) << "its ptes stay as they were";
    EXPECT_EQ(page_mkclean(p, true), 0) << "cleaned && !skipped";
    if (effective() == WritebackPolicy::bounce) {
      EXPECT_EQ(page_mkclean(p, false), 1) << "bounce: cleaned when not asked to skip (a copy is written)";
      EXPECT_FALSE(pte_write(pte_at(pn.addr)));
    } else if (effective() != WritebackPolicy::wait && effective() != WritebackPolicy::rfc002) {
      // (wait and rfc002 would sleep: WaitPolicy tests)
      EXPECT_EQ(page_mkclean(p, false), 0) << "skip and keep_dirty never touch a pinned page";
      EXPECT_TRUE(pte_write(pte_at(pn.addr)));
    }
  }
  folio_unlock(page_folio(p));
  unpin(&pn);
  filp_close(f);
}

TEST_P(PageWritebackTest, PinnedDirtyPageIsWrittenOrLeftDirtyAsThePolicySays) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);  // page 0: pinned, dirty (FOLL_WRITE went through page_mkwrite)
  page* p = pn.pages[0];
  dev_write(p, 2);
  const unsigned long a1 = map_file(f, 2 * PAGE_SIZE);  // page 1: dirty through a store, unpinned
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a1 + PAGE_SIZE, &x, 1), 0);
  EXPECT_TRUE(PageDirty(p));

  writeback_control wbc = writeback(f, WB_SYNC_NONE);
  EXPECT_EQ(disk_page(f, 1)[0], 'x') << "an unpinned page is always written";
  switch (effective()) {
    case WritebackPolicy::ignore:
      EXPECT_EQ(wbc.pages_written, 2);
      EXPECT_EQ(wbc.pages_skipped, 0);
      EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2)) << "written while a device may write it";
      EXPECT_FALSE(PageDirty(p));
      break;
    case WritebackPolicy::bounce:
      EXPECT_EQ(wbc.pages_written, 2);
      EXPECT_EQ(wbc.pages_bounced, 1);
      EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2)) << "through a copy";
      EXPECT_TRUE(PageDirty(p)) << "kept dirty while pinned: what the device writes next is written later";
      break;
    case WritebackPolicy::rfc002:
      EXPECT_EQ(wbc.pages_written, 2);
      EXPECT_EQ(wbc.pages_skipped, 0);
      EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2)) << "seed 002 as posted: written while pinned";
      EXPECT_FALSE(PageDirty(p)) << "clear_page_dirty_for_io() cleared it all the same";
      EXPECT_TRUE(pte_write(pte_at(pn.addr))) << "page_mkclean(page, true) left its pte writable";
      break;
    case WritebackPolicy::skip:
    case WritebackPolicy::keep_dirty:
    case WritebackPolicy::revoke:  // writes back as skip (it differs at truncate)
    case WritebackPolicy::wait:  // WB_SYNC_NONE skips under wait too (a departure from seed 002)
      EXPECT_EQ(wbc.pages_written, 1);
      EXPECT_EQ(wbc.pages_skipped, 1);
      EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 1)) << "never written while pinned";
      EXPECT_TRUE(PageDirty(p));
      break;
  }
  if (effective() == WritebackPolicy::skip || effective() == WritebackPolicy::keep_dirty ||
      effective() == WritebackPolicy::revoke) {
    wbc = writeback(f, WB_SYNC_ALL);
    EXPECT_EQ(wbc.pages_skipped, 1) << "WB_SYNC_ALL skips it as well";
    EXPECT_EQ(vfs_fsync(f, 0), 0) << "fsync returns without it";
    EXPECT_TRUE(PageDirty(p));
    EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 1));
  }
  unpin(&pn);
  EXPECT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_FALSE(PageDirty(p)) << "written once unpinned";
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2));
  EXPECT_EQ(vm_munmap(mm_, a1, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(PageWritebackTest, KeepDirtyUnpinRedirtiesWhatTheDeviceWrote) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  // A read pin of a clean page; the device writes it anyway and the pinner never says so.
  Pinned pn = pin_mapped(f, 1, FOLL_NONE);
  page* p = pn.pages[0];
  EXPECT_FALSE(PageDirty(p));
  dev_write(p, 2);
  unpin_user_page(p);
  pn.pages.clear();
  if (effective() == WritebackPolicy::keep_dirty) {
    EXPECT_TRUE(PageDirty(p)) << "keep_dirty: the unpin re-dirties a file page";
  } else {
    EXPECT_FALSE(PageDirty(p)) << "only the pinner can say the device wrote it";
  }
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, effective() == WritebackPolicy::keep_dirty ? 2 : 1));
  unmap(&pn);
  filp_close(f);
}

// The pin check and the write-protection of the ptes are two steps: a GUP that pins the
// page through a still-writable pte between them (GUP-fast needs no lock) must still be
// seen, or the page is written while the device may write it. (Under fake_vma the pin
// cannot land there: linking its fake vma waits for the walk's i_mmap_rwsem.)
class MkcleanRaceTest : public FsPinTest {};

TEST_P(MkcleanRaceTest, APinTakenWhilePageMkcleanRunsIsNotMissed) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);  // dirty, pte writable
  SyncPoints& sp = sync_points();
  page* p = nullptr;
  sp.set_callback("rmap:mkclean:pin_checked", [&] {
    if (p) return;
    // A driver pins the page right now: GUP-fast through the writable pte.
    EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_WRITE, &p), 1);
  });
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_NONE;
  ASSERT_EQ(do_writepages(f->f_mapping, &wbc), 0);
  ASSERT_EQ(filemap_fdatawait_range(f->f_mapping, 0, LLONG_MAX), 0);
  sp.disable();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(wbc.pages_written, 0) << "pinned before the write: not written";
  EXPECT_EQ(wbc.pages_skipped, 1);
  EXPECT_TRUE(PageDirty(p));
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 1));
  unpin_user_page(p);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0)[0], 'x');
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(DesignsPolicies, PageWritebackTest, ::testing::ValuesIn(all_design_policies()),
                         design_policy_name);

// The designs whose pins GUP-fast takes without a lock, and the policies that leave
// pinned pages alone under WB_SYNC_NONE.
std::vector<DesignPolicy> mkclean_race_cells() {
  std::vector<DesignPolicy> v;
  for (PinDesign d : {PinDesign::bias, PinDesign::dma_count, PinDesign::folio_pincount})
    for (WritebackPolicy p : {WritebackPolicy::skip, WritebackPolicy::wait, WritebackPolicy::keep_dirty})
      v.emplace_back(d, p);
  return v;
}
INSTANTIATE_TEST_SUITE_P(Lockless, MkcleanRaceTest, ::testing::ValuesIn(mkclean_race_cells()), design_policy_name);

// ---- wait: WB_SYNC_ALL sleeps until the unpin ------------------------------------------------

class WaitPolicyTest : public FsPinTest {};

TEST_P(WaitPolicyTest, SyncAllSleepsUntilTheUnpinThenWritesWhatTheDeviceLastWrote) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  page* p = pn.pages[0];
  dev_write(p, 2);
  writeback_control wbc = writeback(f, WB_SYNC_NONE);
  EXPECT_EQ(wbc.pages_skipped, 1) << "WB_SYNC_NONE skips";
  EXPECT_EQ(wbc.pages_written, 0);

  SyncPoints& sp = sync_points();
  std::atomic<bool> unpinned{false};
  std::atomic<int> submits{0}, submits_while_pinned{0};
  sp.set_callback("writeback:submit", [&] {
    submits++;
    if (!unpinned.load() || page_maybe_dma_pinned(p)) submits_while_pinned++;
  });
  // The unpinner runs only once fsync is about to sleep for the pin.
  sp.load_dependency({{"writeback:wait_pinned", "test:unpin"}});
  task_struct* t = m_->spawn("unpinner", [&] {
    TEST_SYNC_POINT("test:unpin");
    dev_write(p, 3);  // the device's last write before it lets go
    unpinned.store(true);
    unpin_user_page(p);
  });
  EXPECT_EQ(vfs_fsync(f, 0), 0);
  task_join(t);
  pn.pages.clear();
  EXPECT_GE(sp.hits("writeback:wait_pinned"), 1u);
  EXPECT_EQ(submits.load(), 1);
  EXPECT_EQ(submits_while_pinned.load(), 0) << "the write happens after the unpin";
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 3));
  EXPECT_FALSE(PageDirty(p));
  unmap(&pn);
  filp_close(f);
}

// O_DIRECT reads from another device into a MAP_SHARED page of a file: the bio pins
// the page. fsync sleeps in page_mkclean() for that pin while it holds the page lock;
// the bio's completion must mark the page dirty and unpin it without needing that lock,
// or neither ever finishes.
TEST_P(WaitPolicyTest, DirectIoCompletionUnpinsWhileFsyncWaitsForItsPin) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);  // dirty
  block_device* src = blkdev_get_by_path(m_.get(), "ram1,size=1M");
  ASSERT_FALSE(IS_ERR(src));
  const auto d = pattern(PAGE_SIZE, 6);
  ASSERT_EQ(static_cast<ramdisk*>(src)->write_sectors(0, PAGE_SIZE / SECTOR_SIZE, d.data()), 0);
  dio_file df = blkdev_dio_file(src);
  SyncPoints& sp = sync_points();
  // The read's DMA starts only once fsync sleeps for the read's pin.
  sp.load_dependency({{"writeback:wait_pinned", "ramdisk:dma:chunk"}});
  struct Done {
    std::atomic<long> res{1};
    wait_queue_head_t wq;  // woken by the completion and by the fsync task when done
  } done;
  kiocb iocb;
  init_sync_kiocb(&iocb, &df, 0);
  iocb.ki_private = &done;
  iocb.ki_complete = [](kiocb* k, long res) {
    Done* d = static_cast<Done*>(k->ki_private);
    d->res.store(res);
    wake_up(&d->wq);
  };
  ASSERT_EQ(blockdev_direct_IO(&iocb, a, PAGE_SIZE), -EIOCBQUEUED);
  std::atomic<int> fsync_ret{1};
  task_struct* t = m_->spawn("fsync", [&] {
    fsync_ret.store(vfs_fsync(f, 0));
    wake_up(&done.wq);
  });
  // Wait for both to finish (woken by each), bounded: a deadlock fails instead of hanging.
  wait_event_timeout(&done.wq, [&] { return done.res.load() != 1 && fsync_ret.load() != 1; }, 10 * NSEC_PER_SEC);
  if (done.res.load() == 1 || fsync_ret.load() == 1) {
    ADD_FAILURE() << "fsync and the O_DIRECT completion deadlocked (page lock vs pin)";
    std::fflush(nullptr);
    std::_Exit(1);  // the two tasks can never finish: end the run, bounded
  }
  task_join(t);
  sp.disable();
  EXPECT_EQ(done.res.load(), static_cast<long>(PAGE_SIZE));
  EXPECT_EQ(fsync_ret.load(), 0);
  EXPECT_GE(m_->sync_points().hits("writeback:wait_pinned"), 1u);
  EXPECT_EQ(disk_page(f, 0), d) << "written after the unpin: what the device read in";
  blkdev_put(src);
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(WaitPolicyTest, FlusherNeverWaitsForAPin) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  ASSERT_EQ(wb_wait_for_pass(sb(), 10'000'000'000ull), 0) << "a background pass ends although the page is pinned";
  EXPECT_TRUE(PageDirty(pn.pages[0]));
  EXPECT_EQ(m_->sync_points().hits("writeback:wait_pinned"), 0u);
  unpin(&pn);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Tracked, WaitPolicyTest, ::testing::ValuesIn(tracked_with(WritebackPolicy::wait)),
                         design_policy_name);

// ---- bounce: a stable copy ---------------------------------------------------------------------

class BouncePolicyTest : public FsPinTest {};

TEST_P(BouncePolicyTest, WritesAStableCopyWhileTheOriginalKeepsChanging) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  page* p = pn.pages[0];
  dev_write(p, 2);
  SyncPoints& sp = sync_points();
  std::atomic<int> bounced_submits{0};
  sp.set_callback("writeback:submit", [&] {
    buffer_head* head = reinterpret_cast<buffer_head*>(page_folio(p)->private_);
    if (head && head->b_bounce && PageBounce(head->b_bounce)) bounced_submits++;
    dev_write(p, 3);  // the device goes on writing the original during the write
  });
  const int64_t free0 = static_cast<int64_t>(nr_free_pages(m_.get()));
  writeback_control wbc = writeback(f, WB_SYNC_ALL);
  sp.disable();
  EXPECT_EQ(wbc.pages_written, 1);
  EXPECT_EQ(wbc.pages_bounced, 1);
  EXPECT_EQ(bounced_submits.load(), 1) << "the bio carries a PG_bounce copy";
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2)) << "what the page held when it was copied";
  EXPECT_EQ(page_bytes(p), pattern(PAGE_SIZE, 3));
  EXPECT_EQ(static_cast<int64_t>(nr_free_pages(m_.get())), free0) << "the copy is freed when its write ends";
  EXPECT_TRUE(PageDirty(p)) << "kept dirty while it may be pinned";
  EXPECT_FALSE(pte_write(pte_at(pn.addr))) << "its ptes cleaned and write-protected: a CPU store faults";
  // The device's later write reaches the disk with the next writeback, even if the
  // pinner never says it wrote.
  unpin(&pn, false);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 3));
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Tracked, BouncePolicyTest, ::testing::ValuesIn(tracked_with(WritebackPolicy::bounce)),
                         design_policy_name);

// ---- rfc002: seed 002 as posted ------------------------------------------------------------------

class Rfc002PolicyTest : public FsPinTest {};

// WB_SYNC_NONE: page_mkclean(page, true) skips the pinned page and returns 0, and
// clear_page_dirty_for_io() clears its dirty bit all the same: written while pinned,
// its pte still writable and dirty. What the device writes after that is lost unless
// the driver dirties the page again - or the stale dirty pte is zapped first.
TEST_P(Rfc002PolicyTest, BackgroundWritebackWritesAPinnedPageAndWhatTheDeviceWritesNextIsLost) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  page* p = pn.pages[0];
  dev_write(p, 2);
  writeback_control wbc = writeback(f, WB_SYNC_NONE);
  EXPECT_EQ(wbc.pages_written, 1) << "written while pinned";
  EXPECT_EQ(wbc.pages_skipped, 0);
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2));
  EXPECT_FALSE(PageDirty(p));
  EXPECT_TRUE(pte_write(pte_at(pn.addr))) << "page_mkclean() skipped it: its pte stays writable";
  dev_write(p, 3);
  unpin_user_page(p);  // the driver does not say the device wrote
  pn.pages.clear();
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2)) << "the device's later write does not reach the disk";
  // Only the pte that page_mkclean() skipped, still dirty, carries it: unmapping moves
  // its dirty bit to the page, and the next fsync writes what the device wrote.
  unmap(&pn);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 3));
  filp_close(f);
}

// WB_SYNC_ALL: page_mkclean(page, false) waits for the pin to go, then cleans the page.
TEST_P(Rfc002PolicyTest, FsyncSleepsUntilTheUnpinThenWritesWhatTheDeviceLastWrote) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);  // dirty: the FOLL_WRITE fault went through page_mkwrite
  page* p = pn.pages[0];
  dev_write(p, 2);
  SyncPoints& sp = sync_points();
  sp.load_dependency({{"writeback:wait_pinned", "test:unpin"}});
  task_struct* t = m_->spawn("unpinner", [&] {
    TEST_SYNC_POINT("test:unpin");
    dev_write(p, 3);
    unpin_user_page(p);
  });
  EXPECT_EQ(vfs_fsync(f, 0), 0);
  task_join(t);
  pn.pages.clear();
  EXPECT_GE(sp.hits("writeback:wait_pinned"), 1u);
  sp.disable();
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 3));
  EXPECT_FALSE(PageDirty(p));
  unmap(&pn);
  filp_close(f);
}

// try_to_unmap() leaves a pinned page mapped, unconditionally.
TEST_P(Rfc002PolicyTest, TryToUnmapLeavesAPinnedPageMapped) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  folio* fo = page_folio(pn.pages[0]);
  folio_lock(fo);
  EXPECT_FALSE(try_to_unmap(fo, TTU_NONE));
  folio_unlock(fo);
  EXPECT_NE(pte_at(pn.addr).val, 0u) << "still mapped";
  unpin_user_page(pn.pages[0]);
  pn.pages.clear();
  folio_lock(fo);
  EXPECT_TRUE(try_to_unmap(fo, TTU_NONE)) << "unmapped once unpinned";
  folio_unlock(fo);
  unmap(&pn);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Tracked, Rfc002PolicyTest, ::testing::ValuesIn(tracked_with(WritebackPolicy::rfc002)),
                         design_policy_name);

// ---- write_cache_pages() ---------------------------------------------------------------------

class WriteCachePagesTest : public FsPinTest {
 protected:
  static constexpr unsigned kPages = 20;
  void SetUp() override {
    FsPinTest::SetUp();
    f_ = make_file("/mnt/w", kPages, 1);
    ASSERT_NE(f_, nullptr);
    addr_ = map_file(f_, kPages * PAGE_SIZE);
  }
  void TearDown() override {
    if (addr_) EXPECT_EQ(vm_munmap(mm_, addr_, kPages * PAGE_SIZE), 0);
    if (f_) filp_close(f_);
    FsPinTest::TearDown();
  }
  void dirty(unsigned idx, char c) { ASSERT_EQ(uaccess_write(mm_, addr_ + idx * PAGE_SIZE, &c, 1), 0); }
  bool is_dirty(unsigned idx) {
    folio* pg = cached(f_, idx);
    const bool d = PageDirty(pg);
    folio_put(pg);
    return d;
  }
  file* f_ = nullptr;
  unsigned long addr_ = 0;
};

TEST_P(WriteCachePagesTest, WritesOnlyTheRange) {
  for (unsigned i = 0; i < 8; i++) dirty(i, 'a');
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_ALL;
  wbc.range_start = 2 * PAGE_SIZE + 100;  // inside page 2
  wbc.range_end = 5 * PAGE_SIZE - 1;      // the last byte of page 4
  ASSERT_EQ(do_writepages(f_->f_mapping, &wbc), 0);
  ASSERT_EQ(filemap_fdatawait_range(f_->f_mapping, 0, LLONG_MAX), 0);
  EXPECT_EQ(wbc.pages_written, 3);
  for (unsigned i = 0; i < 8; i++) EXPECT_EQ(is_dirty(i), i < 2 || i > 4) << i;
  EXPECT_EQ(vs(NR_FILE_DIRTY), 5);
}

TEST_P(WriteCachePagesTest, NrToWriteBoundsOnlyWbSyncNone) {
  for (unsigned i = 0; i < kPages; i++) dirty(i, 'b');
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_NONE;
  wbc.nr_to_write = 3;
  ASSERT_EQ(do_writepages(f_->f_mapping, &wbc), 0);
  EXPECT_EQ(wbc.pages_written, 3);
  EXPECT_EQ(wbc.nr_to_write, 0);
  ASSERT_EQ(filemap_fdatawait_range(f_->f_mapping, 0, LLONG_MAX), 0);
  EXPECT_EQ(vs(NR_FILE_DIRTY), static_cast<int64_t>(kPages - 3));
  writeback_control all;
  all.sync_mode = WB_SYNC_ALL;
  all.nr_to_write = 1;  // data integrity writes everything regardless
  ASSERT_EQ(do_writepages(f_->f_mapping, &all), 0);
  EXPECT_EQ(all.pages_written, static_cast<long>(kPages - 3));
  ASSERT_EQ(filemap_fdatawait_range(f_->f_mapping, 0, LLONG_MAX), 0);
  EXPECT_EQ(vs(NR_FILE_DIRTY), 0);
}

// WB_SYNC_ALL writes what was dirty when it started (TOWRITE tags), not what is dirtied
// behind it; an untagged WB_SYNC_NONE pass picks such a page up in a later batch of its
// walk (pages 0-15 dirty: the first batch holds 15; page 17 is dirtied meanwhile).
TEST_P(WriteCachePagesTest, SyncAllWritesWhatWasDirtyWhenItStarted) {
  for (bool sync_all : {true, false}) {
    for (bool tagged : {false, true}) {
      if (sync_all && tagged) continue;
      SCOPED_TRACE(sync_all ? "WB_SYNC_ALL" : tagged ? "WB_SYNC_NONE tagged" : "WB_SYNC_NONE");
      ASSERT_EQ(vfs_fsync(f_, 0), 0);
      for (unsigned i = 0; i < 16; i++) dirty(i, 'c');
      SyncPoints& sp = sync_points();
      std::atomic<bool> done{false};
      sp.set_callback("writeback:clear_dirty:before", [&] {
        if (done.exchange(true)) return;
        folio* q = cached(f_, 17);  // dirtied ahead of the walk
        folio_lock(q);
        folio_mark_dirty(q);
        folio_unlock(q);
        folio_put(q);
      });
      writeback_control wbc;
      wbc.sync_mode = sync_all ? WB_SYNC_ALL : WB_SYNC_NONE;
      wbc.tagged_writepages = tagged;
      ASSERT_EQ(do_writepages(f_->f_mapping, &wbc), 0);
      sp.disable();
      sp.clear_all();
      ASSERT_EQ(filemap_fdatawait_range(f_->f_mapping, 0, LLONG_MAX), 0);
      EXPECT_TRUE(done.load());
      for (unsigned i = 0; i < 16; i++) EXPECT_FALSE(is_dirty(i)) << i;
      const bool tags = sync_all || tagged;
      EXPECT_EQ(is_dirty(17), tags) << "dirtied after the tagging";
      EXPECT_EQ(wbc.pages_written, tags ? 16 : 17);
    }
  }
  ASSERT_EQ(vfs_fsync(f_, 0), 0);
  EXPECT_EQ(vs(NR_FILE_DIRTY), 0);
}

TEST_P(WriteCachePagesTest, DirtyAccountingAndTagsFollowThePages) {
  dirty(1, 'd');
  dirty(3, 'd');
  EXPECT_EQ(vs(NR_FILE_DIRTY), 2);
  EXPECT_TRUE(xa_marked(&f_->f_mapping->i_pages, PAGECACHE_TAG_DIRTY));
  ASSERT_EQ(filemap_flush(f_->f_mapping), 0);
  ASSERT_EQ(filemap_fdatawait_range(f_->f_mapping, 0, LLONG_MAX), 0);
  EXPECT_EQ(vs(NR_FILE_DIRTY), 0);
  EXPECT_EQ(vs(NR_WRITEBACK), 0);
  EXPECT_FALSE(xa_marked(&f_->f_mapping->i_pages, PAGECACHE_TAG_DIRTY));
  EXPECT_FALSE(xa_marked(&f_->f_mapping->i_pages, PAGECACHE_TAG_WRITEBACK));
  EXPECT_FALSE(xa_marked(&f_->f_mapping->i_pages, PAGECACHE_TAG_TOWRITE));
  EXPECT_EQ(disk_page(f_, 3)[0], 'd');
}

TEST_P(WriteCachePagesTest, PageUnderWritebackIsSkippedByNoneAndWaitedForByAll) {
  dirty(2, 'e');
  // While page 2's write is in flight, it is dirtied again and another pass runs.
  SyncPoints& sp = sync_points();
  std::atomic<int> phase{0};
  long none_written = -1, all_written = -1;
  sp.set_callback("writeback:submit", [&] {
    if (phase.exchange(1) != 0) return;
    folio* q = cached(f_, 2);
    EXPECT_TRUE(PageWriteback(q));
    folio_lock(q);
    folio_mark_dirty(q);
    folio_unlock(q);
    folio_put(q);
    writeback_control none;
    none.sync_mode = WB_SYNC_NONE;
    EXPECT_EQ(do_writepages(f_->f_mapping, &none), 0);
    none_written = none.pages_written;
  });
  writeback_control first;
  first.sync_mode = WB_SYNC_NONE;
  ASSERT_EQ(do_writepages(f_->f_mapping, &first), 0);
  sp.disable();
  EXPECT_EQ(none_written, 0) << "WB_SYNC_NONE does not wait for a page under writeback";
  EXPECT_TRUE(is_dirty(2));
  writeback_control all;
  all.sync_mode = WB_SYNC_ALL;
  ASSERT_EQ(do_writepages(f_->f_mapping, &all), 0);
  all_written = all.pages_written;
  EXPECT_EQ(all_written, 1) << "WB_SYNC_ALL waits for it, then writes it again";
  ASSERT_EQ(filemap_fdatawait_range(f_->f_mapping, 0, LLONG_MAX), 0);
  EXPECT_FALSE(is_dirty(2));
}

INSTANTIATE_TEST_SUITE_P(OneDesign, WriteCachePagesTest,
                         ::testing::Values(DesignPolicy{PinDesign::folio_pincount, WritebackPolicy::skip}),
                         design_policy_name);

// ---- no false negatives ------------------------------------------------------------------------

class MaybeDmaPinnedTest : public FsPinTest {};

TEST_P(MaybeDmaPinnedTest, EveryPinnedPageIsReportedPinned) {
  file* f = make_file("/mnt/a", 8, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long fa = map_file(f, 8 * PAGE_SIZE);
  const long anon = vm_mmap(mm_, 0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  ASSERT_GT(anon, 0);
  const unsigned long aa = static_cast<unsigned long>(anon);
  std::vector<char> z(8 * PAGE_SIZE, 1);
  ASSERT_EQ(uaccess_write(mm_, aa, z.data(), z.size()), 0);
  page* pages[8];
  struct Way {
    const char* name;
    unsigned long addr;
    bool fast;
    foll_flags flags;
  } ways[] = {{"file slow", fa, false, FOLL_WRITE},  {"file fast", fa, true, FOLL_WRITE},
              {"file read", fa, true, FOLL_NONE},    {"anon slow", aa, false, FOLL_WRITE},
              {"anon fast", aa, true, FOLL_WRITE},   {"anon longterm", aa, true, FOLL_WRITE | FOLL_LONGTERM}};
  for (const Way& w : ways) {
    SCOPED_TRACE(w.name);
    long got;
    if (w.fast) {
      got = pin_user_pages_fast(w.addr, 8, w.flags, pages);
    } else {
      mmap_read_lock(mm_);
      got = pin_user_pages(w.addr, 8, w.flags, pages);
      mmap_read_unlock(mm_);
    }
    ASSERT_EQ(got, 8);
    for (page* p : pages) EXPECT_EQ(page_maybe_dma_pinned(p), tracked()) << "no false negatives";
    // Twice pinned, once unpinned: still pinned.
    ASSERT_EQ(pin_user_pages_fast(w.addr, 8, w.flags, pages), 8);
    unpin_user_pages(pages, 8);
    for (page* p : pages) EXPECT_EQ(page_maybe_dma_pinned(p), tracked());
    unpin_user_pages(pages, 8);
    for (page* p : pages) EXPECT_FALSE(page_maybe_dma_pinned(p)) << "no false positive here";
  }
  EXPECT_EQ(vm_munmap(mm_, fa, 8 * PAGE_SIZE), 0);
  EXPECT_EQ(vm_munmap(mm_, aa, 8 * PAGE_SIZE), 0);
  filp_close(f);
}

/**
 * pins_racing_writeback() - a "pinner" task pins and unpins pages of the MAP_SHARED file
 * mapping at @a (@npages pages) @iters times at random (from @seed), the device writing
 * each pinned page and the pinner checking its own pin at every step, while the calling
 * task runs WB_SYNC_NONE writeback passes over @f: @wb_passes of them, or (@wb_passes < 0)
 * until the pinner is done, one pass at least. That busy loop is for host threads only:
 * under the sim backend's PCT strategy the looping task may outrank the pinner for good
 * (a livelock), so sim runs give a count. Returns how often a pinned page was reported
 * unpinned under a tracking design.
 * REQUIRES: runs as a task of @m whose mm maps @f at @a.
 */
long pins_racing_writeback(Machine* m, file* f, unsigned long a, unsigned npages, bool tracked, uint64_t seed,
                           int iters, int wb_passes) {
  std::atomic<bool> stop{false};
  std::atomic<long> false_negatives{0};
  task_struct* pinner = m->spawn(
      "pinner",
      [&] {
        Random rng(seed);
        for (int it = 0; it < iters; it++) {
          const unsigned idx = static_cast<unsigned>(rng.next_u64() % npages);
          page* p = nullptr;
          if (pin_user_pages_fast(a + idx * PAGE_SIZE, 1, FOLL_WRITE, &p) != 1) continue;
          for (int k = 0; k < 3; k++) {
            if (tracked && !page_maybe_dma_pinned(p)) false_negatives++;
            // The device's store: relaxed words, as FsPinTest::dev_write() makes them.
            auto* w = static_cast<uint64_t*>(page_address(p));
            for (size_t i = 0; i < PAGE_SIZE / 8; i += 64) __atomic_store_n(&w[i], seed + it, __ATOMIC_RELAXED);
            cond_resched();
          }
          unpin_user_pages_dirty_lock(&p, 1, true);
        }
        stop.store(true);
      },
      current()->mm);
  for (int pass = 0; wb_passes < 0 ? pass == 0 || !stop.load() : pass < wb_passes; pass++) {
    writeback_control wbc;
    wbc.sync_mode = WB_SYNC_NONE;
    do_writepages(f->f_mapping, &wbc);
    cond_resched();
  }
  task_join(pinner);
  return false_negatives.load();
}

// The native smoke run: host threads, bounded by iterations. The data seed fixes what the
// pinner does, not how the host interleaves it with writeback: it does not replay a
// schedule (PinsRacingWritebackSim does).
TEST_P(MaybeDmaPinnedTest, PinsRacingWritebackAreNeverReportedUnpinned) {
  constexpr unsigned kPages = 16;
  file* f = make_file("/mnt/a", kPages, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, kPages * PAGE_SIZE);
  const uint64_t seed = 0x5eed0000u + static_cast<unsigned>(design());
  std::printf("PinsRacingWriteback (native smoke): data seed %#llx; does not replay a schedule\n",
              static_cast<unsigned long long>(seed));
  EXPECT_EQ(pins_racing_writeback(m_.get(), f, a, kPages, tracked(), seed, 300, -1), 0);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(vm_munmap(mm_, a, kPages * PAGE_SIZE), 0);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Designs, MaybeDmaPinnedTest, ::testing::ValuesIn(all_designs()), design_policy_name);

// The same race as a seeded sim exploration: a fresh machine, ext4 and file per seed; the
// seed fixes the pinner's data and every interleaving with writeback, and a failure
// prints the command that replays exactly that schedule (tests/sim_explore.h).
class PinsRacingWritebackSim : public ::testing::TestWithParam<DesignPolicy> {};

constexpr uint64_t kWbSimSeeds = 40;

TEST_P(PinsRacingWritebackSim, PinnedPagesAreNeverReportedUnpinnedUnderEverySeed) {
  constexpr unsigned kPages = 8;
  const PinDesign design = std::get<0>(GetParam());
  const WritebackPolicy policy = std::get<1>(GetParam());
  const bool tracked = design != PinDesign::get;
  bool wrote_back = false;
  testing::explore_seeds(testing::sanitizer_scaled(kWbSimSeeds), [&](uint64_t seed) {
    MachineConfig c;
    c.ram_bytes = 32ull << 20;
    c.pin_design = design;
    c.wb_policy = policy;
    const SimOptions so = testing::sim_options_for(seed, 3000);
    std::string problem;
    const std::string run = testing::sim_run(c, seed, [&](Machine& m) {
      const std::string disk = "ram0,size=8M";
      ASSERT_EQ(ext4_mkfs(&m, disk, ext4_mkfs_options{4096, 0}), 0);
      std::string err;
      ASSERT_EQ(m.mounts().mount(disk, "/mnt", "ext4", "", &err), 0) << err;
      mm_struct* mm = mm_alloc(&m);
      current()->mm = mm;
      current()->files = files_alloc();
      file* f = filp_open("/mnt/a", O_RDWR | O_CREAT | O_TRUNC, 0644);
      ASSERT_FALSE(IS_ERR(f));
      std::vector<char> data(kPages * PAGE_SIZE, 'a');
      loff_t pos = 0;
      EXPECT_EQ(kernel_write(f, data.data(), data.size(), &pos), static_cast<ssize_t>(data.size()));
      EXPECT_EQ(vfs_fsync(f, 0), 0);
      const long a = file_mmap(mm, f, 0, kPages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
      EXPECT_GT(a, 0);
      if (a > 0) {
        auto* rd = static_cast<ramdisk*>(m.block().lookup("ram0"));
        const uint64_t written0 = rd->stats().writes;
        const long fn = pins_racing_writeback(&m, f, static_cast<unsigned long>(a), kPages, tracked, seed, 24, 12);
        if (fn) problem = std::to_string(fn) + " times a pinned page was reported unpinned";
        EXPECT_EQ(vfs_fsync(f, 0), 0);
        wrote_back |= rd->stats().writes > written0;
        EXPECT_EQ(vm_munmap(mm, static_cast<unsigned long>(a), kPages * PAGE_SIZE), 0);
      }
      filp_close(f);
      current()->mm = nullptr;
      mmput(mm);
      put_files_struct(current()->files);
      current()->files = nullptr;
      EXPECT_EQ(m.mounts().umount("/mnt"), 0);
      EXPECT_EQ(del_gendisk(&m, "ram0"), 0);  // its kthreads end: the run can complete
      rcu_barrier();
      if (problem.empty() && m.vmstat().read(NR_FOLL_PIN_ACQUIRED) != m.vmstat().read(NR_FOLL_PIN_RELEASED))
        problem = "pins acquired != released";
    }, &so);
    return run.empty() ? problem : run;
  });
  EXPECT_TRUE(wrote_back) << "no seed wrote a page back: the race was not run";
}

INSTANTIATE_TEST_SUITE_P(Designs, PinsRacingWritebackSim, ::testing::ValuesIn(all_designs()), design_policy_name);

}  // namespace
}  // namespace guplab::fstest
