// fs_writeback_test.cc - fs/fs-writeback.cc: dirty inodes on their filesystem's list,
// writeback_single_inode() (off the list once clean, kept on it while a pinned page is
// left dirty), the flusher task (kicked, periodic, the dirty threshold, never waiting
// for a pin), sync(2) of every filesystem, fsync, umount racing a flusher pass, and
// the writeback policies a mount accepts.
#include <gtest/gtest.h>

#include <atomic>

#include "base/clock.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class FsWritebackTest : public FsPinTest {
 protected:
  bool on_dirty_list(inode* ino) {
    super_block* s = ino->i_sb;
    SpinGuard g(&s->s_wb.list_lock);
    for (list_head* e = s->s_wb.b_dirty.next; e != &s->s_wb.b_dirty; e = e->next)
      if (list_entry(e, inode, i_io_list) == ino) return true;
    return false;
  }
  unsigned long state(inode* ino) {
    SpinGuard g(&ino->i_lock);
    return ino->i_state;
  }
  /**
   * wait_clean() - up to 10 s for @f's pages to be written by someone else: the flusher
   * wakes wb_wait at the end of every pass, and the wait re-checks then; the writeback
   * the pass started is then waited for (filemap_fdatawait_range()).
   */
  bool wait_clean(file* f) {
    bdi_writeback* wb = &file_inode(f)->i_sb->s_wb;
    wait_event_timeout(
        &wb->wb_wait, [&] { return !xa_marked(&f->f_mapping->i_pages, PAGECACHE_TAG_DIRTY); }, 10 * NSEC_PER_SEC);
    if (filemap_fdatawait_range(f->f_mapping, 0, LLONG_MAX)) return false;
    return !xa_marked(&f->f_mapping->i_pages, PAGECACHE_TAG_DIRTY) &&
           !xa_marked(&f->f_mapping->i_pages, PAGECACHE_TAG_WRITEBACK);
  }
};

TEST_P(FsWritebackTest, DirtyingAnInodePutsItOnItsListOnceAndWritebackTakesItOff) {
  file* f = open("/mnt/a");
  ASSERT_NE(f, nullptr);
  inode* ino = file_inode(f);
  EXPECT_TRUE(on_dirty_list(ino)) << "created: its metadata is dirty";
  ksys_sync();
  EXPECT_FALSE(on_dirty_list(ino));
  const auto d = pattern(3 * PAGE_SIZE, 1);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(f, d.data(), d.size(), &pos), static_cast<ssize_t>(d.size()));
  EXPECT_TRUE(on_dirty_list(ino));
  EXPECT_EQ(state(ino) & I_DIRTY, I_DIRTY) << "pages and metadata (size, blocks)";
  __mark_inode_dirty(ino, I_DIRTY_PAGES);  // again: no second entry
  int n = 0;
  {
    SpinGuard g(&sb()->s_wb.list_lock);
    for (list_head* e = sb()->s_wb.b_dirty.next; e != &sb()->s_wb.b_dirty; e = e->next) n++;
  }
  EXPECT_EQ(n, 1);
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_ALL;
  EXPECT_EQ(writeback_single_inode(ino, &wbc), 0);
  EXPECT_EQ(wbc.pages_written, 3);
  EXPECT_FALSE(on_dirty_list(ino));
  EXPECT_EQ(state(ino) & (I_DIRTY | I_SYNC), 0ul);
  filp_close(f);
}

TEST_P(FsWritebackTest, AnInodeWithAPinnedPageLeftDirtyStaysOnTheList) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  writeback_control wbc;
  wbc.sync_mode = WB_SYNC_NONE;
  EXPECT_EQ(writeback_single_inode(file_inode(f), &wbc), 0);
  const bool left_dirty = effective() == WritebackPolicy::skip || effective() == WritebackPolicy::keep_dirty ||
                          effective() == WritebackPolicy::wait || effective() == WritebackPolicy::revoke;
  EXPECT_EQ(wbc.pages_skipped, left_dirty ? 1 : 0);
  // bounce writes a copy and keeps the pinned page dirty: the inode stays listed too.
  const bool still_dirty = left_dirty || effective() == WritebackPolicy::bounce;
  EXPECT_EQ(on_dirty_list(file_inode(f)), still_dirty) << "a page left dirty keeps the inode on the list";
  EXPECT_EQ((state(file_inode(f)) & I_DIRTY_PAGES) != 0, still_dirty);
  unpin(&pn);
  ksys_sync();
  EXPECT_FALSE(on_dirty_list(file_inode(f))) << "written once unpinned";
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 1));
  filp_close(f);
}

TEST_P(FsWritebackTest, FlusherWritesWhenKickedAndLeavesPinnedPagesAsThePolicySays) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  dev_write(pn.pages[0], 2);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a + PAGE_SIZE, &x, 1), 0);
  const uint64_t written0 = sb()->s_wb.nr_written.load();
  ASSERT_EQ(wb_wait_for_pass(sb(), 10'000'000'000ull), 0);
  ASSERT_EQ(filemap_fdatawait_range(f->f_mapping, 0, LLONG_MAX), 0);
  EXPECT_EQ(disk_page(f, 1)[0], 'x');
  const bool written = effective() == WritebackPolicy::ignore || effective() == WritebackPolicy::bounce ||
                       effective() == WritebackPolicy::rfc002;  // written while pinned, as posted
  EXPECT_EQ(sb()->s_wb.nr_written.load() - written0, written ? 2u : 1u);
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, written ? 2 : 1));
  // Written and clean, but for bounce: a copy was written, the pinned page stays dirty.
  EXPECT_EQ(PageDirty(pn.pages[0]), !written || effective() == WritebackPolicy::bounce);
  unpin(&pn);
  ASSERT_EQ(wb_wait_for_pass(sb(), 10'000'000'000ull), 0);
  EXPECT_TRUE(wait_clean(f));
  EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2)) << "the next pass after the unpin writes it";
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FsWritebackTest, SyncWritesEveryFileAndCommits) {
  for (int i = 0; i < 5; i++) write_file("/mnt/f" + std::to_string(i), pattern((i + 1) * PAGE_SIZE + 7, i));
  EXPECT_GT(vs(NR_FILE_DIRTY), 0);
  const uint64_t commits0 = ext4_commits(sb());
  ksys_sync();
  EXPECT_EQ(vs(NR_FILE_DIRTY), 0);
  EXPECT_EQ(vs(NR_WRITEBACK), 0) << "sync waits for the writes";
  EXPECT_GT(ext4_commits(sb()), commits0);
  {
    SpinGuard g(&sb()->s_wb.list_lock);
    EXPECT_TRUE(list_empty(&sb()->s_wb.b_dirty));
  }
}

TEST_P(FsWritebackTest, FsyncOfOneFileLeavesTheOthersDirty) {
  write_file("/mnt/a", pattern(2 * PAGE_SIZE, 1), true);
  write_file("/mnt/b", pattern(2 * PAGE_SIZE, 2), true);
  file* a = open("/mnt/a");
  file* b = open("/mnt/b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Overwrites: no new blocks, so the commit's ordered-data step has nothing of b's.
  const auto a2 = pattern(2 * PAGE_SIZE, 3), b2 = pattern(2 * PAGE_SIZE, 4);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(a, a2.data(), a2.size(), &pos), static_cast<ssize_t>(a2.size()));
  pos = 0;
  ASSERT_EQ(kernel_write(b, b2.data(), b2.size(), &pos), static_cast<ssize_t>(b2.size()));
  ASSERT_EQ(vfs_fsync(a, 0), 0);
  EXPECT_FALSE(xa_marked(&a->f_mapping->i_pages, PAGECACHE_TAG_DIRTY));
  EXPECT_TRUE(xa_marked(&b->f_mapping->i_pages, PAGECACHE_TAG_DIRTY));
  EXPECT_EQ(disk_page(a, 1), std::vector<char>(a2.begin() + PAGE_SIZE, a2.end()));
  const auto b1 = pattern(2 * PAGE_SIZE, 2);
  EXPECT_EQ(disk_page(b, 1), std::vector<char>(b1.begin() + PAGE_SIZE, b1.end())) << "b is not synced";
  filp_close(a);
  filp_close(b);
}

TEST_P(FsWritebackTest, PassingTheDirtyThresholdKicksTheFlusher) {
  // 10% of the 64 MiB machine is 1638 pages: write 8 MiB without syncing.
  file* f = open("/mnt/big");
  ASSERT_NE(f, nullptr);
  const uint64_t passes0 = sb()->s_wb.nr_passes.load();
  const uint64_t written0 = sb()->s_wb.nr_written.load();
  const auto d = pattern(8u << 20, 3);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(f, d.data(), d.size(), &pos), static_cast<ssize_t>(d.size()));
  // Background writeback goes on until the dirty pages are under the threshold, not 0.
  wait_event_timeout(&sb()->s_wb.wb_wait, [&] { return sb()->s_wb.nr_passes.load() > passes0; }, 10 * NSEC_PER_SEC);
  EXPECT_GT(sb()->s_wb.nr_passes.load(), passes0) << "nobody synced, yet the flusher ran";
  EXPECT_GT(sb()->s_wb.nr_written.load(), written0);
  filp_close(f);
}

TEST_P(FsWritebackTest, PeriodicFlusherRunsWithoutAKick) {
  ASSERT_EQ(umount(), 0);
  mount("writeback_interval=5");
  write_file("/mnt/p", pattern(PAGE_SIZE, 4));
  file* f = open("/mnt/p");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(wait_clean(f)) << "a periodic pass wrote it";
  filp_close(f);
}

// The flusher holds references to the inodes it writes: an umount meanwhile must wait
// for the pass, not report the filesystem busy.
TEST_P(FsWritebackTest, UmountDuringAFlusherPassWaitsForIt) {
  write_file("/mnt/a", pattern(4 * PAGE_SIZE, 5));  // dirty, closed
  SyncPoints& sp = sync_points();
  sp.load_dependency({{"test:flusher_in_pass", "test:start_umount"}, {"umount:wait_active", "test:flusher_go"}});
  std::atomic<bool> once{false};
  sp.set_callback("writeback:clear_dirty:before", [&] {
    if (current()->comm.rfind("flush-", 0) != 0 || once.exchange(true)) return;
    TEST_SYNC_POINT("test:flusher_in_pass");  // an inode referenced, a page locked
    TEST_SYNC_POINT("test:flusher_go");       // once umount has started
  });
  std::atomic<int> ret{1};
  task_struct* t = m_->spawn("umount", [&] {
    TEST_SYNC_POINT("test:start_umount");
    ret.store(umount());
  });
  // Kick holding the filesystem active: the umount it lets through frees the sb.
  super_block* s = m_->mounts().grab_path("/mnt", nullptr);
  ASSERT_NE(s, nullptr);
  wb_kick(s);
  m_->mounts().drop_super(s);
  task_join(t);
  EXPECT_TRUE(once.load());
  EXPECT_EQ(ret.load(), 0) << "not busy: only the flusher held the inode";
  m_->sync_points().disable();
  if (ret.load() != 0) return;
  mount();
  EXPECT_EQ(read_file("/mnt/a"), pattern(4 * PAGE_SIZE, 5));
}

INSTANTIATE_TEST_SUITE_P(DesignsPolicies, FsWritebackTest, ::testing::ValuesIn(all_design_policies()),
                         design_policy_name);

TEST(FsWritebackMountTest, EveryPolicyMountsRevokeToo) {
  for (WritebackPolicy p : kAllWritebackPolicies) {
    MachineConfig c;
    c.ram_bytes = 32ull << 20;
    c.wb_policy = p;
    Machine m(c);
    TaskScope scope(m.task_init("test"));
    ASSERT_EQ(ext4_mkfs(&m, "ram0,size=8M"), 0);
    std::string err;
    EXPECT_EQ(m.mounts().mount("ram0,size=8M", "/mnt", "ext4", "", &err), 0) << to_string(p) << ": " << err;
    EXPECT_EQ(m.mounts().umount("/mnt"), 0) << to_string(p);
  }
}

}  // namespace
}  // namespace guplab::fstest
