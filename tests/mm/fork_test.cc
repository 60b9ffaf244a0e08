// fork_test.cc - mm lifetime, dup_mm(): COW both ways, VM_DONTCOPY/VM_WIPEONFORK,
// maybe-pinned pages copied at fork, write_protect_seq.
//
// Pins: until the lead's GUP is merged, a test pins a page the way the machine's
// default design (folio_pincount) does it: a small folio gets GUP_PIN_COUNTING_BIAS
// (1024) references, a large one _pincount + 1 reference. page_maybe_dma_pinned()
// (mm/gup.cc's, or mm/pin_query_fallback.cc's without it) reads exactly that. With GUP
// merged these can become pin_user_pages()/unpin_user_page().
#include "mm/fork.h"

#include "mm/gup.h"
#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

constexpr int kPinBias = 1024;

void fake_pin(page* p) {
  folio* f = page_folio(p);
  if (folio_test_large(f)) {
    folio_int_add_return(&f[1]._pincount, 1);
    page_ref_inc(f);
  } else {
    page_ref_add(f, kPinBias);
  }
}
void fake_unpin(page* p) {
  folio* f = page_folio(p);
  if (folio_test_large(f)) {
    folio_int_add_return(&f[1]._pincount, -1);
    folio_put(f);
  } else {
    folio_put_refs(f, kPinBias);
  }
}

using ForkTest = MmTest;

TEST_F(ForkTest, MmRefcounts) {
  mm_struct* mm = mm_alloc(m_.get());
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(vs(NR_PAGETABLE), 2) << "two pgds";
  mmgrab(mm);
  mmget(mm);
  EXPECT_EQ(atomic_read(&mm->mm_users), 2);
  mmput(mm);
  EXPECT_TRUE(mmget_not_zero(mm));
  mmput(mm);
  mmput(mm);  // last user: torn down, struct kept by mmgrab
  EXPECT_EQ(atomic_read(&mm->mm_users), 0);
  EXPECT_FALSE(mmget_not_zero(mm));
  mmdrop(mm);
  rcu_barrier();
  EXPECT_EQ(vs(NR_PAGETABLE), 1);
}

TEST_F(ForkTest, CowKeepsParentAndChildApartBothWays) {
  unsigned long a = map(4 * PAGE_SIZE);
  for (int i = 0; i < 4; i++) put_u64(a + i * PAGE_SIZE, 10 + i);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  page* p = page_at(a);
  EXPECT_EQ(page_at(a, child), p);
  EXPECT_EQ(page_ref_count(p), 2);
  EXPECT_EQ(page_mapcount(p), 2);
  EXPECT_FALSE(PageAnonExclusive(p));
  EXPECT_FALSE(pte_write(pte_at(a)));
  EXPECT_FALSE(pte_write(pte_at(a, child)));
  EXPECT_EQ(vs(NR_ANON_MAPPED), 4) << "shared pages are counted once";
  EXPECT_EQ(atomic_read(&child->rss_anon), 4);

  put_u64(a, 100);              // parent writes page 0
  put_u64(a + PAGE_SIZE, 200, child);  // child writes page 1
  EXPECT_EQ(get_u64(a), 100u);
  EXPECT_EQ(get_u64(a, child), 10u);
  EXPECT_EQ(get_u64(a + PAGE_SIZE), 11u);
  EXPECT_EQ(get_u64(a + PAGE_SIZE, child), 200u);
  EXPECT_EQ(vs(COW_FAULTS), 2);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 6);
  EXPECT_EQ(page_at(a, child), p);
  EXPECT_EQ(page_mapcount(p), 1);
  // The child's write of page 0 now reuses: the parent no longer maps it.
  const int64_t cow = vs(COW_FAULTS);
  put_u64(a, 101, child);
  EXPECT_EQ(page_at(a, child), p);
  EXPECT_EQ(vs(COW_FAULTS), cow);
  // Untouched pages stay shared.
  EXPECT_EQ(page_at(a + 3 * PAGE_SIZE), page_at(a + 3 * PAGE_SIZE, child));
  mmput(child);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 13u);
}

TEST_F(ForkTest, GrandchildSeesDataOfTheWholeChain) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  put_u64(a, 2, child);
  mm_struct* grandchild = dup_mm(child);
  ASSERT_NE(grandchild, nullptr);
  mmput(child);
  EXPECT_EQ(get_u64(a, grandchild), 2u);
  put_u64(a, 3, grandchild);
  EXPECT_EQ(get_u64(a), 1u);
  mmput(grandchild);
}

TEST_F(ForkTest, ZeroPageStaysSharedAcrossFork) {
  unsigned long a = map(2 * PAGE_SIZE);
  EXPECT_EQ(get_u64(a), 0u);
  mm_struct* c0 = dup_mm(mm_);
  ASSERT_NE(c0, nullptr);
  EXPECT_TRUE(pte_none(pte_at(a, c0))) << "no anon pages: the child refaults instead";
  EXPECT_EQ(get_u64(a, c0), 0u);
  mmput(c0);
  put_u64(a + PAGE_SIZE, 1);  // now the vma has anon pages, so its entries are copied
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(pte_special(pte_at(a, child)));
  put_u64(a, 5, child);
  EXPECT_EQ(get_u64(a), 0u);
  EXPECT_TRUE(pte_special(pte_at(a)));
  mmput(child);
}

TEST_F(ForkTest, DontForkAndWipeOnFork) {
  unsigned long a = map(PAGE_SIZE), b = map(PAGE_SIZE), c = map(PAGE_SIZE);
  put_u64(a, 1);
  put_u64(b, 2);
  put_u64(c, 3);
  ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTFORK), 0);
  ASSERT_EQ(do_madvise(mm_, b, PAGE_SIZE, MADV_WIPEONFORK), 0);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(lookup(a, child), nullptr) << "VM_DONTCOPY";
  ASSERT_NE(lookup(b, child), nullptr);
  EXPECT_EQ(get_u64(b, child), 0u) << "VM_WIPEONFORK";
  EXPECT_EQ(get_u64(c, child), 3u);
  EXPECT_TRUE(pte_write(pte_at(a))) << "not copied: the parent's page stays writable";
  mmput(child);
}

TEST_F(ForkTest, LockedIsNotInherited) {
  unsigned long a = map(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(any(lookup(a)->vm_flags, VM_LOCKED));
  EXPECT_FALSE(any(lookup(a, child)->vm_flags, VM_LOCKED));
  mmput(child);
}

TEST_F(ForkTest, WriteProtectSeqIsOddOnlyWhileCopying) {
  unsigned long a = map(PAGE_SIZE), b = map(PAGE_SIZE);
  map(PAGE_SIZE);  // no anon pages: nothing to copy
  put_u64(a, 1);
  put_u64(b, 1);
  const uint32_t seq0 = mm_->write_protect_seq.load();
  EXPECT_EQ(seq0 % 2, 0u);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(mm_->write_protect_seq.load(), seq0 + 4) << "begin and end around each COW vma copied";
  mmput(child);
}

TEST_F(ForkTest, MaybePinnedPageIsCopiedIntoChild) {
  unsigned long a = map(2 * PAGE_SIZE);
  put_u64(a, 0xabc);
  put_u64(a + PAGE_SIZE, 0xdef);
  page* pinned = page_at(a);
  fake_pin(pinned);
  ASSERT_TRUE(page_maybe_dma_pinned(pinned));
  mm_->has_pinned = true;
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  page* cp = page_at(a, child);
  ASSERT_NE(cp, nullptr);
  EXPECT_NE(cp, pinned) << "the child got a copy";
  EXPECT_TRUE(PageAnonExclusive(pinned));
  EXPECT_TRUE(pte_write(pte_at(a))) << "the parent's pinned page stays writable";
  EXPECT_EQ(page_mapcount(pinned), 1);
  EXPECT_TRUE(PageAnonExclusive(cp));
  EXPECT_EQ(get_u64(a, child), 0xabcu);
  // "DMA" into the pinned page lands where the parent sees it, not in the child.
  *static_cast<uint64_t*>(page_address(pinned)) = 0x1234;
  EXPECT_EQ(get_u64(a), 0x1234u);
  EXPECT_EQ(get_u64(a, child), 0xabcu);
  // The page beside it was not pinned: plain COW sharing.
  EXPECT_EQ(page_at(a + PAGE_SIZE), page_at(a + PAGE_SIZE, child));
  mmput(child);
  fake_unpin(pinned);
}

TEST_F(ForkTest, PinnedPageIsSharedIfMmNeverPinned) {
  // Upstream only looks at pins when the mm has ever pinned (MMF_HAS_PINNED).
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = page_at(a);
  fake_pin(p);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(page_at(a, child), p);
  mmput(child);
  fake_unpin(p);
}

TEST_F(ForkTest, MaybePinnedThpIsSplitAndCopiedPageByPage) {
  unsigned long a = map(PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  for (unsigned i = 0; i < HPAGE_PMD_NR; i += 64) put_u64(a + i * PAGE_SIZE, i + 1);
  page* head = page_at(a);
  ASSERT_TRUE(pmd_leaf(pmd_at(a)));
  fake_pin(head);
  mm_->has_pinned = true;
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(vs(THP_SPLIT_PMD), 1) << "the parent's PMD";
  EXPECT_FALSE(pmd_leaf(pmd_at(a)));
  for (unsigned i = 0; i < HPAGE_PMD_NR; i += 64) {
    EXPECT_EQ(page_at(a + i * PAGE_SIZE), head + i);
    EXPECT_NE(page_at(a + i * PAGE_SIZE, child), head + i);
    EXPECT_TRUE(pte_write(pte_at(a + i * PAGE_SIZE)));
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE, child), i + 1);
  }
  EXPECT_EQ(atomic_read(&child->rss_anon), static_cast<int64_t>(HPAGE_PMD_NR));
  mmput(child);
  fake_unpin(head);
}

TEST_F(ForkTest, UnpinnedThpIsSharedByPmd) {
  unsigned long a = map(PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 1);
  mm_->has_pinned = true;
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(pmd_leaf(pmd_at(a, child)));
  EXPECT_EQ(pmd_pfn(pmd_at(a, child)), pmd_pfn(pmd_at(a)));
  EXPECT_EQ(vs(THP_SPLIT_PMD), 0);
  mmput(child);
}

TEST_F(ForkTest, ChildOfEmptyMmIsEmpty) {
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  mmap_read_lock(child);
  EXPECT_EQ(find_vma(child, 0), nullptr);
  mmap_read_unlock(child);
  mmput(child);
}

}  // namespace
}  // namespace guplab::test
