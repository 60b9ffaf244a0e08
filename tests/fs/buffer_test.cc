// buffer_test.cc - fs/buffer.cc: buffer rings on page-cache pages (attach takes a page
// reference, drop gives it back), try_to_free_buffers() refusing busy buffers,
// block_invalidate_folio() of part or all of a page, block_dirty_folio() with and
// without buffers (seed 002: without, only PG_dirty is set), page_buffers() BUGging on a
// page without buffers, reads zeroing holes and what lies past EOF, partial writes
// reading the rest of a block in, writeback zeroing past EOF, block_truncate_page().
#include <gtest/gtest.h>

#include "fs/buffer_head.h"
#include "mm/truncate.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class BufferTest : public FsPinTest {
 protected:
  FsParams base_params() override {
    FsParams p;
    p.block_size = 1024;  // four buffers per page
    return p;
  }
  static std::vector<buffer_head*> ring(folio* f) {
    std::vector<buffer_head*> v;
    if (!PagePrivate(f)) return v;
    buffer_head* head = reinterpret_cast<buffer_head*>(f->private_);
    buffer_head* bh = head;
    do {
      v.push_back(bh);
      bh = bh->b_this_page;
    } while (bh != head);
    return v;
  }
  /** clean_page() - page 0 of a synced @npages-page file, referenced. */
  folio* clean_page(file** fp, unsigned npages = 1) {
    *fp = make_file("/mnt/b", npages, 1);
    return cached(*fp, 0);
  }
};

TEST_P(BufferTest, AttachedBuffersHoldAPageReferenceUntilDropped) {
  folio* f = filemap_alloc_folio(m_.get(), gfp_t::GFP_KERNEL);
  ASSERT_NE(f, nullptr);
  folio_lock(f);
  buffer_head* head = create_empty_buffers(f, 1024, 1ul << BH_Uptodate);
  EXPECT_TRUE(PagePrivate(f));
  EXPECT_EQ(page_ref_count(f), 2);
  auto bhs = ring(f);
  ASSERT_EQ(bhs.size(), 4u);
  EXPECT_EQ(bhs[0], head);
  for (unsigned i = 0; i < 4; i++) {
    EXPECT_EQ(bhs[i]->b_offset, i * 1024);
    EXPECT_EQ(bhs[i]->b_size, 1024u);
    EXPECT_EQ(bhs[i]->b_page, f);
    EXPECT_TRUE(buffer_uptodate(bhs[i]));
    EXPECT_FALSE(buffer_mapped(bhs[i]));
  }
  EXPECT_TRUE(try_to_free_buffers(f));
  EXPECT_FALSE(PagePrivate(f));
  EXPECT_EQ(page_ref_count(f), 1);
  EXPECT_TRUE(try_to_free_buffers(f)) << "none left: nothing to do";
  folio_unlock(f);
  folio_put(f);
}

TEST_P(BufferTest, TryToFreeBuffersRefusesBusyOnes) {
  file* fl = nullptr;
  folio* f = clean_page(&fl);
  ASSERT_NE(f, nullptr);
  auto bhs = ring(f);
  ASSERT_EQ(bhs.size(), 4u);
  folio_lock(f);
  set_buffer_dirty(bhs[2]);
  EXPECT_FALSE(try_to_free_buffers(f)) << "a dirty buffer";
  clear_buffer_dirty(bhs[2]);
  atomic_inc(&bhs[1]->b_count);
  EXPECT_FALSE(try_to_free_buffers(f)) << "a referenced buffer";
  atomic_dec(&bhs[1]->b_count);
  set_bit(BH_Lock, &bhs[3]->b_state);
  EXPECT_FALSE(try_to_free_buffers(f)) << "a locked buffer (I/O)";
  clear_bit(BH_Lock, &bhs[3]->b_state);
  EXPECT_TRUE(PagePrivate(f));
  // A dirty page whose buffers are all clean: the buffers go and the page is cleaned.
  const int64_t dirty0 = vs(NR_FILE_DIRTY);
  SetPageDirty(f);
  m_->vmstat().inc(NR_FILE_DIRTY);  // as filemap_dirty_folio() counts it
  EXPECT_TRUE(try_to_free_buffers(f));
  EXPECT_FALSE(PageDirty(f));
  EXPECT_EQ(vs(NR_FILE_DIRTY), dirty0);
  folio_unlock(f);
  folio_put(f);
  EXPECT_EQ(read_file("/mnt/b"), pattern(PAGE_SIZE, 1)) << "buffers come back with the next access";
  filp_close(fl);
}

TEST_P(BufferTest, InvalidatingPartOfAPageDiscardsThoseBuffersOnly) {
  file* fl = nullptr;
  folio* f = clean_page(&fl);
  ASSERT_NE(f, nullptr);
  auto bhs = ring(f);
  for (buffer_head* bh : bhs) ASSERT_TRUE(buffer_mapped(bh) && buffer_uptodate(bh));
  folio_lock(f);
  block_dirty_folio(fl->f_mapping, f);
  block_invalidate_folio(f, 1024, 2048);
  EXPECT_TRUE(PagePrivate(f)) << "part of the page: the ring stays";
  for (unsigned i = 0; i < 4; i++) {
    const bool gone = i == 1 || i == 2;
    EXPECT_EQ(buffer_mapped(bhs[i]), !gone) << i;
    EXPECT_EQ(buffer_uptodate(bhs[i]), !gone) << i;
    EXPECT_EQ(buffer_dirty(bhs[i]), !gone) << i;
  }
  block_invalidate_folio(f, 0, PAGE_SIZE);
  EXPECT_FALSE(PagePrivate(f)) << "the whole page: dropped";
  folio_cancel_dirty(f);
  folio_unlock(f);
  folio_put(f);
  filp_close(fl);
}

// Seed 002: a page that lost its buffers is dirtied by set_page_dirty_lock(): only
// PG_dirty is set, and writeback then finds a dirty page without buffers.
TEST_P(BufferTest, DirtyingAPageWithoutBuffersSetsOnlyPgDirty) {
  file* fl = nullptr;
  folio* f = clean_page(&fl);
  ASSERT_NE(f, nullptr);
  folio_lock(f);
  block_dirty_folio(fl->f_mapping, f);
  for (buffer_head* bh : ring(f)) EXPECT_TRUE(buffer_dirty(bh));
  EXPECT_TRUE(PageDirty(f));
  EXPECT_TRUE(xa_marked(&fl->f_mapping->i_pages, PAGECACHE_TAG_DIRTY));
  // Written: clean again; then the buffers are dropped (reclaim) and the page dirtied.
  folio_unlock(f);
  ASSERT_EQ(vfs_fsync(fl, 0), 0);
  folio_lock(f);
  ASSERT_TRUE(try_to_free_buffers(f));
  EXPECT_TRUE(block_dirty_folio(fl->f_mapping, f)) << "was clean";
  EXPECT_TRUE(PageDirty(f));
  EXPECT_FALSE(PagePrivate(f)) << "no buffers to mark: seed 002's dirty page without buffers";
  folio_cancel_dirty(f);  // (writing it now would be seed 002's BUG)
  folio_unlock(f);
  folio_put(f);
  filp_close(fl);
}

TEST_P(BufferTest, MarkBufferDirtyDirtiesItsPageAndInode) {
  file* fl = nullptr;
  folio* f = clean_page(&fl);
  ASSERT_NE(f, nullptr);
  ksys_sync();
  mark_buffer_dirty(ring(f)[3]);
  EXPECT_TRUE(PageDirty(f));
  {
    SpinGuard g(&file_inode(fl)->i_lock);
    EXPECT_TRUE(file_inode(fl)->i_state & I_DIRTY_PAGES);
  }
  EXPECT_FALSE(buffer_dirty(ring(f)[0])) << "that buffer only";
  ASSERT_EQ(vfs_fsync(fl, 0), 0);
  folio_put(f);
  filp_close(fl);
}

TEST_P(BufferTest, ReadsZeroHolesAndWhatLiesPastEof) {
  file* fl = open("/mnt/h");
  ASSERT_NE(fl, nullptr);
  const auto d = pattern(1024, 2);
  loff_t pos = 2048;  // block 2 only; blocks 0-1 are holes
  ASSERT_EQ(kernel_write(fl, d.data(), d.size(), &pos), 1024);
  ASSERT_EQ(vfs_fsync(fl, 0), 0);
  filp_close(fl);
  ASSERT_EQ(umount(), 0);
  mount();
  fl = open("/mnt/h");
  std::vector<char> got(3072);
  pos = 0;
  ASSERT_EQ(kernel_read(fl, got.data(), got.size(), &pos), 3072);
  std::vector<char> want(2048, 0);
  want.insert(want.end(), d.begin(), d.end());
  EXPECT_EQ(got, want);
  folio* f = cached(fl, 0);
  auto bhs = ring(f);
  ASSERT_EQ(bhs.size(), 4u);
  EXPECT_FALSE(buffer_mapped(bhs[0])) << "a hole";
  EXPECT_TRUE(buffer_uptodate(bhs[0])) << "zeroes";
  EXPECT_TRUE(buffer_mapped(bhs[2]));
  EXPECT_FALSE(buffer_mapped(bhs[3])) << "past EOF";
  const auto frame = page_bytes(f);
  EXPECT_EQ(std::vector<char>(frame.begin() + 3072, frame.end()), std::vector<char>(1024, 0));
  folio_put(f);
  filp_close(fl);
}

TEST_P(BufferTest, PartialWriteOfAColdBlockReadsTheRestFirst) {
  const auto d = pattern(PAGE_SIZE, 3);
  write_file("/mnt/p", d, true);
  ASSERT_EQ(umount(), 0);
  mount();
  file* fl = open("/mnt/p");
  const uint64_t reads0 = rd()->stats().reads;
  const char x[10] = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
  loff_t pos = 1500;  // inside block 1
  ASSERT_EQ(kernel_write(fl, x, sizeof(x), &pos), 10);
  EXPECT_EQ(rd()->stats().reads, reads0 + 1) << "block 1 only, before the copy";
  ASSERT_EQ(vfs_fsync(fl, 0), 0);
  filp_close(fl);
  ASSERT_EQ(umount(), 0);
  mount();
  auto want = d;
  std::memcpy(want.data() + 1500, x, sizeof(x));
  EXPECT_EQ(read_file("/mnt/p"), want);
}

// The last page of a file reaches the disk with zeroes past EOF, whatever a store
// through mmap left there.
TEST_P(BufferTest, WritebackZeroesThePartOfTheLastPagePastEof) {
  file* fl = open("/mnt/e");
  ASSERT_NE(fl, nullptr);
  const auto d = pattern(700, 4);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(fl, d.data(), d.size(), &pos), 700);
  const unsigned long a = map_file(fl, PAGE_SIZE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a + 900, &x, 1), 0);  // past EOF, same block
  ASSERT_EQ(vfs_fsync(fl, 0), 0);
  const uint32_t blk = block_of(fl, 0);
  std::vector<char> disk(1024);
  ASSERT_EQ(rd()->read_sectors(static_cast<sector_t>(blk) * 2, 2, disk.data()), 0);
  EXPECT_EQ(std::vector<char>(disk.begin(), disk.begin() + 700), d);
  EXPECT_EQ(std::vector<char>(disk.begin() + 700, disk.end()), std::vector<char>(324, 0));
  EXPECT_EQ(block_of(fl, 1), 0u) << "no block past EOF";
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  filp_close(fl);
}

TEST_P(BufferTest, BlockTruncatePageZeroesTheRestOfTheBlockAndDirtiesIt) NO_THREAD_SAFETY_ANALYSIS {
  const auto d = pattern(PAGE_SIZE, 5);
  write_file("/mnt/t", d, true);
  ASSERT_EQ(umount(), 0);
  mount();
  file* fl = open("/mnt/t");
  inode* ino = file_inode(fl);
  inode_lock(ino);
  EXPECT_EQ(block_truncate_page(ino->i_mapping, 2048, ext4_get_block), 0) << "a block boundary";
  EXPECT_EQ(cached(fl, 0), nullptr) << "nothing to do there";
  EXPECT_EQ(block_truncate_page(ino->i_mapping, 1100, ext4_get_block), 0);
  inode_unlock(ino);
  folio* f = cached(fl, 0);
  ASSERT_NE(f, nullptr);
  auto bhs = ring(f);
  EXPECT_TRUE(buffer_dirty(bhs[1]));
  EXPECT_FALSE(buffer_dirty(bhs[0]));
  EXPECT_FALSE(buffer_uptodate(bhs[2])) << "only the cut block was read";
  EXPECT_FALSE(PageUptodate(f));
  folio_put(f);
  ASSERT_EQ(vfs_fsync(fl, 0), 0);
  std::vector<char> disk(1024);
  ASSERT_EQ(rd()->read_sectors(static_cast<sector_t>(block_of(fl, 1)) * 2, 2, disk.data()), 0);
  std::vector<char> want(d.begin() + 1024, d.begin() + 2048);
  std::fill(want.begin() + 76, want.end(), 0);
  EXPECT_EQ(disk, want);
  filp_close(fl);
}

INSTANTIATE_TEST_SUITE_P(OneDesign, BufferTest,
                         ::testing::Values(DesignPolicy{PinDesign::folio_pincount, WritebackPolicy::skip}),
                         design_policy_name);

TEST(BufferBugTest, PageBuffersOfAPageWithoutBuffersIsAnOopsAtTheCaller) {
  MachineConfig c;
  c.ram_bytes = 16ull << 20;
  Machine m(c);
  page* p = nullptr;
  {
    TaskScope scope(m.task_init("test"));
    p = alloc_pages_on(&m, gfp_t::GFP_KERNEL, 0);
    ASSERT_NE(p, nullptr);
    task_struct* t = m.spawn("writer", [p] { (void)page_buffers(p); });
    task_join(t);
    ASSERT_EQ(m.nr_oops(), 1u);
    const OopsRecord o = m.oopses()[0];
    EXPECT_EQ(o.kind, "BUG");
    EXPECT_NE(o.cond.find("!PagePrivate(page)"), std::string::npos) << o.format();
    EXPECT_NE(o.site.find("buffer_test.cc"), std::string::npos) << "the caller's line: " << o.site;
    EXPECT_TRUE(m.halted());
    put_page(p);
  }
}

}  // namespace
}  // namespace guplab::fstest
