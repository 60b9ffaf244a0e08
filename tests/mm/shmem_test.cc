// shmem_test.cc - shared anonymous memory: one page per offset shared by every vma
// of the mapping, across fork, split and MADV_DONTNEED; freed with the last vma.
#include "mm/shmem.h"

#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

using ShmemTest = MmTest;

TEST_F(ShmemTest, SharedAcrossForkBothWaysEvenForPagesTouchedLater) {
  unsigned long a = map(4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_TRUE(vma_is_shmem(lookup(a)));
  put_u64(a, 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(pte_none(pte_at(a, child))) << "shared vmas are refaulted, not copied";
  EXPECT_EQ(get_u64(a, child), 1u);
  put_u64(a, 2, child);
  EXPECT_EQ(get_u64(a), 2u);
  // Pages first touched after fork are shared too.
  put_u64(a + 2 * PAGE_SIZE, 3);
  EXPECT_EQ(get_u64(a + 2 * PAGE_SIZE, child), 3u);
  put_u64(a + 3 * PAGE_SIZE, 4, child);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 4u);
  page* p = page_at(a);
  EXPECT_EQ(page_at(a, child), p);
  EXPECT_FALSE(PageAnon(p));
  EXPECT_TRUE(PageSwapBacked(p) && PageLRU(p));
  EXPECT_EQ(page_mapcount(p), 2);
  EXPECT_EQ(page_ref_count(p), 3) << "the object's and two mappings'";
  EXPECT_EQ(vs(COW_FAULTS), 0);
  EXPECT_EQ(vs(NR_FILE_PAGES), 3);
  EXPECT_EQ(atomic_read(&child->rss_file), 3);
  mmput(child);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 4u);
}

TEST_F(ShmemTest, DontneedKeepsDataAndLastUnmapFreesIt) {
  unsigned long a = map(8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  for (int i = 0; i < 8; i++) put_u64(a + i * PAGE_SIZE, 50 + i);
  ASSERT_EQ(do_madvise(mm_, a, 8 * PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_TRUE(pte_none(pte_at(a)));
  EXPECT_EQ(vs(NR_FILE_PAGES), 8);
  EXPECT_EQ(get_u64(a + 5 * PAGE_SIZE), 55u) << "the object kept the page";
  ASSERT_EQ(vm_munmap(mm_, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE), 0);  // split: object still used
  EXPECT_EQ(vs(NR_FILE_PAGES), 8);
  EXPECT_EQ(shmem_nr_pages(lookup(a)), 8ul);
  EXPECT_EQ(get_u64(a + 7 * PAGE_SIZE), 57u);
  const unsigned long free0 = nr_free_pages(m_.get());
  ASSERT_EQ(vm_munmap(mm_, a, 8 * PAGE_SIZE), 0);
  EXPECT_EQ(vs(NR_FILE_PAGES), 0);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 8);
}

TEST_F(ShmemTest, ReadFaultAllocatesTheSharedPage) {
  unsigned long a = map(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(get_u64(a), 0u);
  EXPECT_FALSE(pte_special(pte_at(a))) << "never the zero page: writers elsewhere must see one page";
  EXPECT_EQ(vs(NR_FILE_PAGES), 1);
}

TEST_F(ShmemTest, PinnedPageOutlivesTheObject) {
  unsigned long a = map(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  put_u64(a, 9);
  page* p = page_at(a);
  get_page(p);
  ASSERT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(page_mapping(p), nullptr) << "as after truncate";
  EXPECT_EQ(*static_cast<uint64_t*>(page_address(p)), 9u);
  put_page(p);
}

}  // namespace
}  // namespace guplab::test
