// unpin_test.cc - releasing pins in folio runs (mm/unpin.cc), under every design: arrays
// that mix THP subpages, small pages, repeats, the zero page, null entries and another
// machine's pages release exactly what was pinned; the dirtying forms dirty each folio;
// and a run of 512 subpages of one folio costs what one page costs (counted in sim
// scheduling points, which every atomic on the folio is).
#include <gtest/gtest.h>

#include <vector>

#include "mm/gup.h"
#include "mm/lru.h"
#include "mm/mm_fixture.h"
#include "mm/pin.h"
#include "sim/sim_test_util.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

class UnpinTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config(128ull << 20);
    c.pin_design = GetParam();
    c.thp = true;
    return c;
  }
  bool tracking() const { return GetParam() != PinDesign::get; }
  /** map_thp() - @n 2 MiB-aligned THP-eligible bytes, faulted in as huge PMDs. */
  unsigned long map_thp(unsigned long n) {
    const unsigned long raw = map(n + PMD_SIZE);
    const unsigned long a = (raw + PMD_SIZE - 1) & PMD_MASK;
    EXPECT_EQ(do_madvise(mm_, a, n, MADV_HUGEPAGE), 0);
    for (unsigned long off = 0; off < n; off += PMD_SIZE) put_u64(a + off, off);
    return a;
  }
  void pin(unsigned long a, long n, page** out) { ASSERT_EQ(pin_user_pages_fast(a, static_cast<int>(n), FOLL_WRITE, out), n); }
  int64_t acquired() const { return vs(NR_FOLL_PIN_ACQUIRED); }
  int64_t released() const { return vs(NR_FOLL_PIN_RELEASED); }
};

TEST_P(UnpinTest, MixedArrayOfThpSubpagesAndSmallPagesReleasesEveryPin) {
  const unsigned long thp = map_thp(2 * PMD_SIZE);
  const unsigned long small = map(8 * PAGE_SIZE);
  for (unsigned long k = 0; k < 8; k++) put_u64(small + k * PAGE_SIZE, k);
  ASSERT_EQ(vs(NR_ANON_THPS), 2);
  folio* f0 = page_folio(page_at(thp));
  folio* f1 = page_folio(page_at(thp + PMD_SIZE));
  const int ref0 = page_ref_count(f0), ref1 = page_ref_count(f1);
  // Subpages 10..309 of the first folio, 8 small pages, the rest of the first folio
  // and the first 100 of the second (a run crossing a folio boundary), then 3 small
  // pages again: every pattern of runs in one array.
  std::vector<page*> pages(300 + 8 + 202 + 100 + 3);
  page** out = pages.data();
  pin(thp + 10 * PAGE_SIZE, 300, out);
  pin(small, 8, out + 300);
  pin(thp + 310 * PAGE_SIZE, 202 + 100, out + 308);
  pin(small + 2 * PAGE_SIZE, 3, out + 610);
  for (long k = 0; k < 300; k++) ASSERT_EQ(pages[static_cast<size_t>(k)], folio_page(f0, static_cast<unsigned long>(10 + k)));
  EXPECT_EQ(acquired(), static_cast<int64_t>(pages.size()));
  EXPECT_EQ(folio_maybe_dma_pinned(f0), tracking());
  unpin_user_pages(pages.data(), pages.size());
  EXPECT_EQ(released(), acquired());
  EXPECT_FALSE(folio_maybe_dma_pinned(f0));
  EXPECT_FALSE(folio_maybe_dma_pinned(f1));
  EXPECT_EQ(page_ref_count(f0), ref0);
  EXPECT_EQ(page_ref_count(f1), ref1);
  if (GetParam() == PinDesign::folio_pincount) EXPECT_EQ(folio_page(f0, 1)->_pincount, 0);
  for (unsigned long k = 0; k < 8; k++) EXPECT_FALSE(page_maybe_dma_pinned(page_at(small + k * PAGE_SIZE)));
}

TEST_P(UnpinTest, DirtyLockDirtiesEveryFolioOfTheArrayAndLeavesThemUnlocked) {
  const unsigned long thp = map_thp(PMD_SIZE);
  const unsigned long small = map(4 * PAGE_SIZE);
  for (unsigned long k = 0; k < 4; k++) put_u64(small + k * PAGE_SIZE, k);
  std::vector<page*> pages(512 + 4);
  pin(thp, 512, pages.data());
  pin(small, 4, pages.data() + 512);
  std::vector<folio*> folios = {page_folio(pages[0])};
  for (int k = 0; k < 4; k++) folios.push_back(page_folio(pages[512 + static_cast<size_t>(k)]));
  for (folio* f : folios) ClearPageDirty(f);
  unpin_user_pages_dirty_lock(pages.data(), pages.size(), true);
  for (folio* f : folios) {
    EXPECT_TRUE(PageDirty(f));
    EXPECT_FALSE(PageLocked(f));
  }
  EXPECT_EQ(released(), acquired());
}

TEST_P(UnpinTest, PutUserPagesDirtyDirtiesAndReleases) {
  const unsigned long thp = map_thp(PMD_SIZE);
  std::vector<page*> pages(512);
  pin(thp, 512, pages.data());
  folio* f = page_folio(pages[0]);
  ClearPageDirty(f);
  put_user_pages_dirty(pages.data(), pages.size());
  EXPECT_TRUE(PageDirty(f));
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  EXPECT_EQ(released(), 512);
}

TEST_P(UnpinTest, RangeUnpinOfPartOfAFolio) {
  const unsigned long thp = map_thp(PMD_SIZE);
  std::vector<page*> pages(412);
  pin(thp + 100 * PAGE_SIZE, 412, pages.data());
  folio* f = page_folio(pages[0]);
  unpin_user_page_range_dirty_lock(pages[0], 412, true);
  EXPECT_TRUE(PageDirty(f));
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  EXPECT_EQ(released(), 412);
}

INSTANTIATE_TEST_SUITE_P(Designs, UnpinTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::fake_vma, PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Arrays no GUP call would return, built from pins taken on folios directly (not under
// fake_vma, whose pins need the slow path's fake vma).
class UnpinArrayTest : public testing::MachineTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  void SetUp() override { boot(testing::small_config(GetParam())); }
  folio* anon_folio(unsigned order) {
    folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, order);
    SetPageSwapBacked(f);
    folio_add_lru(f);
    return f;
  }
  int grab(folio* f, int refs) {
    return pin_dispatch(GetParam(), [&](auto d) { return try_grab_folio<decltype(d)>(f, refs, FOLL_PIN); });
  }
  int64_t released() { return m().vmstat().read(NR_FOLL_PIN_RELEASED); }
};

TEST_P(UnpinArrayTest, RepeatedAndInterleavedEntriesEachReleaseOnePin) {
  folio* a = anon_folio(0);
  folio* b = anon_folio(0);
  folio* l = anon_folio(HPAGE_PMD_ORDER);
  const int ra = page_ref_count(a), rb = page_ref_count(b), rl = page_ref_count(l);
  ASSERT_EQ(grab(a, 3), 0);
  ASSERT_EQ(grab(b, 1), 0);
  ASSERT_EQ(grab(l, 5), 0);
  std::vector<page*> pages = {a, folio_page(l, 7), folio_page(l, 7), a, folio_page(l, 100), b, a, folio_page(l, 511), l};
  unpin_user_pages(pages.data(), pages.size());
  EXPECT_EQ(released(), 9);
  EXPECT_EQ(page_ref_count(a), ra);
  EXPECT_EQ(page_ref_count(b), rb);
  EXPECT_EQ(page_ref_count(l), rl);
  for (folio* f : {a, b, l}) EXPECT_FALSE(folio_maybe_dma_pinned(f));
  EXPECT_EQ(m().nr_warnings(), 0u);
  for (folio* f : {a, b, l}) folio_put(f);
}

TEST_P(UnpinArrayTest, NullEntriesWarnOnceAndTheRestIsReleased) {
  folio* a = anon_folio(0);
  const int ra = page_ref_count(a);
  ASSERT_EQ(grab(a, 2), 0);
  std::vector<page*> pages = {a, nullptr, nullptr, a};
  unpin_user_pages(pages.data(), pages.size());
  EXPECT_EQ(m().nr_warnings(), 1u);
  EXPECT_EQ(released(), 2);
  EXPECT_EQ(page_ref_count(a), ra);
  folio_put(a);
}

TEST_P(UnpinArrayTest, ZeroPageEntriesAreNeitherReleasedNorCounted) {
  folio* z = page_folio(m().zero_page());
  folio* a = anon_folio(0);
  const int rz = page_ref_count(z), ra = page_ref_count(a);
  ASSERT_EQ(grab(z, 3), 0);
  ASSERT_EQ(grab(a, 1), 0);
  std::vector<page*> pages = {z, a, z, z};
  unpin_user_pages(pages.data(), pages.size());
  EXPECT_EQ(released(), 1);
  EXPECT_EQ(page_ref_count(z), rz);
  EXPECT_EQ(page_ref_count(a), ra);
  folio_put(a);
}

TEST_P(UnpinArrayTest, PagesOfTwoMachinesInOneArrayGoToTheirOwnMachine) {
  Machine other(testing::small_config(GetParam()));
  folio* a = anon_folio(0);
  folio* o = page_folio(alloc_pages_on(&other, gfp_t::GFP_HIGHUSER_MOVABLE, 0));
  SetPageSwapBacked(o);
  folio_add_lru(o);  // dma_count pins only pages it can take off their LRU
  const int ra = page_ref_count(a), ro = page_ref_count(o);
  ASSERT_EQ(grab(a, 2), 0);
  ASSERT_EQ(grab(o, 1), 0);
  std::vector<page*> pages = {a, o, a};
  unpin_user_pages(pages.data(), pages.size());
  EXPECT_EQ(released(), 2);
  EXPECT_EQ(other.vmstat().read(NR_FOLL_PIN_RELEASED), 1);
  EXPECT_EQ(page_ref_count(a), ra);
  EXPECT_EQ(page_ref_count(o), ro);
  folio_put(a);
  folio_put(o);
}

INSTANTIATE_TEST_SUITE_P(Designs, UnpinArrayTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Scheduling points of one sim run that pins subpages of one large folio (or that many
// small folios) and releases the first @nr of them with one unpin_user_pages() call.
// Each folio keeps one more pin and nothing is freed, so two runs differ only in that
// call (not in the unpinned folio's wakeups or LRU putback).
uint64_t sim_unpin_steps(PinDesign d, unsigned nr, bool small_folios) {
  MachineConfig c = testing::sim_config(7);
  c.ram_bytes = 16ull << 20;
  c.pin_design = d;
  Machine m(c);
  m.run([&] {
    constexpr unsigned kPages = 512;
    std::vector<folio*> folios;
    std::vector<page*> pages;
    if (small_folios) {
      for (unsigned k = 0; k < kPages; k++) folios.push_back(folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, 0));
      for (folio* f : folios) pages.push_back(f);
    } else {
      folios.push_back(folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER));
      for (unsigned k = 0; k < kPages; k++) pages.push_back(folio_page(folios[0], k));
    }
    for (folio* f : folios) {
      SetPageSwapBacked(f);
      folio_add_lru(f);
      const int refs = 1 + (small_folios ? 1 : static_cast<int>(kPages));
      BUG_ON(pin_dispatch(d, [&](auto design) { return try_grab_folio<decltype(design)>(f, refs, FOLL_PIN); }));
    }
    unpin_user_pages(pages.data(), nr);
  });
  EXPECT_EQ(m.sim_result()->outcome, SimOutcome::completed);
  return m.sim_result()->steps;
}

class UnpinRunCostTest : public ::testing::TestWithParam<PinDesign> {};

TEST_P(UnpinRunCostTest, ARunOf512SubpagesCostsWhatOnePageCosts) {
  const uint64_t one = sim_unpin_steps(GetParam(), 1, false);
  const uint64_t run = sim_unpin_steps(GetParam(), 512, false);
  EXPECT_EQ(run, one) << "512 subpages of one folio: one release, the same atomics as one page";
  const uint64_t small_one = sim_unpin_steps(GetParam(), 1, true);
  const uint64_t small_all = sim_unpin_steps(GetParam(), 512, true);
  EXPECT_GE(small_all - small_one, 511u) << "512 small folios: one release each";
}

INSTANTIATE_TEST_SUITE_P(Designs, UnpinRunCostTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
