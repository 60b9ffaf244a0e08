// rmap_test.cc - anon_vma trees, rmap_walk(), page_vma_mapped_walk(), mapcounts.
#include "mm/rmap.h"

#include <set>
#include <utility>
#include <vector>

#include "mm/mm_fixture.h"
#include "mm/pagemap.h"

namespace guplab::test {
namespace {

using RmapTest = MmTest;
using Hit = std::pair<const mm_struct*, unsigned long>;

std::vector<Hit> walk(folio* f) {
  std::vector<Hit> hits;
  rmap_walk_control rwc;
  rwc.arg = &hits;
  rwc.rmap_one = [](folio* fo, vm_area_struct* vma, unsigned long address, void* arg) {
    // Only count vmas that really map it (the tree may hold vmas that no longer do).
    if (page_vma_mapped_address(fo, vma)) static_cast<std::vector<Hit>*>(arg)->push_back({vma->vm_mm, address});
    return true;
  };
  folio_lock(f);
  rmap_walk(f, &rwc);
  folio_unlock(f);
  return hits;
}

TEST_F(RmapTest, AnonVmaIsPreparedOnceAndPagesPointAtIt) {
  unsigned long a = map(2 * PAGE_SIZE);
  EXPECT_EQ(lookup(a)->anon_vma_, nullptr) << "no anon_vma before the first anon page";
  EXPECT_EQ(get_u64(a), 0u);
  EXPECT_EQ(lookup(a)->anon_vma_, nullptr) << "the zero page needs none";
  put_u64(a, 1);
  anon_vma* av = lookup(a)->anon_vma_;
  ASSERT_NE(av, nullptr);
  EXPECT_EQ(av->root, av);
  put_u64(a + PAGE_SIZE, 1);
  EXPECT_EQ(lookup(a)->anon_vma_, av);
  EXPECT_EQ(page_anon_vma(page_at(a + PAGE_SIZE)), av);
}

TEST_F(RmapTest, WalkFindsParentAndChildAfterFork) {
  unsigned long a = map(4 * PAGE_SIZE);
  put_u64(a + 2 * PAGE_SIZE, 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  folio* f = page_folio(page_at(a + 2 * PAGE_SIZE));
  auto hits = walk(f);
  EXPECT_EQ(std::set<Hit>(hits.begin(), hits.end()),
            (std::set<Hit>{{mm_, a + 2 * PAGE_SIZE}, {child, a + 2 * PAGE_SIZE}}));
  EXPECT_EQ(lookup(a, child)->anon_vma_->root, lookup(a)->anon_vma_);

  // After the child's COW, each copy is found in its own mm only.
  put_u64(a + 2 * PAGE_SIZE, 2, child);
  hits = walk(f);
  EXPECT_EQ(hits, (std::vector<Hit>{{mm_, a + 2 * PAGE_SIZE}}));
  folio* cf = page_folio(page_at(a + 2 * PAGE_SIZE, child));
  EXPECT_EQ(page_anon_vma(cf), lookup(a, child)->anon_vma_) << "the child's own anon_vma";
  hits = walk(cf);
  EXPECT_EQ(hits, (std::vector<Hit>{{child, a + 2 * PAGE_SIZE}}));
  mmput(child);
  EXPECT_EQ(walk(f), (std::vector<Hit>{{mm_, a + 2 * PAGE_SIZE}}));
}

TEST_F(RmapTest, WalkFollowsVmaSplits) {
  unsigned long a = map(8 * PAGE_SIZE);
  put_u64(a + 6 * PAGE_SIZE, 1);
  ASSERT_EQ(do_mprotect(mm_, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_READ), 0);
  vm_area_struct* upper = lookup(a + 6 * PAGE_SIZE);
  ASSERT_EQ(upper->vm_start, a + 4 * PAGE_SIZE);
  folio* f = page_folio(page_at(a + 6 * PAGE_SIZE));
  EXPECT_EQ(vma_address(f, upper), a + 6 * PAGE_SIZE);
  EXPECT_EQ(vma_address(f, lookup(a)), static_cast<unsigned long>(-EFAULT));
  EXPECT_EQ(walk(f), (std::vector<Hit>{{mm_, a + 6 * PAGE_SIZE}}));
}

TEST_F(RmapTest, UnmappedFolioIsNotWalked) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = page_at(a);
  get_page(p);
  ASSERT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  EXPECT_TRUE(walk(page_folio(p)).empty());
  put_page(p);
}

TEST_F(RmapTest, PageVmaMappedWalkSeesPmdThenPtes) {
  unsigned long a = map(PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 1);
  folio* f = page_folio(page_at(a));
  vm_area_struct* vma = lookup(a);
  struct page_vma_mapped_walk pvmw;
  pvmw.folio_ = f;
  pvmw.vma = vma;
  pvmw.address = vma_address(f, vma);
  ASSERT_TRUE(page_vma_mapped_walk(&pvmw));
  EXPECT_EQ(pvmw.pte, nullptr);
  EXPECT_EQ(pvmw.address, a);
  EXPECT_TRUE(spin_is_locked(&mm_->page_table_lock));
  EXPECT_FALSE(page_vma_mapped_walk(&pvmw));
  EXPECT_FALSE(spin_is_locked(&mm_->page_table_lock));

  ASSERT_EQ(vm_munmap(mm_, a + 10 * PAGE_SIZE, PAGE_SIZE), 0);  // split the PMD, unmap one page
  struct page_vma_mapped_walk w2;
  w2.folio_ = f;
  w2.vma = lookup(a);
  w2.address = a;
  int n = 0;
  while (page_vma_mapped_walk(&w2)) {
    EXPECT_NE(w2.pte, nullptr);
    EXPECT_NE(w2.address, a + 10 * PAGE_SIZE);
    n++;
  }
  EXPECT_EQ(n, 10) << "the first vma maps pages 0..9";
  EXPECT_EQ(page_vma_mapped_address(f, lookup(a + 11 * PAGE_SIZE)), a + 11 * PAGE_SIZE);
}

TEST_F(RmapTest, MapcountsOfSharedAndSplitThp) {
  unsigned long a = map(PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 1);
  page* head = page_at(a);
  folio* f = page_folio(head);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(folio_entire_mapcount(f), 2);
  EXPECT_EQ(page_mapcount(head + 9), 2);
  put_u64(a + 9 * PAGE_SIZE, 2);  // parent: split + COW of page 9
  EXPECT_EQ(folio_entire_mapcount(f), 1);
  EXPECT_EQ(page_mapcount(head + 9), 1) << "the child's PMD only";
  EXPECT_EQ(page_mapcount(head + 8), 2);
  EXPECT_EQ(folio_mapcount(f), 1 + 511);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 513);
  mmput(child);  // the PMD goes: page 9 is mapped nowhere now
  EXPECT_EQ(folio_entire_mapcount(f), 0);
  EXPECT_EQ(page_mapcount(head + 9), 0);
  EXPECT_TRUE(folio_mapped(f));
  EXPECT_EQ(vs(NR_ANON_MAPPED), 512);
  auto hits = walk(f);
  EXPECT_EQ(hits, (std::vector<Hit>{{mm_, a}}));
}

}  // namespace
}  // namespace guplab::test
