// ext4_test.cc - the lab's ext4: create/write/fsync/read round trips through the page
// cache, sizes, holes, many files, unlink, truncate, remount, crash consistency (what
// was committed survives a power cut exactly; what was not, does not), block sizes;
// and crash consistency with pinned pages in play under each writeback policy and pin
// design: what is on the disk after sync + power cut is exactly what the policy
// promises, and ordered mode never exposes a block nobody wrote.
#include <gtest/gtest.h>

#include <atomic>

#include "fs/buffer_head.h"
#include "mm/filemap.h"
#include "tests/fs/fs_fixture.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class Ext4Test : public FsTest {};

TEST_F(Ext4Test, WriteFsyncReadRoundTrip) {
  const auto data = pattern(3 * PAGE_SIZE + 123, 1);
  write_file("/mnt/a", data, true);
  EXPECT_EQ(read_file("/mnt/a"), data);
  EXPECT_GT(vs(NR_FILE_PAGES), 0);
  EXPECT_EQ(vs(NR_FILE_DIRTY), 0) << "fsync wrote everything";
  EXPECT_GE(ext4_commits(sb()), 1u);
}

TEST_F(Ext4Test, UnalignedWritesAndReadsAcrossPages) {
  file* f = open("/mnt/b");
  ASSERT_NE(f, nullptr);
  std::vector<char> model(5 * PAGE_SIZE, 0);
  Random rng(7);
  for (int i = 0; i < 40; i++) {
    const size_t off = rng.next_u64() % (4 * PAGE_SIZE);
    const size_t len = 1 + rng.next_u64() % (PAGE_SIZE + 500);
    auto chunk = pattern(len, static_cast<unsigned>(i));
    loff_t pos = static_cast<loff_t>(off);
    ASSERT_EQ(kernel_write(f, chunk.data(), len, &pos), static_cast<ssize_t>(len));
    if (off + len > model.size()) model.resize(off + len);
    std::memcpy(model.data() + off, chunk.data(), len);
  }
  model.resize(static_cast<size_t>(vfs_size(f)));
  std::vector<char> got(model.size());
  loff_t pos = 0;
  ASSERT_EQ(kernel_read(f, got.data(), got.size(), &pos), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, model);
  char c;
  EXPECT_EQ(kernel_read(f, &c, 1, &pos), 0) << "EOF";
  filp_close(f);
}

TEST_F(Ext4Test, SparseFileReadsZeroesInTheHole) {
  file* f = open("/mnt/sparse");
  ASSERT_NE(f, nullptr);
  const char x = 'x';
  loff_t pos = 100 * PAGE_SIZE;  // past the direct blocks: an indirect block
  ASSERT_EQ(kernel_write(f, &x, 1, &pos), 1);
  EXPECT_EQ(vfs_size(f), static_cast<loff_t>(100 * PAGE_SIZE + 1));
  std::vector<char> buf(PAGE_SIZE, 'z');
  pos = 50 * PAGE_SIZE;
  ASSERT_EQ(kernel_read(f, buf.data(), buf.size(), &pos), static_cast<ssize_t>(PAGE_SIZE));
  EXPECT_EQ(buf, std::vector<char>(PAGE_SIZE, 0));
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  filp_close(f);
}

TEST_F(Ext4Test, LargeFileUsesDoubleIndirectBlocks) {
  write_file("/mnt/first", {});  // the directory's first block
  const uint32_t free0 = ext4_free_blocks_count(sb());
  const size_t n = (12 + 1024 + 10) * PAGE_SIZE;  // into the double indirect range
  const auto data = pattern(n, 3);
  write_file("/mnt/big", data, true);
  EXPECT_EQ(read_file("/mnt/big"), data);
  // data blocks + 1 indirect + 1 double indirect + 1 of its indirect blocks
  EXPECT_EQ(free0 - ext4_free_blocks_count(sb()), n / PAGE_SIZE + 3);
  ASSERT_EQ(vfs_unlink("/mnt/big"), 0);
  EXPECT_EQ(ext4_free_blocks_count(sb()), free0) << "unlink of a closed file frees every block";
}

TEST_F(Ext4Test, CreateLookupUnlinkAndDirectoryListing) {
  for (int i = 0; i < 100; i++) write_file("/mnt/f" + std::to_string(i), pattern(10 + i, i));
  std::vector<std::string> names;
  ASSERT_EQ(iterate_dir("/mnt", &names), 0);
  EXPECT_EQ(names.size(), 100u);
  EXPECT_TRUE(IS_ERR(filp_open("/mnt/f7", O_RDWR | O_CREAT | O_EXCL, 0644)));
  EXPECT_EQ(PTR_ERR(filp_open("/mnt/nope", O_RDONLY, 0)), -ENOENT);
  EXPECT_EQ(PTR_ERR(filp_open("/mnt", O_RDONLY, 0)), -EISDIR);
  EXPECT_EQ(PTR_ERR(filp_open("/elsewhere/x", O_RDONLY, 0)), -ENOENT);
  EXPECT_EQ(PTR_ERR(filp_open(("/mnt/" + std::string(56, 'n')).c_str(), O_RDWR | O_CREAT, 0644)), -ENAMETOOLONG);
  for (int i = 0; i < 100; i += 2) ASSERT_EQ(vfs_unlink(("/mnt/f" + std::to_string(i)).c_str()), 0);
  EXPECT_EQ(vfs_unlink("/mnt/f0"), -ENOENT);
  names.clear();
  ASSERT_EQ(iterate_dir("/mnt", &names), 0);
  EXPECT_EQ(names.size(), 50u);
  EXPECT_EQ(read_file("/mnt/f31"), pattern(41, 31));
}

TEST_F(Ext4Test, UnlinkedOpenFileLivesUntilClosed) {
  write_file("/mnt/first", {});  // the directory's first block
  const uint32_t free0 = ext4_free_blocks_count(sb());
  write_file("/mnt/u", pattern(4 * PAGE_SIZE, 4));
  file* f = open("/mnt/u", O_RDONLY);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_unlink("/mnt/u"), 0);
  EXPECT_EQ(PTR_ERR(filp_open("/mnt/u", O_RDONLY, 0)), -ENOENT);
  std::vector<char> buf(4 * PAGE_SIZE);
  loff_t pos = 0;
  EXPECT_EQ(kernel_read(f, buf.data(), buf.size(), &pos), static_cast<ssize_t>(buf.size()));
  EXPECT_EQ(buf, pattern(4 * PAGE_SIZE, 4));
  EXPECT_LT(ext4_free_blocks_count(sb()), free0);
  filp_close(f);
  EXPECT_EQ(ext4_free_blocks_count(sb()), free0);
}

TEST_F(Ext4Test, TruncateShrinksAndExtendsWithZeroes) {
  write_file("/mnt/first", {});  // the directory's first block
  const uint32_t free0 = ext4_free_blocks_count(sb());
  write_file("/mnt/t", pattern(20 * PAGE_SIZE, 5));
  file* f = open("/mnt/t");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_truncate(f, 3 * PAGE_SIZE + 10), 0);
  EXPECT_EQ(free0 - ext4_free_blocks_count(sb()), 4u) << "blocks past the new size are freed";
  ASSERT_EQ(vfs_truncate(f, 6 * PAGE_SIZE), 0);
  std::vector<char> got(6 * PAGE_SIZE);
  loff_t pos = 0;
  ASSERT_EQ(kernel_read(f, got.data(), got.size(), &pos), static_cast<ssize_t>(got.size()));
  auto want = pattern(20 * PAGE_SIZE, 5);
  want.resize(3 * PAGE_SIZE + 10);
  want.resize(6 * PAGE_SIZE, 0);
  EXPECT_EQ(got, want) << "the old tail must not come back";
  filp_close(f);
}

TEST_F(Ext4Test, RemountSeesWhatWasWritten) {
  write_file("/mnt/r1", pattern(7 * PAGE_SIZE + 1, 8));
  write_file("/mnt/r2", pattern(100, 9));
  ASSERT_EQ(umount(), 0);  // writes everything back
  EXPECT_EQ(vs(NR_FILE_PAGES), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/r1"), pattern(7 * PAGE_SIZE + 1, 8));
  EXPECT_EQ(read_file("/mnt/r2"), pattern(100, 9));
}

TEST_F(Ext4Test, MkfsWritesItsMetadataInFewRequestsTheSuperblockLast) {
  // 32 MiB in 4 KiB blocks: superblock, 1 bitmap block and 32 inode-table blocks are
  // 136 KiB, three requests of at most EXT4_DEV_RW_MAX; the superblock's goes last.
  ASSERT_EQ(ext4_mkfs(m_.get(), "ram1,size=32M", ext4_mkfs_options{4096, 0}), 0);
  auto* rd = dynamic_cast<ramdisk*>(m_->block().lookup("ram1"));
  ASSERT_NE(rd, nullptr);
  EXPECT_EQ(rd->write_generation(), 3u);
  EXPECT_EQ(rd->sector_generation(0), 3u) << "the superblock is written last";
  const sector_t itable_end = (34 * 4096 >> SECTOR_SHIFT) - 1;
  EXPECT_EQ(rd->sector_generation(itable_end), 1u);
  EXPECT_EQ(rd->sector_generation(itable_end + 1), 0u) << "no data block written";
  ASSERT_EQ(m_->mounts().mount("ram1", "/mnt2", "ext4", ""), 0);
  write_file("/mnt2/f", pattern(5000, 3));
  EXPECT_EQ(read_file("/mnt2/f"), pattern(5000, 3));
  ASSERT_EQ(m_->mounts().umount("/mnt2"), 0);
  ASSERT_EQ(del_gendisk(m_.get(), "ram1"), 0);
}

TEST_F(Ext4Test, UmountRefusesWhileAFileIsOpen) {
  file* f = open("/mnt/busy");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(umount(), -EBUSY);
  filp_close(f);
  EXPECT_EQ(umount(), 0);
  mount();
}

// Crash consistency: a new machine mounting the same device contents sees exactly the
// last commit (fsync/sync), never data that was only in the page cache.
TEST_F(Ext4Test, CrashKeepsExactlyWhatWasSynced) {
  const auto a1 = pattern(9 * PAGE_SIZE + 77, 10);
  const auto b1 = pattern(2 * PAGE_SIZE, 11);
  write_file("/mnt/a", a1);
  write_file("/mnt/b", b1);
  ksys_sync();
  // After the sync: a rewrite, an unlink, a new file, a truncate - none synced.
  write_file("/mnt/a", pattern(PAGE_SIZE, 12));
  ASSERT_EQ(vfs_unlink("/mnt/b"), 0);
  write_file("/mnt/c", pattern(PAGE_SIZE, 13));
  crash_and_reboot();
  mount();
  EXPECT_EQ(read_file("/mnt/a"), a1);
  EXPECT_EQ(read_file("/mnt/b"), b1);
  EXPECT_EQ(PTR_ERR(filp_open("/mnt/c", O_RDONLY, 0)), -ENOENT);
  std::vector<std::string> names;
  ASSERT_EQ(iterate_dir("/mnt", &names), 0);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
}

TEST_F(Ext4Test, CrashAfterFsyncKeepsThatFile) {
  const auto d = pattern(5 * PAGE_SIZE + 3, 14);
  file* f = open("/mnt/log");
  ASSERT_NE(f, nullptr);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(f, d.data(), d.size(), &pos), static_cast<ssize_t>(d.size()));
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  const char more[] = "not synced";
  ASSERT_EQ(kernel_write(f, more, sizeof(more), &pos), static_cast<ssize_t>(sizeof(more)));
  filp_close(f);
  crash_and_reboot();
  mount();
  EXPECT_EQ(read_file("/mnt/log"), d);
}

class Ext4SmallBlocksTest : public FsTest {
 protected:
  FsParams params() override {
    FsParams p;
    p.block_size = 1024;
    return p;
  }
};

TEST_F(Ext4SmallBlocksTest, FourBuffersPerPageRoundTrip) {
  const auto data = pattern(10 * PAGE_SIZE + 1500, 20);
  write_file("/mnt/s", data, true);
  ASSERT_EQ(umount(), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/s"), data);
  file* f = open("/mnt/s", O_RDONLY);
  ASSERT_NE(f, nullptr);
  folio* pg = filemap_get_folio(f->f_mapping, 0);
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(PagePrivate(pg));
  int n = 0;
  buffer_head* head = reinterpret_cast<buffer_head*>(pg->private_);
  buffer_head* bh = head;
  do {
    n++;
    EXPECT_TRUE(buffer_mapped(bh));
    bh = bh->b_this_page;
  } while (bh != head);
  EXPECT_EQ(n, 4);
  folio_put(pg);
  filp_close(f);
}

// ---- crash consistency with pinned pages ------------------------------------------------

class Ext4CrashPinTest : public FsPinTest {
 protected:
  /** sync_with_pin() - ksys_sync(); under wait, an unpinner lets @p go once sync sleeps for it. */
  void sync_with_pin(page* p, unsigned last_seed, bool* unpinned) {
    if (effective() != WritebackPolicy::wait) {
      ksys_sync();
      return;
    }
    SyncPoints& sp = sync_points();
    sp.load_dependency({{"writeback:wait_pinned", "test:unpin"}});
    task_struct* t = m_->spawn("unpinner", [&] {
      TEST_SYNC_POINT("test:unpin");
      dev_write(p, last_seed);
      unpin_user_page(p);
    });
    ksys_sync();
    task_join(t);
    sp.disable();
    *unpinned = true;
  }
};

// The page the device writes is pinned across sync; then the power goes.
TEST_P(Ext4CrashPinTest, SyncThenCrashKeepsWhatThePolicyPromises) {
  const auto d1 = pattern(2 * PAGE_SIZE, 1);
  write_file("/mnt/a", d1, true);
  file* f = open("/mnt/a");
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);  // page 0, dirty
  page* p = pn.pages[0];
  dev_write(p, 2);
  const auto d3 = pattern(PAGE_SIZE, 3);
  loff_t pos = PAGE_SIZE;
  ASSERT_EQ(kernel_write(f, d3.data(), d3.size(), &pos), static_cast<ssize_t>(PAGE_SIZE));  // page 1
  if (effective() == WritebackPolicy::bounce) {
    // The device goes on writing while the copy is on its way to the disk.
    sync_points().set_callback("writeback:submit", [&] { dev_write(p, 5); });
  }
  bool unpinned = false;
  sync_with_pin(p, 4, &unpinned);
  m_->sync_points().disable();
  std::vector<char> want0;
  switch (effective()) {
    case WritebackPolicy::ignore: want0 = pattern(PAGE_SIZE, 2); break;
    // rfc002: sync's WB_SYNC_NONE pass wrote the pinned page and cleaned it, so its
    // WB_SYNC_ALL pass had nothing to wait for.
    case WritebackPolicy::rfc002: want0 = pattern(PAGE_SIZE, 2); break;
    case WritebackPolicy::bounce: break;  // a whole copy: 2, or 5 from a later pass (the page stays dirty)
    case WritebackPolicy::wait: want0 = pattern(PAGE_SIZE, 4); break;    // written after the unpin
    case WritebackPolicy::skip:
    case WritebackPolicy::keep_dirty:
      want0 = std::vector<char>(d1.begin(), d1.begin() + PAGE_SIZE);  // never written while pinned
      break;
    case WritebackPolicy::revoke: FAIL();
  }
  if (!unpinned) unpin_user_page(p);  // after the sync: nothing more reaches the disk
  pn.pages.clear();
  unmap(&pn);
  filp_close(f);
  crash_and_reboot();
  mount();
  const auto got = read_file("/mnt/a");
  if (effective() == WritebackPolicy::bounce) {
    ASSERT_EQ(got.size(), 2 * PAGE_SIZE);
    const std::vector<char> p0(got.begin(), got.begin() + PAGE_SIZE), p1(got.begin() + PAGE_SIZE, got.end());
    EXPECT_TRUE(p0 == pattern(PAGE_SIZE, 2) || p0 == pattern(PAGE_SIZE, 5)) << "not a whole copy of a device write";
    EXPECT_EQ(p1, d3);
    return;
  }
  auto want = want0;
  want.insert(want.end(), d3.begin(), d3.end());
  EXPECT_EQ(got, want);
}

// Ordered mode: a commit never points the file at a block whose data was not written.
// A pinned page that sync leaves dirty sits on a block just allocated - one that an
// unlinked file freed, so its old contents are still on the disk.
TEST_P(Ext4CrashPinTest, ANewBlockOfAPinnedPageIsNeverExposedStale) {
  const auto old = pattern(4 * PAGE_SIZE, 7);
  write_file("/mnt/old", old, true);
  ASSERT_EQ(vfs_unlink("/mnt/old"), 0);
  ksys_sync();
  ASSERT_EQ(umount(), 0);  // the allocator starts from the first data block again
  mount();
  file* f = open("/mnt/new");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_truncate(f, PAGE_SIZE), 0);
  Pinned pn = pin_mapped(f, 1);  // page_mkwrite allocates the block
  page* p = pn.pages[0];
  dev_write(p, 8);
  bool unpinned = false;
  sync_with_pin(p, 9, &unpinned);
  if (!unpinned) unpin_user_page(p);
  pn.pages.clear();
  unmap(&pn);
  filp_close(f);
  crash_and_reboot();
  mount();
  const auto got = read_file("/mnt/new");
  ASSERT_EQ(got.size(), PAGE_SIZE);
  const std::vector<char> stale(old.begin(), old.begin() + PAGE_SIZE);
  for (size_t i = PAGE_SIZE; i < old.size(); i += PAGE_SIZE) {
    const std::vector<char> s(old.begin() + static_cast<long>(i), old.begin() + static_cast<long>(i + PAGE_SIZE));
    EXPECT_NE(got, s) << "the unlinked file's data";
  }
  EXPECT_NE(got, stale) << "the unlinked file's data";
  switch (effective()) {
    case WritebackPolicy::ignore:
    case WritebackPolicy::rfc002:  // written by sync's WB_SYNC_NONE pass, pinned
    case WritebackPolicy::bounce: EXPECT_EQ(got, pattern(PAGE_SIZE, 8)); break;
    case WritebackPolicy::wait: EXPECT_EQ(got, pattern(PAGE_SIZE, 9)); break;
    case WritebackPolicy::skip:
    case WritebackPolicy::keep_dirty:
      EXPECT_EQ(got, std::vector<char>(PAGE_SIZE, 0)) << "never written: reads as the hole it was";
      break;
    case WritebackPolicy::revoke: FAIL();
  }
}

std::vector<DesignPolicy> crash_cells() {
  std::vector<DesignPolicy> v;
  for (PinDesign d : kAllPinDesigns)
    for (WritebackPolicy p : {WritebackPolicy::ignore, WritebackPolicy::skip, WritebackPolicy::wait,
                              WritebackPolicy::bounce, WritebackPolicy::keep_dirty, WritebackPolicy::rfc002})
      if (d != PinDesign::get || p == WritebackPolicy::skip) v.emplace_back(d, p);
  return v;
}
INSTANTIATE_TEST_SUITE_P(DesignsPolicies, Ext4CrashPinTest, ::testing::ValuesIn(crash_cells()), design_policy_name);

}  // namespace
}  // namespace guplab::fstest
