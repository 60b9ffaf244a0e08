// truncate_test.cc - mm/truncate.cc: truncate_inode_pages_range() (whole pages removed,
// partial pages zeroed, dirty data in the range discarded, mapped pages unmapped,
// writeback waited for), unmap_mapping_range() with and without even_cows, a pinned
// page removed from the cache living on with ->mapping NULL until its last unpin (under
// every design), pagecache_isize_extended() write-protecting the old EOF page, and a
// truncated-then-extended file never showing its old tail, in the cache or after a
// remount.
#include <gtest/gtest.h>

#include <atomic>

#include "base/clock.h"
#include "base/rcu.h"
#include "mm/fake_vma.h"
#include "mm/mmu_notifier.h"
#include "mm/rmap.h"
#include "mm/truncate.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class TruncateTest : public FsPinTest {
 protected:
  std::vector<char> read_at(file* f, loff_t pos, size_t n) {
    std::vector<char> v(n);
    EXPECT_EQ(kernel_read(f, v.data(), n, &pos), static_cast<ssize_t>(n));
    return v;
  }
  static std::vector<char> slice(const std::vector<char>& v, size_t from, size_t n) {
    return std::vector<char>(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(from + n));
  }
  void truncate_range(file* f, loff_t lstart, loff_t lend) NO_THREAD_SAFETY_ANALYSIS {
    inode* ino = file_inode(f);
    inode_lock(ino);
    truncate_inode_pages_range(ino->i_mapping, lstart, lend);
    inode_unlock(ino);
  }
};

TEST_P(TruncateTest, RangeRemovesWholePagesZeroesPartialOnesAndDiscardsDirtyData) {
  const auto data = pattern(6 * PAGE_SIZE, 1);
  file* f = make_file("/mnt/t", 6, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 6 * PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a + 2 * PAGE_SIZE, &x, 1), 0);  // page 2 dirty, mapped
  char c;
  ASSERT_EQ(uaccess_read(mm_, a + 3 * PAGE_SIZE, &c, 1), 0);  // page 3 mapped clean
  const int64_t dirty0 = vs(NR_FILE_DIRTY), cached0 = vs(NR_FILE_PAGES);
  folio* p2 = cached(f, 2);
  truncate_range(f, PAGE_SIZE + 100, 4 * PAGE_SIZE + 199);
  EXPECT_EQ(vs(NR_FILE_DIRTY), dirty0 - 1) << "page 2's dirtiness went with it";
  EXPECT_EQ(vs(NR_FILE_PAGES), cached0 - 2);
  EXPECT_EQ(folio_mapping_read(p2), nullptr);
  EXPECT_FALSE(PageDirty(p2));
  folio_put(p2);
  for (pgoff_t i : {2, 3}) {
    folio* pg = cached(f, i);
    EXPECT_EQ(pg, nullptr) << i;
    if (pg) folio_put(pg);
    EXPECT_FALSE(pte_present(pte_at(a + i * PAGE_SIZE))) << "unmapped: " << i;
  }
  // Partial pages: in the cache, the truncated bytes zeroed, the rest as they were.
  folio* p1 = cached(f, 1);
  folio* p4 = cached(f, 4);
  ASSERT_NE(p1, nullptr);
  ASSERT_NE(p4, nullptr);
  auto want1 = slice(data, PAGE_SIZE, PAGE_SIZE);
  std::fill(want1.begin() + 100, want1.end(), 0);
  EXPECT_EQ(page_bytes(p1), want1);
  auto want4 = slice(data, 4 * PAGE_SIZE, PAGE_SIZE);
  std::fill(want4.begin(), want4.begin() + 200, 0);
  EXPECT_EQ(page_bytes(p4), want4);
  folio_put(p1);
  folio_put(p4);
  EXPECT_EQ(read_at(f, 0, PAGE_SIZE), slice(data, 0, PAGE_SIZE));
  EXPECT_EQ(read_at(f, 5 * PAGE_SIZE, PAGE_SIZE), slice(data, 5 * PAGE_SIZE, PAGE_SIZE));
  EXPECT_EQ(vm_munmap(mm_, a, 6 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(TruncateTest, RangeInsideOnePageOnlyZeroes) {
  const auto data = pattern(2 * PAGE_SIZE, 2);
  file* f = make_file("/mnt/t", 2, 2);
  ASSERT_NE(f, nullptr);
  const int64_t cached0 = vs(NR_FILE_PAGES);
  truncate_range(f, 300, 999);
  EXPECT_EQ(vs(NR_FILE_PAGES), cached0);
  auto want = slice(data, 0, PAGE_SIZE);
  std::fill(want.begin() + 300, want.begin() + 1000, 0);
  EXPECT_EQ(read_at(f, 0, PAGE_SIZE), want);
  EXPECT_EQ(read_at(f, PAGE_SIZE, PAGE_SIZE), slice(data, PAGE_SIZE, PAGE_SIZE));
  filp_close(f);
}

TEST_P(TruncateTest, UnmapMappingRangeZapsFilePagesAndCowsOnlyWhenAsked) {
  file* f = make_file("/mnt/t", 4, 3);
  ASSERT_NE(f, nullptr);
  for (bool even_cows : {false, true}) {
    SCOPED_TRACE(even_cows ? "even_cows" : "file pages only");
    const unsigned long priv = map_file(f, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    const unsigned long shr = map_file(f, 4 * PAGE_SIZE);
    char c;
    const char x = 'x';
    ASSERT_EQ(uaccess_read(mm_, priv, &c, 1), 0);                   // page 0: the file's page
    ASSERT_EQ(uaccess_write(mm_, priv + PAGE_SIZE, &x, 1), 0);      // page 1: a private copy
    ASSERT_EQ(uaccess_read(mm_, priv + 3 * PAGE_SIZE, &c, 1), 0);   // page 3: outside the range
    ASSERT_EQ(uaccess_read(mm_, shr, &c, 1), 0);
    ASSERT_EQ(uaccess_read(mm_, shr + PAGE_SIZE, &c, 1), 0);
    page* cow = m_->mem().pfn_to_page(pte_pfn(pte_at(priv + PAGE_SIZE)));
    ASSERT_TRUE(PageAnon(cow));
    unmap_mapping_range(f->f_mapping, 0, 3 * PAGE_SIZE, even_cows);
    EXPECT_FALSE(pte_present(pte_at(priv)));
    EXPECT_FALSE(pte_present(pte_at(shr)));
    EXPECT_FALSE(pte_present(pte_at(shr + PAGE_SIZE)));
    EXPECT_EQ(pte_present(pte_at(priv + PAGE_SIZE)), !even_cows) << "the private copy";
    EXPECT_TRUE(pte_present(pte_at(priv + 3 * PAGE_SIZE))) << "outside the hole";
    // A fault brings the file's page back; the copy, once zapped, is gone.
    ASSERT_EQ(uaccess_read(mm_, priv + PAGE_SIZE, &c, 1), 0);
    EXPECT_EQ(c, even_cows ? pattern(4 * PAGE_SIZE, 3)[PAGE_SIZE] : 'x');
    EXPECT_EQ(vm_munmap(mm_, priv, 4 * PAGE_SIZE), 0);
    EXPECT_EQ(vm_munmap(mm_, shr, 4 * PAGE_SIZE), 0);
  }
  filp_close(f);
}

// Seed 003: truncating a mapped file tells the secondary MMUs that the blocks behind the
// range are going, with MMU_NOTIFY_TRUNCATE over the mapped part beyond the new size.
TEST_P(TruncateTest, TruncateOfAMappedFileEmitsMmuNotifyTruncate) {
  struct Listener {
    mmu_notifier sub;
    std::vector<mmu_notifier_range> starts;
  } l;
  static const mmu_notifier_ops ops = {
      nullptr,
      [](mmu_notifier* s, const mmu_notifier_range* r) -> int {
        reinterpret_cast<Listener*>(s)->starts.push_back(*r);
        return 0;
      },
      nullptr,
  };
  l.sub.ops = &ops;
  file* f = make_file("/mnt/t", 4, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 4 * PAGE_SIZE);
  ASSERT_EQ(mmu_notifier_register(&l.sub, mm_), 0);
  ASSERT_EQ(vfs_truncate(f, PAGE_SIZE), 0);
  bool truncate_seen = false;
  for (const auto& r : l.starts)
    if (r.event == MMU_NOTIFY_TRUNCATE) {
      truncate_seen = true;
      EXPECT_EQ(r.start, a + PAGE_SIZE);
      EXPECT_EQ(r.end, a + 4 * PAGE_SIZE);
    }
  EXPECT_TRUE(truncate_seen);
  mmu_notifier_unregister(&l.sub, mm_);
  EXPECT_EQ(vm_munmap(mm_, a, 4 * PAGE_SIZE), 0);
  filp_close(f);
}

// page_mkclean() write-protects one page (PROTECTION_PAGE); try_to_unmap() clears it (CLEAR).
TEST_P(TruncateTest, MkcleanAndTryToUnmapEmitTheirEvents) {
  struct Listener {
    mmu_notifier sub;
    std::vector<mmu_notifier_event> events;
  } l;
  static const mmu_notifier_ops ops = {
      nullptr,
      [](mmu_notifier* s, const mmu_notifier_range* r) -> int {
        reinterpret_cast<Listener*>(s)->events.push_back(r->event);
        return 0;
      },
      nullptr,
  };
  l.sub.ops = &ops;
  file* f = make_file("/mnt/t", 1, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);
  ASSERT_EQ(mmu_notifier_register(&l.sub, mm_), 0);
  folio* fo = cached(f, 0);
  ASSERT_NE(fo, nullptr);
  lock_page(fo);
  EXPECT_EQ(page_mkclean(fo, false), 1);
  ASSERT_EQ(l.events.size(), 1u);
  EXPECT_EQ(l.events[0], MMU_NOTIFY_PROTECTION_PAGE);
  EXPECT_TRUE(try_to_unmap(fo, TTU_NONE));
  ASSERT_EQ(l.events.size(), 2u);
  EXPECT_EQ(l.events[1], MMU_NOTIFY_CLEAR);
  unlock_page(fo);
  folio_put(fo);
  mmu_notifier_unregister(&l.sub, mm_);
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  filp_close(f);
}

// The long-term-pin-vs-truncate state of seeds 002/003: the page leaves the file, the
// pin keeps it alive, and what the device writes into it afterwards goes nowhere.
TEST_P(TruncateTest, PinnedPageRemovedFromTheCacheLivesOnUntilUnpinned) {
  file* f = make_file("/mnt/t", 3, 4);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  Pinned pn = pin_mapped(f, 2, FOLL_NONE);
  page* p = pn.pages[1];
  unmap(&pn);
  rcu_barrier();  // the unmap's page tables are freed after a grace period, by another thread
  const unsigned long free0 = nr_free_pages(m_.get());
  ASSERT_EQ(vfs_truncate(f, PAGE_SIZE), 0);
  EXPECT_EQ(cached(f, 1), nullptr) << "out of the page cache";
  EXPECT_EQ(folio_mapping_read(p), nullptr) << "->mapping NULL";
  EXPECT_GE(page_ref_count(p), 1) << "alive: the pin holds it";
  EXPECT_EQ(page_maybe_dma_pinned(p), tracked());
  EXPECT_FALSE(PagePrivate(p)) << "its buffers went with the file";
  if (design() == PinDesign::fake_vma) {
    EXPECT_EQ(fake_vma_stats(m_.get()).live, 1u) << "the fake vma stays until the unpin";
  }
  const unsigned long free1 = nr_free_pages(m_.get());
  EXPECT_GE(free1, free0) << "page 2 was freed";
  dev_write(p, 5);  // lands in a page no file has any more
  unpin_user_pages_dirty_lock(&pn.pages[1], 1, true);
  unpin_user_page(pn.pages[0]);
  pn.pages.clear();
  EXPECT_EQ(nr_free_pages(m_.get()), free1 + 1) << "freed by its last unpin";
  if (design() == PinDesign::fake_vma) EXPECT_EQ(fake_vma_stats(m_.get()).live, 0u);
  ASSERT_EQ(vfs_truncate(f, 3 * PAGE_SIZE), 0);
  EXPECT_EQ(read_at(f, PAGE_SIZE, PAGE_SIZE), std::vector<char>(PAGE_SIZE, 0)) << "the device's write went nowhere";
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  filp_close(f);
}

TEST_P(TruncateTest, TruncateWaitsForWritebackOfAPage) {
  file* f = make_file("/mnt/t", 2, 6);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a + PAGE_SIZE, &x, 1), 0);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  SyncPoints& sp = sync_points();
  std::atomic<bool> ended_before_truncate_done{false};
  task_struct* t = nullptr;
  sp.set_callback("writeback:submit", [&] {
    if (t) return;
    // The page is under writeback and unlocked: truncate it from another task now.
    t = m_->spawn("truncate", [&] {
      EXPECT_EQ(vfs_truncate(f, PAGE_SIZE), 0);
      ended_before_truncate_done.store(m_->sync_points().hits("writeback:end") >= 1);
    });
  });
  writeback(f, WB_SYNC_NONE);
  ASSERT_NE(t, nullptr);
  task_join(t);
  EXPECT_TRUE(ended_before_truncate_done.load()) << "the page's write ended before it left the cache";
  EXPECT_EQ(cached(f, 1), nullptr);
  filp_close(f);
}

// i_size grows past a block that held the old EOF: a store through mmap into the new
// part of that page must fault (page_mkwrite allocates the block), so the page's ptes
// are write-protected (seed 002's call site, page_mkclean(page, false)).
class IsizeExtendedTest : public TruncateTest {
 protected:
  FsParams base_params() override {
    FsParams p;
    p.block_size = 1024;
    return p;
  }
};

TEST_P(IsizeExtendedTest, OldEofPageIsWriteProtected) {
  file* f = open("/mnt/e");
  ASSERT_NE(f, nullptr);
  const auto d = pattern(1000, 7);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(f, d.data(), d.size(), &pos), 1000);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  const unsigned long a = map_file(f, PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a + 10, &x, 1), 0);
  ASSERT_TRUE(pte_write(pte_at(a)));
  EXPECT_EQ(block_of(f, 2), 0u) << "a hole past the old EOF";
  ASSERT_EQ(vfs_truncate(f, 3000), 0);
  EXPECT_FALSE(pte_write(pte_at(a))) << "write-protected by pagecache_isize_extended()";
  folio* pg = cached(f, 0);
  EXPECT_TRUE(PageDirty(pg)) << "and still dirty";
  folio_put(pg);
  ASSERT_EQ(uaccess_write(mm_, a + 2500, &x, 1), 0);  // faults: page_mkwrite maps blocks 1-2
  EXPECT_TRUE(pte_write(pte_at(a)));
  EXPECT_NE(block_of(f, 2), 0u) << "allocated by the fault";
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  filp_close(f);
  ASSERT_EQ(umount(), 0);
  mount();
  const auto got = read_file("/mnt/e");
  ASSERT_EQ(got.size(), 3000u);
  EXPECT_EQ(got[10], 'x');
  EXPECT_EQ(got[2500], 'x');
  EXPECT_EQ(got[1500], 0);
}

// Under `wait`, extending the file waits for a pin of the old EOF page (seed 002's
// page_mkclean(page, false)); the pinner's unpin of that clean page dirties it under the
// page lock - which the waiting extension must not be holding.
class IsizeExtendedWaitTest : public IsizeExtendedTest {};

TEST_P(IsizeExtendedWaitTest, ExtensionWaitsForThePinWithoutHoldingThePageLock) {
  file* f = open("/mnt/e");
  ASSERT_NE(f, nullptr);
  const auto d = pattern(1000, 7);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(f, d.data(), d.size(), &pos), 1000);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  Pinned pn = pin_mapped(f, 1, FOLL_NONE);  // clean, mapped read-only
  page* p = pn.pages[0];
  SyncPoints& sp = sync_points();
  sp.load_dependency({{"writeback:wait_pinned", "test:unpin"}});
  std::atomic<int> ret{1};
  wait_queue_head_t ret_wq;  // the extension wakes it when done
  std::atomic<bool> unpinned{false};
  task_struct* t = m_->spawn("unpinner", [&] {
    TEST_SYNC_POINT("test:unpin");
    unpinned.store(true);
    unpin_user_pages_dirty_lock(&p, 1, true);  // set_page_dirty_lock() of a clean page
  });
  task_struct* e = m_->spawn("extend", [&] {
    ret.store(vfs_truncate(f, 3000));
    wake_up(&ret_wq);
  });
  // Bounded: a deadlock fails instead of hanging.
  wait_event_timeout(&ret_wq, [&] { return ret.load() != 1; }, 10 * NSEC_PER_SEC);
  if (ret.load() == 1) {
    ADD_FAILURE() << "the extension and the unpin deadlocked (page lock vs pin)";
    std::fflush(nullptr);
    std::_Exit(1);
  }
  task_join(e);
  task_join(t);
  sp.disable();
  pn.pages.clear();
  EXPECT_EQ(ret.load(), 0);
  EXPECT_TRUE(unpinned.load()) << "the extension waited for the unpin";
  EXPECT_FALSE(pte_write(pte_at(pn.addr)));
  unmap(&pn);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Tracked, IsizeExtendedWaitTest,
                         ::testing::Values(DesignPolicy{PinDesign::folio_pincount, WritebackPolicy::wait},
                                           DesignPolicy{PinDesign::dma_count, WritebackPolicy::wait},
                                           DesignPolicy{PinDesign::fake_vma, WritebackPolicy::wait},
                                           DesignPolicy{PinDesign::bias, WritebackPolicy::wait}),
                         design_policy_name);

// Shrinking a file leaves its last block partly past EOF; whatever it held there must
// never be seen again when the file grows, even after the page cache is gone.
TEST_P(TruncateTest, ShrinkThenGrowNeverShowsTheOldTail) {
  const auto data = pattern(2 * PAGE_SIZE, 8);
  write_file("/mnt/t", data, true);
  file* f = open("/mnt/t");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_truncate(f, 100), 0);
  ASSERT_EQ(vfs_truncate(f, 2 * PAGE_SIZE), 0);
  auto want = slice(data, 0, 100);
  want.resize(2 * PAGE_SIZE, 0);
  EXPECT_EQ(read_at(f, 0, 2 * PAGE_SIZE), want) << "in the page cache";
  filp_close(f);
  ASSERT_EQ(umount(), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/t"), want) << "from the disk";
}

TEST_P(IsizeExtendedTest, ShrinkThenGrowNeverShowsTheOldTailOfASmallBlock) {
  const auto data = pattern(2 * PAGE_SIZE, 9);
  write_file("/mnt/t", data, true);
  file* f = open("/mnt/t");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_truncate(f, 1500), 0);  // block 1 (1 KiB) is half past EOF
  ASSERT_EQ(vfs_truncate(f, 2 * PAGE_SIZE), 0);
  auto want = slice(data, 0, 1500);
  want.resize(2 * PAGE_SIZE, 0);
  EXPECT_EQ(read_at(f, 0, 2 * PAGE_SIZE), want);
  filp_close(f);
  ASSERT_EQ(umount(), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/t"), want) << "from the disk";
}

INSTANTIATE_TEST_SUITE_P(Designs, TruncateTest, ::testing::ValuesIn(all_designs()), design_policy_name);
INSTANTIATE_TEST_SUITE_P(OneDesign, IsizeExtendedTest,
                         ::testing::Values(DesignPolicy{PinDesign::folio_pincount, WritebackPolicy::skip}),
                         design_policy_name);

}  // namespace
}  // namespace guplab::fstest
