// madvise_test.cc - MADV_DONTNEED (frames freed; a pinned page survives until
// unpinned), (NO)HUGEPAGE, errors.
#include "mm/madvise.h"

#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

using MadviseTest = MmTest;

TEST_F(MadviseTest, DontneedFreesFramesAndRefaultsZeroes) {
  unsigned long a = map(16 * PAGE_SIZE);
  for (int i = 0; i < 16; i++) put_u64(a + i * PAGE_SIZE, i + 1);
  const unsigned long free0 = nr_free_pages(m_.get());
  ASSERT_EQ(do_madvise(mm_, a + 4 * PAGE_SIZE, 8 * PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 8) << "freed at once; the page table stays";
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 8);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 8);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 4u);
  EXPECT_EQ(get_u64(a + 4 * PAGE_SIZE), 0u);
  EXPECT_EQ(get_u64(a + 11 * PAGE_SIZE), 0u);
  EXPECT_EQ(get_u64(a + 12 * PAGE_SIZE), 13u);
  mmap_read_lock(mm_);
  EXPECT_EQ(mm_->map_count, 1) << "DONTNEED does not split vmas";
  mmap_read_unlock(mm_);
}

TEST_F(MadviseTest, DontneedOfPinnedPageLeavesItAllocatedUntilUnpinned) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 0x5a5a);
  page* p = page_at(a);
  page_ref_add(p, 1024);  // a pin, as the bias designs take it
  const unsigned long free0 = nr_free_pages(m_.get());
  ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_EQ(nr_free_pages(m_.get()), free0) << "still allocated: the pinner may still DMA";
  EXPECT_EQ(page_ref_count(p), 1024);
  EXPECT_EQ(page_mapcount(p), 0);
  EXPECT_FALSE(folio_mapped(page_folio(p)));
  EXPECT_EQ(*static_cast<uint64_t*>(page_address(p)), 0x5a5au);
  EXPECT_EQ(get_u64(a), 0u) << "the process sees a new zero page";
  EXPECT_NE(page_at(a), p);
  folio_put_refs(page_folio(p), 1024);  // unpin: the last reference frees it
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 1);
}

TEST_F(MadviseTest, HugepageFlagsSplitVmas) {
  unsigned long a = map(4 * PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a + PMD_SIZE, PMD_SIZE, MADV_HUGEPAGE), 0);
  mmap_read_lock(mm_);
  EXPECT_EQ(mm_->map_count, 3);
  EXPECT_TRUE(any(vma_lookup(mm_, a + PMD_SIZE)->vm_flags, VM_HUGEPAGE));
  EXPECT_FALSE(any(vma_lookup(mm_, a)->vm_flags, VM_HUGEPAGE));
  mmap_read_unlock(mm_);
  put_u64(a, 1);
  put_u64(a + PMD_SIZE, 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(a)));
  EXPECT_TRUE(pmd_leaf(pmd_at(a + PMD_SIZE)));
  ASSERT_EQ(do_madvise(mm_, a + PMD_SIZE, PMD_SIZE, MADV_NOHUGEPAGE), 0);
  vm_area_struct* v = lookup(a + PMD_SIZE);
  EXPECT_TRUE(any(v->vm_flags, VM_NOHUGEPAGE));
  EXPECT_FALSE(any(v->vm_flags, VM_HUGEPAGE));
  EXPECT_TRUE(pmd_leaf(pmd_at(a + PMD_SIZE))) << "existing THPs stay";
}

TEST_F(MadviseTest, Errors) {
  unsigned long a = map(4 * PAGE_SIZE);
  EXPECT_EQ(do_madvise(mm_, a + 1, PAGE_SIZE, MADV_DONTNEED), -EINVAL);
  EXPECT_EQ(do_madvise(mm_, a, PAGE_SIZE, 12345), -EINVAL);
  EXPECT_EQ(do_madvise(mm_, a, 0, MADV_DONTNEED), 0);
  EXPECT_EQ(do_madvise(mm_, a, ~0ul, MADV_DONTNEED), -EINVAL);
  put_u64(a, 1);
  put_u64(a + 3 * PAGE_SIZE, 1);
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PAGE_SIZE), 0);
  EXPECT_EQ(do_madvise(mm_, a, 4 * PAGE_SIZE, MADV_DONTNEED), -ENOMEM) << "a hole";
  EXPECT_FALSE(pte_present(pte_at(a))) << "the mapped parts are still advised";
  EXPECT_FALSE(pte_present(pte_at(a + 3 * PAGE_SIZE)));
  unsigned long s = map(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(do_madvise(mm_, s, PAGE_SIZE, MADV_WIPEONFORK), -EINVAL);
}

}  // namespace
}  // namespace guplab::test
