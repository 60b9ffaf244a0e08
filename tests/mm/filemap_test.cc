// filemap_test.cc - mm/filemap.cc: the page cache index (add, lookup, remove, batches,
// tags) and its speculative lookup, file-backed faults through vm_ops->fault reading
// from the block device, seed 001's retry (with FAULT_FLAG_ALLOW_RETRY the fault drops
// mmap_lock while the read is in flight and returns VM_FAULT_RETRY) exercised for real
// by get_user_pages_locked() and get_user_pages_unlocked() on file pages - another task
// takes mmap_lock for write during the read, ordered by sync points - and shared file
// mappings with dirty tracking (read-only until page_mkwrite, re-protected by writeback).
#include <gtest/gtest.h>

#include <atomic>

#include "mm/memory.h"
#include "mm/rmap.h"
#include "mm/mmap.h"
#include "mm/pin_design.h"
#include "mm/truncate.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class FilemapTest : public FsPinTest {
 protected:
  /** cold_file() - @path with @npages pages of pattern(@seed) on the disk, none cached; open. */
  file* cold_file(const std::string& path, unsigned npages, unsigned seed) {
    write_file(path, pattern(npages * PAGE_SIZE, seed), true);
    EXPECT_EQ(umount(), 0);
    mount();
    file* f = open(path);
    EXPECT_EQ(filemap_nr_pages(f->f_mapping), 0u);
    return f;
  }
  /** fault() - handle_mm_fault() as a user access would; on VM_FAULT_RETRY the lock is gone. */
  vm_fault_t fault(unsigned long addr, fault_flag flags) NO_THREAD_SAFETY_ANALYSIS {
    mmap_read_lock(mm_);
    vm_area_struct* vma = vma_lookup(mm_, addr);
    vm_fault_t ret = vma ? handle_mm_fault(vma, addr, flags) : VM_FAULT_SIGSEGV;
    if (!any(ret, VM_FAULT_RETRY)) mmap_read_unlock(mm_);
    return ret;
  }
  bool mmap_locked() { return rwsem_is_locked(&mm_->mmap_lock); }
  /**
   * put_gup_page() - release a page get_user_pages*() returned: put_page(), or under
   * bias_all (seed 000 as posted, every GUP a pin) put_user_page(), as the seed's
   * converted callers do.
   */
  void put_gup_page(page* p) {
    if (pin_design_props(design()).get_is_pin)
      put_user_page(p);
    else
      put_page(p);
  }
};

// ---- the index ---------------------------------------------------------------------------

TEST_P(FilemapTest, AddLookupAndRemove) {
  file* f = open("/mnt/idx");
  ASSERT_NE(f, nullptr);
  address_space* mapping = f->f_mapping;
  const int64_t cached0 = vs(NR_FILE_PAGES);
  folio* a = filemap_alloc_folio(m_.get(), gfp_t::GFP_HIGHUSER_MOVABLE);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(filemap_add_folio(mapping, a, 5, gfp_t::GFP_HIGHUSER_MOVABLE), 0);
  EXPECT_TRUE(PageLocked(a)) << "joins locked";
  EXPECT_EQ(folio_mapping_read(a), mapping);
  EXPECT_EQ(a->index, 5u);
  EXPECT_EQ(page_ref_count(a), 2) << "ours and the cache's";
  EXPECT_TRUE(PageLRU(a));
  EXPECT_EQ(filemap_nr_pages(mapping), 1u);
  EXPECT_EQ(vs(NR_FILE_PAGES), cached0 + 1);
  folio_unlock(a);
  folio* b = filemap_alloc_folio(m_.get(), gfp_t::GFP_HIGHUSER_MOVABLE);
  EXPECT_EQ(filemap_add_folio(mapping, b, 5, gfp_t::GFP_HIGHUSER_MOVABLE), -EEXIST);
  EXPECT_FALSE(PageLocked(b));
  EXPECT_EQ(folio_mapping_read(b), nullptr) << "untouched";
  EXPECT_EQ(page_ref_count(b), 1);
  folio_put(b);
  folio* got = filemap_get_folio(mapping, 5);
  EXPECT_EQ(got, a);
  EXPECT_EQ(page_ref_count(a), 3);
  folio_put(got);
  EXPECT_EQ(filemap_get_folio(mapping, 4), nullptr);
  EXPECT_EQ(PTR_ERR(__filemap_get_folio(mapping, 4, FGP_NONE, gfp_t::GFP_KERNEL)), -ENOENT);
  // FGP_LOCK|FGP_NOWAIT on a locked page: -EAGAIN rather than sleep.
  folio_lock(a);
  EXPECT_EQ(PTR_ERR(__filemap_get_folio(mapping, 5, FGP_LOCK | FGP_NOWAIT, gfp_t::GFP_KERNEL)), -EAGAIN);
  filemap_remove_folio(a);
  folio_unlock(a);
  EXPECT_EQ(folio_mapping_read(a), nullptr);
  EXPECT_EQ(filemap_get_folio(mapping, 5), nullptr);
  EXPECT_EQ(filemap_nr_pages(mapping), 0u);
  EXPECT_EQ(vs(NR_FILE_PAGES), cached0);
  EXPECT_EQ(page_ref_count(a), 1) << "the cache's reference went";
  folio_put(a);
  // FGP_CREAT adds a new page (locked with FGP_LOCK).
  folio* c = __filemap_get_folio(mapping, 7, FGP_LOCK | FGP_CREAT, gfp_t::GFP_HIGHUSER_MOVABLE);
  ASSERT_FALSE(IS_ERR(c));
  EXPECT_TRUE(PageLocked(c));
  EXPECT_EQ(filemap_nr_pages(mapping), 1u);
  filemap_remove_folio(c);
  folio_unlock(c);
  folio_put(c);
  filp_close(f);
}

TEST_P(FilemapTest, BatchedAndTaggedLookups) {
  file* f = make_file("/mnt/b", 20, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 20 * PAGE_SIZE);
  for (unsigned i : {4u, 9u, 16u}) {
    const char x = 'x';
    ASSERT_EQ(uaccess_write(mm_, a + i * PAGE_SIZE, &x, 1), 0);
  }
  pgoff_t start = 3;
  folio_batch fb;
  ASSERT_EQ(filemap_get_folios(f->f_mapping, &start, 17, &fb), folio_batch::kSize);
  EXPECT_EQ(fb.folios[0]->index, 3u);
  EXPECT_EQ(fb.folios[14]->index, 17u);
  EXPECT_EQ(start, 18u);
  folio_batch_release(&fb);
  EXPECT_EQ(filemap_get_folios(f->f_mapping, &start, 17, &fb), 0u);
  start = 0;
  ASSERT_EQ(filemap_get_folios_tag(f->f_mapping, &start, ~0ul, PAGECACHE_TAG_DIRTY, &fb), 3u);
  EXPECT_EQ(fb.folios[0]->index, 4u);
  EXPECT_EQ(fb.folios[1]->index, 9u);
  EXPECT_EQ(fb.folios[2]->index, 16u);
  folio_batch_release(&fb);
  start = 10;
  ASSERT_EQ(filemap_get_folios_tag(f->f_mapping, &start, ~0ul, PAGECACHE_TAG_DIRTY, &fb), 1u);
  folio_batch_release(&fb);
  EXPECT_EQ(vm_munmap(mm_, a, 20 * PAGE_SIZE), 0);
  filp_close(f);
}

// The lockless lookup loads the slot, takes a reference, and loads the slot again: a
// page that left (and was replaced) in between is given back and the lookup retried.
TEST_P(FilemapTest, SpeculativeLookupRetriesWhenThePageLeavesUnderIt) {
  file* f = make_file("/mnt/s", 1, 1);
  ASSERT_NE(f, nullptr);
  address_space* mapping = f->f_mapping;
  folio* old = cached(f, 0);
  ASSERT_NE(old, nullptr);
  folio_put(old);
  SyncPoints& sp = sync_points();
  std::atomic<int> hits{0};
  folio* repl = nullptr;
  sp.set_callback("filemap:get_folio:got_ref", [&] {
    if (hits++ != 0) return;  // the first lookup only: it holds a reference to `old`
    folio_lock(old);  // what truncate does: buffers, then the cache
    folio_invalidate(old, 0, PAGE_SIZE);
    filemap_remove_folio(old);
    folio_unlock(old);
    repl = filemap_alloc_folio(m_.get(), gfp_t::GFP_HIGHUSER_MOVABLE);
    ASSERT_EQ(filemap_add_folio(mapping, repl, 0, gfp_t::GFP_HIGHUSER_MOVABLE), 0);
    folio_unlock(repl);
  });
  folio* got = filemap_get_folio(mapping, 0);
  sp.disable();
  EXPECT_EQ(hits.load(), 2) << "retried once";
  EXPECT_EQ(got, repl) << "the page that is there now, not the one that left";
  EXPECT_EQ(page_ref_count(old), 0) << "the stale reference was dropped: freed";
  folio_put(got);
  folio_lock(repl);
  filemap_remove_folio(repl);
  folio_unlock(repl);
  folio_put(repl);  // ours from the allocation: the last
  filp_close(f);
}

// ---- file-backed faults -------------------------------------------------------------------

TEST_P(FilemapTest, FileFaultReadsThePageFromTheDevice) {
  file* f = cold_file("/mnt/r", 3, 2);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 3 * PAGE_SIZE, PROT_READ, MAP_SHARED);
  const int64_t pgpgin0 = vs(PGPGIN), maj0 = vs(PGMAJFAULT);
  const uint64_t reads0 = rd()->stats().reads;
  std::vector<char> buf(PAGE_SIZE);
  ASSERT_EQ(uaccess_read(mm_, a + PAGE_SIZE, buf.data(), buf.size()), 0);
  const auto want = pattern(3 * PAGE_SIZE, 2);
  EXPECT_EQ(buf, std::vector<char>(want.begin() + PAGE_SIZE, want.begin() + 2 * PAGE_SIZE));
  EXPECT_EQ(vs(PGPGIN), pgpgin0 + 1);
  EXPECT_EQ(vs(PGMAJFAULT), maj0 + 1);
  EXPECT_GT(rd()->stats().reads, reads0) << "read from the ramdisk";
  folio* pg = cached(f, 1);
  ASSERT_NE(pg, nullptr);
  EXPECT_TRUE(PageUptodate(pg));
  EXPECT_FALSE(PageLocked(pg)) << "the read's completion unlocked it";
  EXPECT_TRUE(PagePrivate(pg)) << "with its buffer, mapped to the block";
  EXPECT_EQ(reinterpret_cast<buffer_head*>(pg->private_)->b_blocknr, block_of(f, 1));
  EXPECT_EQ(page_mapcount(pg), 1);
  folio_put(pg);
  EXPECT_EQ(cached(f, 0), nullptr) << "only what was touched";
  EXPECT_EQ(uaccess_read(mm_, a + 3 * PAGE_SIZE, buf.data(), 1), -EFAULT) << "past the mapping";
  EXPECT_EQ(vm_munmap(mm_, a, 3 * PAGE_SIZE), 0);
  // A mapping longer than the file: SIGBUS past EOF.
  const unsigned long b = map_file(f, 5 * PAGE_SIZE, PROT_READ, MAP_SHARED);
  EXPECT_EQ(uaccess_read(mm_, b + 4 * PAGE_SIZE, buf.data(), 1), -EFAULT);
  EXPECT_EQ(vm_munmap(mm_, b, 5 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FilemapTest, AllowRetryDropsMmapLockWhileTheReadIsInFlight) {
  file* f = cold_file("/mnt/r", 2, 3);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED);
  // RETRY_NOWAIT: would have to wait for I/O, so says so at once, lock kept, no I/O.
  mmap_read_lock(mm_);
  vm_area_struct* vma = vma_lookup(mm_, a);
  const vm_fault_t nowait = handle_mm_fault(vma, a, FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT);
  EXPECT_TRUE(any(nowait, VM_FAULT_RETRY));
  EXPECT_TRUE(mmap_locked()) << "NOWAIT keeps mmap_lock";
  mmap_read_unlock(mm_);
  EXPECT_EQ(cached(f, 0), nullptr) << "and starts no read";
  // First try: the read starts, mmap_lock goes, VM_FAULT_RETRY comes back.
  const vm_fault_t first = fault(a, FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE);
  EXPECT_TRUE(any(first, VM_FAULT_RETRY));
  EXPECT_TRUE(any(first, VM_FAULT_MAJOR));
  EXPECT_FALSE(mmap_locked()) << "released by the fault";
  EXPECT_FALSE(pte_present(pte_at(a))) << "nothing mapped yet";
  folio* pg = cached(f, 0);
  ASSERT_NE(pg, nullptr);
  EXPECT_TRUE(PageUptodate(pg)) << "it waited for the read without the lock";
  folio_put(pg);
  // The retry (FAULT_FLAG_TRIED) finds it cached and maps it.
  const vm_fault_t second = fault(a, FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_TRIED);
  EXPECT_FALSE(any(second, VM_FAULT_RETRY | VM_FAULT_ERROR));
  EXPECT_TRUE(pte_present(pte_at(a)));
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

// get_user_pages_locked() on file pages that are not cached: each fault drops mmap_lock
// for its read, the call retakes it and retries with FOLL_TRIED, and returns with it
// released and *locked == 0 (seed 001: the caller must know the lock was lost). To
// prove the lock was really gone, the first read's DMA is held until another task has
// taken mmap_lock for write and seen the page locked and !uptodate - the read in flight.
TEST_P(FilemapTest, GetUserPagesLockedRetriesFileFaultsWithoutTheLock) NO_THREAD_SAFETY_ANALYSIS {
  constexpr unsigned kPages = 4;
  file* f = cold_file("/mnt/g", kPages, 4);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, kPages * PAGE_SIZE, PROT_READ, MAP_SHARED);
  SyncPoints& sp = sync_points();
  sp.load_dependency({{"test:writer_done", "ramdisk:dma:chunk"}});
  std::atomic<int> drops{0};
  std::atomic<bool> writer_got_lock{false}, read_in_flight{false};
  sp.set_callback("fault:retry:dropped", [&] {
    if (drops++ != 0) return;
    task_struct* t = m_->spawn("writer", [&] {
      if (down_write_trylock(&mm_->mmap_lock)) {
        writer_got_lock.store(true);
        folio* pg = cached(f, 0);
        read_in_flight.store(pg && PageLocked(pg) && !PageUptodate(pg));
        if (pg) folio_put(pg);
        up_write(&mm_->mmap_lock);
      }
      TEST_SYNC_POINT("test:writer_done");  // now the device may complete the read
    });
    task_join(t);
  });
  const int64_t maj0 = vs(PGMAJFAULT);
  page* pages[kPages] = {};
  int locked = 1;
  mmap_read_lock(mm_);
  const long n = get_user_pages_locked(mm_, a, kPages, FOLL_NONE, pages, &locked);
  if (locked) mmap_read_unlock(mm_);
  sp.disable();
  EXPECT_EQ(n, static_cast<long>(kPages));
  EXPECT_EQ(locked, 0) << "the lock was dropped during the call: released on return, the caller's vmas may be stale";
  EXPECT_FALSE(mmap_locked());
  EXPECT_EQ(drops.load(), static_cast<int>(kPages)) << "each page's fault dropped the lock for its read";
  EXPECT_TRUE(writer_got_lock.load()) << "another task took mmap_lock for write during the fault";
  EXPECT_TRUE(read_in_flight.load()) << "while the read was in flight";
  EXPECT_EQ(vs(PGMAJFAULT), maj0 + kPages);
  const auto want = pattern(kPages * PAGE_SIZE, 4);
  for (unsigned i = 0; i < kPages; i++) {
    ASSERT_NE(pages[i], nullptr);
    EXPECT_EQ(pages[i]->index, i);
    EXPECT_EQ(page_bytes(pages[i]), std::vector<char>(want.begin() + i * PAGE_SIZE, want.begin() + (i + 1) * PAGE_SIZE));
    put_gup_page(pages[i]);
  }
  EXPECT_EQ(vm_munmap(mm_, a, kPages * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FilemapTest, GetUserPagesUnlockedTakesAndDropsTheLockItself) NO_THREAD_SAFETY_ANALYSIS {
  constexpr unsigned kPages = 3;
  file* f = cold_file("/mnt/u", kPages, 5);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, kPages * PAGE_SIZE);
  SyncPoints& sp = sync_points();
  std::atomic<int> drops{0}, writers{0};
  sp.set_callback("fault:retry:dropped", [&] {
    drops++;
    task_struct* t = m_->spawn("writer", [&] {
      if (down_write_trylock(&mm_->mmap_lock)) {
        writers++;
        up_write(&mm_->mmap_lock);
      }
    });
    task_join(t);
  });
  page* pages[kPages] = {};
  // FOLL_WRITE on a shared mapping: after the retry, page_mkwrite dirties each page.
  const long n = get_user_pages_unlocked(a, kPages, pages, FOLL_WRITE);
  sp.disable();
  EXPECT_EQ(n, static_cast<long>(kPages));
  EXPECT_FALSE(mmap_locked()) << "released on return";
  EXPECT_EQ(drops.load(), static_cast<int>(kPages));
  EXPECT_EQ(writers.load(), static_cast<int>(kPages)) << "every drop was real";
  for (page* p : pages) {
    EXPECT_TRUE(PageDirty(p));
    put_gup_page(p);
  }
  for (unsigned i = 0; i < kPages; i++) EXPECT_TRUE(pte_write(pte_at(a + i * PAGE_SIZE)));
  EXPECT_EQ(vm_munmap(mm_, a, kPages * PAGE_SIZE), 0);
  filp_close(f);
}

// Without a *locked the fault may not drop the lock: it waits for the read holding it.
TEST_P(FilemapTest, GetUserPagesWithoutLockedNeverDropsTheLock) {
  file* f = cold_file("/mnt/n", 2, 6);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED);
  SyncPoints& sp = sync_points();
  std::atomic<int> drops{0};
  sp.set_callback("fault:retry:dropped", [&] { drops++; });
  page* pages[2] = {};
  mmap_read_lock(mm_);
  EXPECT_EQ(get_user_pages(a, 2, FOLL_NONE, pages), 2);
  EXPECT_TRUE(mmap_locked());
  mmap_read_unlock(mm_);
  sp.disable();
  EXPECT_EQ(drops.load(), 0);
  for (page* p : pages) put_gup_page(p);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

// ---- shared file mappings: dirty tracking ---------------------------------------------------

TEST_P(FilemapTest, SharedMappingsTrackDirtyingThroughPageMkwrite) {
  file* f = open("/mnt/m");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(vfs_truncate(f, 2 * PAGE_SIZE), 0);  // a hole: no blocks yet
  const unsigned long a = map_file(f, 2 * PAGE_SIZE);
  char c;
  ASSERT_EQ(uaccess_read(mm_, a, &c, 1), 0);
  EXPECT_EQ(c, 0);
  EXPECT_TRUE(pte_present(pte_at(a)));
  EXPECT_FALSE(pte_write(pte_at(a))) << "clean pages are mapped read-only";
  folio* pg = cached(f, 0);
  EXPECT_FALSE(PageDirty(pg));
  EXPECT_EQ(block_of(f, 0), 0u);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);  // write-protect fault: page_mkwrite
  EXPECT_TRUE(pte_write(pte_at(a)));
  EXPECT_TRUE(pte_dirty(pte_at(a)));
  EXPECT_TRUE(PageDirty(pg));
  EXPECT_NE(block_of(f, 0), 0u) << "page_mkwrite allocated the block";
  // A first store to a page not yet mapped goes through page_mkwrite too.
  ASSERT_EQ(uaccess_write(mm_, a + PAGE_SIZE, &x, 1), 0);
  EXPECT_TRUE(pte_write(pte_at(a + PAGE_SIZE)));
  EXPECT_NE(block_of(f, 1), 0u);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_FALSE(PageDirty(pg));
  EXPECT_FALSE(pte_write(pte_at(a))) << "re-protected after writeback";
  EXPECT_FALSE(pte_dirty(pte_at(a)));
  EXPECT_TRUE(pte_present(pte_at(a))) << "still mapped";
  EXPECT_EQ(disk_page(f, 0)[0], 'x');
  const char y = 'y';
  ASSERT_EQ(uaccess_write(mm_, a + 1, &y, 1), 0);
  EXPECT_TRUE(PageDirty(pg)) << "the next store faults and dirties it again";
  EXPECT_TRUE(pte_write(pte_at(a)));
  folio_put(pg);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  EXPECT_EQ(disk_page(f, 0)[1], 'y');
  filp_close(f);
}

TEST_P(FilemapTest, PrivateMappingsCopyOnWriteAndNeverDirtyTheFile) {
  file* f = make_file("/mnt/p", 1, 7);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);
  folio* pg = cached(f, 0);
  EXPECT_FALSE(PageDirty(pg)) << "the write went to a private copy";
  EXPECT_EQ(page_bytes(pg), pattern(PAGE_SIZE, 7));
  folio_put(pg);
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FilemapTest, BufferedReadStopsAtEofAndReadsHolesAsZeroes) {
  file* f = open("/mnt/h");
  ASSERT_NE(f, nullptr);
  const char x = 'x';
  loff_t pos = 3 * PAGE_SIZE + 10;
  ASSERT_EQ(kernel_write(f, &x, 1, &pos), 1);
  std::vector<char> buf(5 * PAGE_SIZE, 'z');
  pos = PAGE_SIZE - 5;
  const ssize_t n = kernel_read(f, buf.data(), buf.size(), &pos);
  EXPECT_EQ(n, static_cast<ssize_t>(2 * PAGE_SIZE + 16)) << "up to EOF only";
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[n - 1], 'x');
  EXPECT_EQ(kernel_read(f, buf.data(), 1, &pos), 0);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Designs, FilemapTest, ::testing::ValuesIn(all_designs()), design_policy_name);

}  // namespace
}  // namespace guplab::fstest
