// fake_vma_test.cc - the fake_vma pin design (seed 003, mm/fake_vma.cc): a slow-path
// pin inserts one fake vma per pinned vma into the rmap the page is found through (the
// file's i_mmap, first; an anon_vma child for anonymous and private memory), counted in
// the mapcounts, so page_mkclean() and try_to_unmap() meet the pin; GUP-fast always
// falls back to the slow path; the fake vma leaves rmap with the last pin made through
// it; it holds the file, so umount refuses (-EBUSY) until the unpin. The pin is in the
// page's own _mapcount; the pinner may unpin through the handle the pin call returned;
// unpinning in interrupt context is reported (might_sleep()).
#include <gtest/gtest.h>

#include "mm/fake_vma.h"

#include "base/preempt.h"
#include "mm/page_ref.h"
#include "mm/rmap.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class FakeVmaTest : public FsPinTest {
 protected:
  struct WalkCount {
    int real = 0;
    int fake = 0;
    vm_area_struct* first = nullptr;
  };
  /** walk() - rmap_walk() of @p's folio, counting real and fake vmas (in order). */
  static WalkCount walk(page* p, bool ask_fake = true) {
    WalkCount wc;
    rmap_walk_control rwc;
    rwc.arg = &wc;
    rwc.rmap_one = [](folio*, vm_area_struct* vma, unsigned long, void* arg) {
      auto* w = static_cast<WalkCount*>(arg);
      if (!w->first) w->first = vma;
      w->real++;
      return true;
    };
    if (ask_fake)
      rwc.fake_one = [](folio*, vm_area_struct* vma, unsigned long, void* arg) {
        auto* w = static_cast<WalkCount*>(arg);
        if (!w->first) w->first = vma;
        w->fake++;
        return true;
      };
    folio* f = page_folio(p);
    folio_lock(f);
    rmap_walk(f, &rwc);
    folio_unlock(f);
    return wc;
  }
  /** first_in_i_mmap() - the first vma of @f's mapping's i_mmap. */
  static vm_area_struct* first_in_i_mmap(file* f) NO_THREAD_SAFETY_ANALYSIS {
    address_space* m = f->f_mapping;
    i_mmap_lock_read(m);
    vm_area_struct* v = list_empty(&m->i_mmap) ? nullptr : list_entry(m->i_mmap.next, vm_area_struct, shared);
    i_mmap_unlock_read(m);
    return v;
  }
  FakeVmaStats stats() { return fake_vma_stats(m_.get()); }
};

TEST_P(FakeVmaTest, APinIsAFakeMappingFirstInIMmapUntilItsLastUnpin) {
  file* f = make_file("/mnt/a", 4, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 4);
  EXPECT_EQ(stats().inserted, 1u) << "one fake vma for the one vma of one call";
  EXPECT_EQ(stats().live, 1u);
  EXPECT_EQ(stats().attributed, 4u);
  vm_area_struct* fv = first_in_i_mmap(f);
  ASSERT_NE(fv, nullptr);
  EXPECT_TRUE(vma_is_gup_fake(fv)) << "kept first: walkers meet the pin before any pte";
  EXPECT_EQ(fv->vm_start, pn.addr);
  EXPECT_EQ(fv->vm_end, pn.addr + 4 * PAGE_SIZE);
  EXPECT_EQ(fv->vm_pgoff, 0u);
  for (page* p : pn.pages) {
    EXPECT_EQ(folio_fake_mapcount(page_folio(p)), 1u);
    EXPECT_EQ(page_mapcount(p), 2) << "the pte and the pin";
    EXPECT_TRUE(page_maybe_dma_pinned(p));
    const WalkCount wc = walk(p);
    EXPECT_EQ(wc.fake, 1);
    EXPECT_EQ(wc.real, 1);
    EXPECT_TRUE(vma_is_gup_fake(wc.first));
    EXPECT_EQ(walk(p, false).fake, 0) << "invisible to walkers that do not ask";
  }
  // Unmapped, the pages are still mapped - by the pin.
  unmap(&pn);
  for (page* p : pn.pages) {
    EXPECT_TRUE(folio_mapped(page_folio(p)));
    EXPECT_EQ(page_mapcount(p), 1);
  }
  unpin_user_pages(pn.pages.data(), 3);
  EXPECT_EQ(stats().live, 1u) << "page 3's pin still holds it";
  EXPECT_FALSE(page_maybe_dma_pinned(pn.pages[0]));
  EXPECT_EQ(walk(pn.pages[0]).fake, 1) << "rmap_walk() visits every fake vma covering the index";
  EXPECT_EQ(page_mapcount(pn.pages[0]), 0) << "but the page is no longer mapped by it";
  unpin_user_page(pn.pages[3]);
  pn.pages.clear();
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(stats().removed, 1u);
  EXPECT_EQ(stats().attributed, 0u);
  EXPECT_EQ(first_in_i_mmap(f), nullptr);
  filp_close(f);
}

// One call pinned two pages; one of them is unpinned while the other keeps the fake vma
// linked. The unpinned page is not pinned for anyone: not for page_maybe_dma_pinned(),
// not for page_mkclean(), not for try_to_unmap().
TEST_P(FakeVmaTest, AnUnpinnedPageUnderALiveFakeVmaIsNotPinned) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 2);
  unpin_user_page(pn.pages[0]);
  folio* p0 = page_folio(pn.pages[0]);
  EXPECT_EQ(stats().live, 1u);
  EXPECT_FALSE(page_maybe_dma_pinned(p0));
  folio_lock(p0);
  EXPECT_EQ(page_mkclean(p0, true), 1) << "cleaned: nothing pinned to skip";
  EXPECT_FALSE(pte_write(pte_at(pn.addr)));
  get_page(p0);
  EXPECT_TRUE(try_to_unmap(p0, TTU_NONE)) << "reclaim may unmap it";
  EXPECT_FALSE(pte_present(pte_at(pn.addr)));
  folio_put(p0);
  folio_unlock(p0);
  // The page still pinned is still refused.
  folio* p1 = page_folio(pn.pages[1]);
  folio_lock(p1);
  get_page(p1);
  EXPECT_FALSE(try_to_unmap(p1, TTU_NONE));
  folio_put(p1);
  folio_unlock(p1);
  unpin_user_page(pn.pages[1]);
  pn.pages.clear();
  unmap(&pn);
  EXPECT_EQ(stats().live, 0u);
  filp_close(f);
}

TEST_P(FakeVmaTest, EveryPinningCallPaysForAFakeVma) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE);
  std::vector<page*> pins;
  for (int i = 0; i < 10; i++) {
    page* p = nullptr;
    ASSERT_EQ(pin_user_pages_fast(a + (i % 2) * PAGE_SIZE, 1, FOLL_WRITE, &p), 1);
    pins.push_back(p);
  }
  EXPECT_EQ(stats().inserted, 10u) << "a 1-page call pays all of it (Jan Kara's objection 2)";
  EXPECT_EQ(folio_fake_mapcount(page_folio(pins[0])), 5u);
  EXPECT_EQ(page_mapcount(pins[1]), 6);
  unpin_user_pages(pins.data(), pins.size());
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FakeVmaTest, PageMkcleanAndTryToUnmapMeetThePin) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  folio* pg = page_folio(pn.pages[0]);
  folio_lock(pg);
  int skipped = 0;
  EXPECT_EQ(__page_mkclean(pg, true, &skipped), 0);
  EXPECT_EQ(skipped, 1) << "page_mkclean() met the fake vma";
  EXPECT_TRUE(pte_write(pte_at(pn.addr)));
  get_page(pg);
  EXPECT_FALSE(try_to_unmap(pg, TTU_NONE)) << "a fake mapping cannot be unmapped";
  EXPECT_TRUE(pte_present(pte_at(pn.addr))) << "stopped at the fake vma, before the pte";
  folio_put(pg);
  EXPECT_EQ(folio_referenced(pg), 1) << "only the pte counts as a reference";
  folio_unlock(pg);
  unpin(&pn);
  folio_lock(pg);
  get_page(pg);
  EXPECT_TRUE(try_to_unmap(pg, TTU_NONE)) << "nothing pins it now";
  folio_put(pg);
  folio_unlock(pg);
  filp_close(f);
}

TEST_P(FakeVmaTest, AnonymousPinsAreAnAnonVmaChild) {
  const long r = vm_mmap(mm_, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  ASSERT_GT(r, 0);
  const unsigned long a = static_cast<unsigned long>(r);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE, &p), 1);
  ASSERT_TRUE(PageAnon(p));
  EXPECT_EQ(page_mapcount(p), 2);
  const WalkCount wc = walk(p);
  EXPECT_EQ(wc.fake, 1) << "found through the vma's anon_vma";
  EXPECT_EQ(wc.real, 1);
  unpin_user_page(p);
  EXPECT_EQ(walk(p).fake, 0);
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
}

TEST_P(FakeVmaTest, PrivateFileMappingsAreLinkedBothWays) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a + PAGE_SIZE, &x, 1), 0);  // page 1: a private copy
  page* pages[2];
  ASSERT_EQ(pin_user_pages_fast(a, 2, FOLL_NONE, pages), 2);
  EXPECT_FALSE(PageAnon(pages[0])) << "a read pin of the file's own page";
  EXPECT_TRUE(PageAnon(pages[1]));
  EXPECT_EQ(walk(pages[0]).fake, 1) << "through i_mmap";
  EXPECT_EQ(walk(pages[1]).fake, 1) << "through the anon_vma";
  EXPECT_EQ(stats().inserted, 1u) << "one fake vma, in both";
  unpin_user_pages(pages, 2);
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FakeVmaTest, GupFastFallsBackToTheSlowPathForEveryPin) {
  file* f = make_file("/mnt/a", 8, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 8 * PAGE_SIZE);
  std::vector<char> buf(8 * PAGE_SIZE);
  ASSERT_EQ(uaccess_read(mm_, a, buf.data(), buf.size()), 0);  // every pte present
  page* pages[8];
  ASSERT_EQ(get_user_pages_fast(a, 8, FOLL_NONE, pages), 8) << "FOLL_GET: the lockless walk works";
  for (page* p : pages) put_page(p);
  const int64_t fast0 = vs(GUP_FAST_PAGES), fallback0 = vs(GUP_FAST_FALLBACK), slow0 = vs(GUP_SLOW_PAGES);
  EXPECT_EQ(pin_user_pages_fast_only(a, 8, FOLL_NONE, pages), 0) << "the lockless walk never pins";
  ASSERT_EQ(pin_user_pages_fast(a, 8, FOLL_NONE, pages), 8);
  EXPECT_EQ(vs(GUP_FAST_PAGES), fast0) << "no page pinned by the lockless walk";
  EXPECT_EQ(vs(GUP_FAST_FALLBACK), fallback0 + 1);
  EXPECT_EQ(vs(GUP_SLOW_PAGES), slow0 + 8);
  EXPECT_EQ(stats().live, 1u);
  unpin_user_pages(pages, 8);
  EXPECT_EQ(vm_munmap(mm_, a, 8 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_P(FakeVmaTest, UmountRefusesWhileAFakeVmaHoldsAPage) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  unmap(&pn);
  filp_close(f);  // no vma, no open file: only the pin
  EXPECT_EQ(umount(), -EBUSY) << "the fake vma holds the file";
  unpin_user_page(pn.pages[0]);
  pn.pages.clear();
  EXPECT_EQ(umount(), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/a"), pattern(PAGE_SIZE, 1));
}

// Glisse: "the existing GUP except that now it inc mapcount". The pin is in the page's
// own _mapcount (and NR_ANON_MAPPED), as a pte mapping is; lab_private only says which
// part of it is pins, so that folio_pte_mapped() still knows about real mappings.
TEST_P(FakeVmaTest, ThePinIsInThePagesOwnMapcount) {
  const long r = vm_mmap(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  ASSERT_GT(r, 0);
  const unsigned long a = static_cast<unsigned long>(r);
  const char x = 'x';
  ASSERT_EQ(uaccess_write(mm_, a, &x, 1), 0);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE, &p), 1);
  const int64_t anon_mapped = vs(NR_ANON_MAPPED);
  EXPECT_EQ(atomic_read(&p->_mapcount) + 1, 2) << "the pte and the pin, in _mapcount itself";
  EXPECT_EQ(page_fake_mapcount(p), 1u);
  EXPECT_EQ(folio_fake_mapcount(page_folio(p)), 1u);
  const int refs = page_ref_count(p);
  EXPECT_GE(refs, 2) << "the pte's reference and the fake mapping's";
  EXPECT_TRUE(folio_pte_mapped(page_folio(p)));
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  EXPECT_EQ(atomic_read(&p->_mapcount) + 1, 1) << "mapped by the pin alone";
  EXPECT_FALSE(folio_pte_mapped(page_folio(p)));
  EXPECT_TRUE(folio_mapped(page_folio(p)));
  EXPECT_EQ(vs(NR_ANON_MAPPED), anon_mapped) << "still a mapped anon page: the pin maps it";
  EXPECT_EQ(page_ref_count(p), refs - 1) << "the fake mapping's reference keeps the frame";
  unpin_user_page(p);  // the last mapping and the last reference: freed
  EXPECT_EQ(vs(NR_ANON_MAPPED), anon_mapped - 1);
  EXPECT_EQ(stats().live, 0u);
}

// Seed 003's API: the pinner gets the fake vmas back from the pin call and unpins
// through them, each pin from exactly the page it mapped.
TEST_P(FakeVmaTest, ThePinnerUnpinsThroughTheHandleThePinReturned) {
  file* f = make_file("/mnt/a", 4, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 4 * PAGE_SIZE);
  page* pages[4];
  fake_vma_pin* h = nullptr;
  const int64_t acq = vs(NR_FOLL_PIN_ACQUIRED), rel = vs(NR_FOLL_PIN_RELEASED);
  ASSERT_EQ(pin_user_pages_fake(a, 4, FOLL_WRITE, pages, &h), 4);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(fake_vma_pin_nr_vmas(h), 1u);
  EXPECT_EQ(stats().live, 1u);
  for (page* p : pages) EXPECT_EQ(page_mapcount(p), 2);
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), acq + 4);
  unpin_user_pages_fake(h, true);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), rel + 4);
  EXPECT_EQ(stats().live, 0u) << "the handle's reference was the last";
  EXPECT_EQ(stats().attributed, 0u);
  for (page* p : pages) {
    EXPECT_EQ(page_mapcount(p), 1);
    EXPECT_FALSE(page_maybe_dma_pinned(p));
    EXPECT_TRUE(PageDirty(p));
  }
  ASSERT_NE(first_in_i_mmap(f), nullptr);
  EXPECT_FALSE(vma_is_gup_fake(first_in_i_mmap(f))) << "only the real vma is left";
  EXPECT_EQ(vm_munmap(mm_, a, 4 * PAGE_SIZE), 0);
  filp_close(f);
}

// The generic callers keep working: unpin_user_pages() finds the fake vma through the
// machine's table; the handle then holds only its reference to the fake vma.
TEST_P(FakeVmaTest, GenericUnpinOfHandlePinsFindsTheFakeVmaInTheTable) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, 2 * PAGE_SIZE);
  page* pages[2];
  fake_vma_pin* h = nullptr;
  ASSERT_EQ(pin_user_pages_fake(a, 2, FOLL_NONE, pages, &h), 2);
  unpin_user_pages(pages, 2);
  for (page* p : pages) EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(stats().live, 1u) << "the handle still references it";
  expected_warnings_ = 1;  // the handle's pins are gone already: WARN once, nothing released twice
  const int64_t rel = vs(NR_FOLL_PIN_RELEASED);
  unpin_user_pages_fake(h, false);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), rel);
  EXPECT_EQ(stats().live, 0u);
  EXPECT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

// Kara's objection 2b: unlinking the fake vma takes i_mmap_rwsem, a sleeping lock; in
// interrupt context (I/O completion) that is reported as the kernel reports it.
TEST_P(FakeVmaTest, UnpinningInInterruptContextIsASleepInInvalidContext) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1);
  EXPECT_TRUE(pin_release_may_sleep(pn.pages[0]));
  {
    IrqContext irq;
    unpin_user_page(pn.pages[0]);
  }
  pn.pages.clear();
  size_t reports = 0;
  bool rwsem = false;
  for (const auto& w : m_->warnings()) {
    if (w.cond != kMightSleepCond) continue;
    reports++;
    rwsem |= w.site.find("rwsem.cc") != std::string::npos;
  }
  EXPECT_GE(reports, 2u) << "fake_vma_unpin() and i_mmap_rwsem";
  EXPECT_TRUE(rwsem);
  expected_warnings_ = static_cast<int>(m_->nr_warnings());
  EXPECT_EQ(static_cast<size_t>(expected_warnings_), reports) << "nothing but might_sleep() reports";
  EXPECT_EQ(stats().live, 0u) << "it went on and did it";
  unmap(&pn);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(FakeVma, FakeVmaTest,
                         ::testing::Values(DesignPolicy{PinDesign::fake_vma, WritebackPolicy::skip}),
                         design_policy_name);

}  // namespace
}  // namespace guplab::fstest
