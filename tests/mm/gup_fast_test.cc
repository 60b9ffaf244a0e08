// gup_fast_test.cc - pin_user_pages_fast_only(): the lockless walk without the slow
// path pins what is mapped and writable, stops at the first page it cannot take, and
// never faults; and a pte-mapped THP is taken in runs of subpages, one grab per run,
// under every design.
#include <gtest/gtest.h>

#include <vector>

#include "mm/gup.h"
#include "mm/pin.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

class GupFastOnlyTest : public test::MmTest {
 protected:
  int64_t acquired() const { return vs(NR_FOLL_PIN_ACQUIRED); }
  int64_t released() const { return vs(NR_FOLL_PIN_RELEASED); }
};

TEST_F(GupFastOnlyTest, PinsAPopulatedRangeWhole) {
  const unsigned long a = map(8 * PAGE_SIZE);
  for (unsigned i = 0; i < 8; i++) put_u64(a + i * PAGE_SIZE, i);
  std::vector<page*> pages(8);
  ASSERT_EQ(pin_user_pages_fast_only(a, 8, FOLL_WRITE, pages.data()), 8);
  EXPECT_EQ(acquired(), 8);
  for (page* p : pages) EXPECT_TRUE(page_maybe_dma_pinned(p));
  unpin_user_pages(pages.data(), 8);
  EXPECT_EQ(released(), 8);
}

TEST_F(GupFastOnlyTest, StopsAtTheFirstPageItWouldHaveToFaultIn) {
  const unsigned long a = map(8 * PAGE_SIZE);
  for (unsigned i = 0; i < 3; i++) put_u64(a + i * PAGE_SIZE, i);
  const int64_t faults = vs(PGFAULT);
  std::vector<page*> pages(8);
  ASSERT_EQ(pin_user_pages_fast_only(a, 8, FOLL_WRITE, pages.data()), 3);
  EXPECT_EQ(vs(PGFAULT), faults) << "no fault: the slow path never ran";
  EXPECT_EQ(pin_user_pages_fast_only(a + 3 * PAGE_SIZE, 5, FOLL_WRITE, pages.data() + 3), 0);
  unpin_user_pages(pages.data(), 3);
  EXPECT_EQ(acquired(), released());
}

TEST_F(GupFastOnlyTest, ReadOnlyPteRefusesFollWrite) {
  const unsigned long a = map(PAGE_SIZE, PROT_READ);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_WRITE, &p), 0);
  EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_NONE, &p), 0) << "zero page: left to the slow path";
  EXPECT_EQ(acquired(), 0);
}

TEST_F(GupFastOnlyTest, MisuseGetsNothing) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast_only(a, -1, FOLL_WRITE, &p), 0);
  EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_PIN, &p), 0) << "FOLL_PIN is implied";
  expected_warnings_ = 1;
  EXPECT_EQ(acquired(), 0);
}

// A THP whose PMD was split (the folio stays large, now mapped by 512 ptes).
class GupFastPteMappedThpTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config(64ull << 20);
    c.pin_design = GetParam();
    c.thp = true;
    return c;
  }
  unsigned long map_pte_mapped_thp() {
    const unsigned long raw = map(2 * PMD_SIZE);
    const unsigned long a = (raw + PMD_SIZE - 1) & PMD_MASK;
    EXPECT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
    put_u64(a, 1);
    EXPECT_EQ(vs(NR_ANON_THPS), 1);
    EXPECT_EQ(do_mprotect(mm_, a + 200 * PAGE_SIZE, PAGE_SIZE, PROT_READ), 0);
    EXPECT_EQ(do_mprotect(mm_, a + 200 * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
    EXPECT_FALSE(pmd_leaf(pmd_at(a))) << "pte-mapped now";
    // Write every subpage, so that every pte is writable, dirty and young: one run.
    for (unsigned long k = 0; k < HPAGE_PMD_NR; k++) put_u64(a + k * PAGE_SIZE, k);
    return a;
  }
  bool tracking() const { return GetParam() != PinDesign::get; }
};

TEST_P(GupFastPteMappedThpTest, RunsOfSubpagesArePinnedWholeAndExactly) {
  const unsigned long a = map_pte_mapped_thp();
  folio* f = page_folio(page_at(a));
  ASSERT_TRUE(folio_test_large(f));
  const int ref0 = page_ref_count(f);
  // From subpage 37 to the end of the folio, and past it into memory that is not mapped
  // yet (the slow path faults that in).
  std::vector<page*> pages(475 + 5);
  ASSERT_EQ(pin_user_pages_fast(a + 37 * PAGE_SIZE, 480, FOLL_WRITE, pages.data()), 480);
  for (unsigned long k = 0; k < 475; k++) ASSERT_EQ(pages[k], folio_page(f, 37 + k)) << k;
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 480);
  if (GetParam() != PinDesign::fake_vma) {
    EXPECT_EQ(vs(GUP_FAST_PAGES), 475) << "the lockless walk took the folio's ptes";
    EXPECT_EQ(vs(GUP_FAST_FALLBACK), 1) << "and left the unmapped rest to the slow path";
    const int per_pin =
        (GetParam() == PinDesign::bias) ? GUP_PIN_COUNTING_BIAS : 1;  // folio_pincount: exact count on a large folio
    EXPECT_EQ(page_ref_count(f) - ref0, 475 * per_pin);
  }
  if (GetParam() == PinDesign::folio_pincount) EXPECT_EQ(folio_page(f, 1)->_pincount, 475);
  EXPECT_EQ(folio_maybe_dma_pinned(f), tracking());
  unpin_user_pages(pages.data(), pages.size());
  EXPECT_EQ(page_ref_count(f), ref0);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), vs(NR_FOLL_PIN_RELEASED));
}

TEST_P(GupFastPteMappedThpTest, AReadPinChecksEachSubpageOfTheRunForUnshare) {
  const unsigned long a = map_pte_mapped_thp();
  folio* f = page_folio(page_at(a));
  std::vector<page*> pages(100);
  const int expect = GetParam() == PinDesign::fake_vma ? 0 : 100;  // fake_vma: never lockless
  ASSERT_EQ(pin_user_pages_fast_only(a + 3 * PAGE_SIZE, 100, FOLL_NONE, pages.data()), expect);
  for (int k = 0; k < expect; k++) {
    ASSERT_EQ(pages[static_cast<size_t>(k)], folio_page(f, 3 + static_cast<unsigned long>(k)));
    EXPECT_TRUE(PageAnonExclusive(pages[static_cast<size_t>(k)]));
  }
  unpin_user_pages(pages.data(), static_cast<unsigned long>(expect));
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), vs(NR_FOLL_PIN_RELEASED));
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
}

INSTANTIATE_TEST_SUITE_P(Designs, GupFastPteMappedThpTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::fake_vma, PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
