// huge_memory_test.cc - THP faults, fallback, fork sharing, write-after-fork split,
// partial unmap/mprotect, MADV_DONTNEED of a whole THP.
#include "mm/huge_memory.h"

#include <vector>

#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

TEST_F(ThpTest, FaultInMapsOneOrder9FolioByHugePmd) {
  unsigned long a = map_thp(PMD_SIZE);
  const unsigned long free0 = nr_free_pages(m_.get());
  put_u64(a + 12345 * 8, 99);
  pmd_t pmd = pmd_at(a);
  ASSERT_TRUE(pmd_leaf(pmd));
  EXPECT_TRUE(pmd_write(pmd) && pmd_dirty(pmd));
  page* head = m_->mem().pfn_to_page(pmd_pfn(pmd));
  folio* f = page_folio(head);
  EXPECT_EQ(static_cast<page*>(f), head);
  EXPECT_TRUE(folio_test_large(f));
  EXPECT_EQ(folio_order(f), HPAGE_PMD_ORDER);
  EXPECT_EQ(folio_entire_mapcount(f), 1);
  EXPECT_EQ(folio_mapcount(f), 1);
  EXPECT_EQ(page_mapcount(head + 7), 1);
  EXPECT_EQ(page_ref_count(f), 1);
  EXPECT_TRUE(PageAnon(f) && PageAnonExclusive(f) && PageLRU(f));
  EXPECT_EQ(vs(NR_ANON_THPS), 1);
  EXPECT_EQ(vs(THP_FAULT_ALLOC), 1);
  EXPECT_EQ(vs(NR_ANON_MAPPED), static_cast<int64_t>(HPAGE_PMD_NR));
  EXPECT_EQ(atomic_read(&mm_->rss_anon), static_cast<int64_t>(HPAGE_PMD_NR));
  // 512 data pages and the deposited pte table; no pte table is linked.
  EXPECT_EQ(free0 - nr_free_pages(m_.get()), HPAGE_PMD_NR + 1 + 1 /* pmd table */ + 1 /* pud table */);
  EXPECT_EQ(get_u64(a + 12345 * 8), 99u);
  EXPECT_EQ(get_u64(a + PMD_SIZE - 8), 0u);
  // Further faults in the range find the PMD.
  const int64_t faults = vs(PGFAULT);
  put_u64(a + PMD_SIZE - 8, 1);
  EXPECT_EQ(vs(PGFAULT), faults);
}

TEST_F(ThpTest, ReadFaultAllocatesThpToo) {
  unsigned long a = map_thp(PMD_SIZE);
  EXPECT_EQ(get_u64(a), 0u);
  EXPECT_TRUE(pmd_leaf(pmd_at(a)));
  EXPECT_EQ(vs(NR_ANON_THPS), 1);
}

TEST_F(ThpTest, NoThpWithoutMadvHugepage) {
  unsigned long a = map(PMD_SIZE);
  EXPECT_EQ(a & ~PMD_MASK, 0ul) << "THP-sized anon mappings are 2 MiB aligned";
  put_u64(a, 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(a)));
  EXPECT_TRUE(pte_present(pte_at(a)));
  EXPECT_EQ(vs(NR_ANON_THPS), 0);
}

TEST_F(ThpTest, UnalignedTailFallsBackTo4K) {
  unsigned long a = map_thp(PMD_SIZE + PMD_SIZE / 2);
  put_u64(a, 1);
  put_u64(a + PMD_SIZE, 2);
  EXPECT_TRUE(pmd_leaf(pmd_at(a)));
  EXPECT_FALSE(pmd_leaf(pmd_at(a + PMD_SIZE)));
  EXPECT_TRUE(pte_present(pte_at(a + PMD_SIZE)));
  EXPECT_EQ(vs(NR_ANON_THPS), 1);
}

TEST_F(ThpTest, FallsBackTo4KWithoutAnOrder9Block) {
  // Take every 2 MiB block; give back all but the first page of two of them, so 4 KiB
  // allocations (data and page tables) succeed and no order-9 allocation can.
  std::vector<page*> blocks;
  while (page* p = alloc_pages_on(m_.get(), gfp_t::__GFP_MOVABLE, HPAGE_PMD_ORDER)) blocks.push_back(p);
  ASSERT_GE(blocks.size(), 2u);
  page* split[2] = {blocks.front(), blocks.back()};  // one per zone
  blocks.erase(blocks.begin());
  blocks.pop_back();
  for (page* b : split)
    for (unsigned i = 1; i < HPAGE_PMD_NR; i++) free_pages_prepared(b + i, 0);

  unsigned long a = map_thp(PMD_SIZE);
  put_u64(a, 5);
  EXPECT_EQ(vs(THP_FAULT_FALLBACK), 1);
  EXPECT_EQ(vs(THP_FAULT_ALLOC), 0);
  EXPECT_FALSE(pmd_leaf(pmd_at(a)));
  EXPECT_TRUE(pte_present(pte_at(a)));
  EXPECT_FALSE(folio_test_large(page_folio(page_at(a))));
  EXPECT_EQ(get_u64(a), 5u);
  drop_mm();
  for (page* b : split) __free_pages(b, 0);
  for (page* b : blocks) __free_pages(b, HPAGE_PMD_ORDER);
}

TEST_F(ThpTest, ForkSharesHugePmdAndWriteSplitsIt) {
  unsigned long a = map_thp(PMD_SIZE);
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) put_u64(a + i * PAGE_SIZE, i);
  page* head = page_at(a);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  pmd_t ppmd = pmd_at(a), cpmd = pmd_at(a, child);
  ASSERT_TRUE(pmd_leaf(ppmd) && pmd_leaf(cpmd));
  EXPECT_EQ(pmd_pfn(ppmd), pmd_pfn(cpmd));
  EXPECT_FALSE(pmd_write(ppmd));
  EXPECT_FALSE(pmd_write(cpmd));
  EXPECT_EQ(folio_entire_mapcount(page_folio(head)), 2);
  EXPECT_EQ(page_ref_count(head), 2);
  EXPECT_FALSE(PageAnonExclusive(head));
  EXPECT_EQ(vs(NR_ANON_MAPPED), static_cast<int64_t>(HPAGE_PMD_NR));
  EXPECT_EQ(atomic_read(&child->rss_anon), static_cast<int64_t>(HPAGE_PMD_NR));

  // Parent writes one page: its PMD is split, only that 4 KiB page is copied.
  const int64_t cow = vs(COW_FAULTS);
  put_u64(a + 3 * PAGE_SIZE, 1000);
  EXPECT_EQ(vs(THP_SPLIT_PMD), 1);
  EXPECT_EQ(vs(COW_FAULTS), cow + 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(a)));
  EXPECT_TRUE(pmd_leaf(pmd_at(a, child)));
  EXPECT_NE(page_at(a + 3 * PAGE_SIZE), head + 3);
  EXPECT_EQ(page_at(a + 4 * PAGE_SIZE), head + 4);
  EXPECT_FALSE(pte_write(pte_at(a + 4 * PAGE_SIZE)));
  EXPECT_EQ(folio_mapcount(page_folio(head)), 1 + HPAGE_PMD_NR - 1);
  EXPECT_EQ(page_ref_count(head), 1 + HPAGE_PMD_NR - 1);
  EXPECT_EQ(vs(NR_ANON_MAPPED), static_cast<int64_t>(HPAGE_PMD_NR) + 1);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 1000u);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE, child), 3u);
  // Child writes: its PMD is split too.
  put_u64(a + 5 * PAGE_SIZE, 2000, child);
  EXPECT_EQ(vs(THP_SPLIT_PMD), 2);
  EXPECT_EQ(get_u64(a + 5 * PAGE_SIZE), 5u);
  EXPECT_EQ(get_u64(a + 5 * PAGE_SIZE, child), 2000u);
  for (unsigned i : {0u, 100u, 511u}) {
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE), i);
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE, child), i);
  }
  mmput(child);
}

TEST_F(ThpTest, WriteAfterChildExitReusesWholeThp) {
  unsigned long a = map_thp(PMD_SIZE);
  put_u64(a, 1);
  page* head = page_at(a);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  mmput(child);
  EXPECT_EQ(page_ref_count(head), 1);
  const int64_t reuse = vs(PGREUSE);
  put_u64(a + PAGE_SIZE, 2);
  EXPECT_TRUE(pmd_leaf(pmd_at(a)));
  EXPECT_TRUE(pmd_write(pmd_at(a)));
  EXPECT_EQ(vs(THP_SPLIT_PMD), 0);
  EXPECT_EQ(vs(PGREUSE), reuse + 1);
  EXPECT_TRUE(PageAnonExclusive(head));
}

TEST_F(ThpTest, PartialMunmapSplitsPmdAndFolioGoesWithItsLastPage) {
  unsigned long a = map_thp(PMD_SIZE);
  put_u64(a, 1);
  page* head = page_at(a);
  ASSERT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  EXPECT_EQ(vs(THP_SPLIT_PMD), 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(a + PAGE_SIZE)));
  EXPECT_EQ(page_at(a + PAGE_SIZE), head + 1);
  EXPECT_EQ(page_ref_count(head), static_cast<int>(HPAGE_PMD_NR) - 1);
  EXPECT_EQ(vs(NR_ANON_MAPPED), static_cast<int64_t>(HPAGE_PMD_NR) - 1);
  EXPECT_EQ(vs(NR_ANON_THPS), 1) << "the folio itself is not split";
  EXPECT_EQ(get_u64(a + PAGE_SIZE), 0u);
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PMD_SIZE - PAGE_SIZE), 0);
  EXPECT_EQ(vs(NR_ANON_THPS), 0);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 0);
}

TEST_F(ThpTest, MadvDontneedOfWholeThpFreesIt) {
  unsigned long a = map_thp(PMD_SIZE);
  put_u64(a, 1);
  const unsigned long free0 = nr_free_pages(m_.get());
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_DONTNEED), 0);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + HPAGE_PMD_NR + 1) << "the folio and its deposited table";
  EXPECT_EQ(vs(THP_SPLIT_PMD), 0);
  EXPECT_TRUE(pmd_none(pmd_at(a)));
  EXPECT_EQ(get_u64(a), 0u);
  EXPECT_TRUE(pmd_leaf(pmd_at(a))) << "a new THP on the next touch";
}

TEST_F(ThpTest, MadvDontneedOfPartOfThpSplitsIt) {
  unsigned long a = map_thp(PMD_SIZE);
  for (unsigned i = 0; i < 4; i++) put_u64(a + i * PAGE_SIZE, 10 + i);
  ASSERT_EQ(do_madvise(mm_, a + PAGE_SIZE, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_EQ(vs(THP_SPLIT_PMD), 1);
  EXPECT_EQ(get_u64(a), 10u);
  EXPECT_EQ(get_u64(a + PAGE_SIZE), 0u);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 13u);
}

TEST_F(ThpTest, MprotectOfWholeThpKeepsPmdPartialSplits) {
  unsigned long a = map_thp(2 * PMD_SIZE);
  put_u64(a, 1);
  put_u64(a + PMD_SIZE, 2);
  ASSERT_EQ(do_mprotect(mm_, a, PMD_SIZE, PROT_READ), 0);
  EXPECT_TRUE(pmd_leaf(pmd_at(a)));
  EXPECT_FALSE(pmd_write(pmd_at(a)));
  EXPECT_TRUE(pmd_write(pmd_at(a + PMD_SIZE)));
  ASSERT_EQ(do_mprotect(mm_, a + PMD_SIZE, PAGE_SIZE, PROT_READ), 0);
  EXPECT_EQ(vs(THP_SPLIT_PMD), 1);
  EXPECT_FALSE(pte_write(pte_at(a + PMD_SIZE)));
  EXPECT_TRUE(pte_write(pte_at(a + PMD_SIZE + PAGE_SIZE)));
  uint64_t v = 3;
  EXPECT_EQ(uaccess_write(mm_, a, &v, 8), -EFAULT);
  EXPECT_EQ(uaccess_write(mm_, a + PMD_SIZE + PAGE_SIZE, &v, 8), 0);
}

class ThpAlwaysTest : public MmTest {
 protected:
  MachineConfig config() override {
    MachineConfig c = small_config();
    c.thp_always = true;
    return c;
  }
};

TEST_F(ThpAlwaysTest, EveryLargeEnoughAnonVmaGetsThpUnlessNoHugepage) {
  unsigned long a = map(2 * PMD_SIZE);
  put_u64(a, 1);
  EXPECT_TRUE(pmd_leaf(pmd_at(a)));
  ASSERT_EQ(do_madvise(mm_, a + PMD_SIZE, PMD_SIZE, MADV_NOHUGEPAGE), 0);
  put_u64(a + PMD_SIZE, 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(a + PMD_SIZE)));
  // Shared anonymous memory is shmem: never THP here.
  unsigned long s = map(PMD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  put_u64(s, 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(s)));
}

class ThpOffTest : public MmTest {
 protected:
  MachineConfig config() override {
    MachineConfig c = small_config();
    c.thp = false;
    return c;
  }
};

TEST_F(ThpOffTest, MadvHugepageDoesNothingWhenThpIsOff) {
  unsigned long a = map(PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 1);
  EXPECT_FALSE(pmd_leaf(pmd_at(a)));
  EXPECT_EQ(vs(THP_FAULT_FALLBACK), 0);
}

}  // namespace
}  // namespace guplab::test
