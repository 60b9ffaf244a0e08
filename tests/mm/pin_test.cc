// pin_test.cc - the pin designs on their own: grab/unpin balance, what
// page_maybe_dma_pinned() says (no false negatives), overflow, misuse.
#include <gtest/gtest.h>

#include <vector>

#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/pin.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

class PinFixture : public testing::MachineTest {
 protected:
  void boot_design(PinDesign d) {
    design_ = d;
    boot(testing::small_config(d));
  }
  folio* anon_folio(unsigned order) {
    folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, order);
    SetPageSwapBacked(f);
    folio_add_lru(f);
    return f;
  }
  int grab(folio* f, int refs) {
    return pin_dispatch(design_, [&](auto d) { return try_grab_folio<decltype(d)>(f, refs, FOLL_PIN); });
  }
  bool tracking() const { return design_ != PinDesign::get; }
  PinDesign design_ = PinDesign::folio_pincount;
};

class PinTest : public PinFixture, public ::testing::WithParamInterface<PinDesign> {
 protected:
  void SetUp() override { boot_design(GetParam()); }
};
class FolioPincountTest : public PinFixture {
 protected:
  void SetUp() override { boot_design(PinDesign::folio_pincount); }
};
class DmaCountTest : public PinFixture {
 protected:
  void SetUp() override { boot_design(PinDesign::dma_count); }
};

TEST_P(PinTest, PinThenUnpinRestoresEverything) {
  for (unsigned order : {0u, HPAGE_PMD_ORDER}) {
    folio* f = anon_folio(order);
    const int ref0 = page_ref_count(f);
    EXPECT_FALSE(folio_maybe_dma_pinned(f));
    ASSERT_EQ(grab(f, 3), 0);
    EXPECT_EQ(folio_maybe_dma_pinned(f), tracking());
    EXPECT_EQ(page_maybe_dma_pinned(folio_page(f, order ? 7 : 0)), tracking());
    page* pages[3] = {f, f, f};
    unpin_user_pages(pages, 3);
    EXPECT_FALSE(folio_maybe_dma_pinned(f));
    EXPECT_EQ(page_ref_count(f), ref0);
    if (design_ == PinDesign::dma_count) EXPECT_TRUE(PageLRU(f)) << "back on the LRU after the last unpin";
    folio_put(f);
  }
}

TEST_P(PinTest, ZeroPageIsNeverAccounted) {
  folio* z = page_folio(m().zero_page());
  const int ref0 = page_ref_count(z);
  ASSERT_EQ(grab(z, 1), 0);
  EXPECT_EQ(page_ref_count(z), ref0);
  page* p = z;
  unpin_user_pages(&p, 1);
  EXPECT_EQ(page_ref_count(z), ref0);
  EXPECT_EQ(m().nr_warnings(), 0u);
}

TEST_P(PinTest, UnpinOfAnUnpinnedPageWarnsAndChangesNothing) {
  folio* f = anon_folio(0);
  const int ref0 = page_ref_count(f);
  if (tracking()) {
    unpin_user_page(f);
    EXPECT_EQ(m().nr_warnings(), 1u);
    EXPECT_EQ(page_ref_count(f), ref0);
  }
  // Design get cannot tell a pin from a reference, so there is nothing to refuse.
  folio_put(f);
}

TEST_P(PinTest, OverflowIsRefusedBeforeItHappens) {
  folio* f = anon_folio(0);
  const int before = page_ref_count(f);
  const int per_pin = (design_ == PinDesign::bias || design_ == PinDesign::folio_pincount) ? GUP_PIN_COUNTING_BIAS : 1;
  // Bring the count close to INT_MAX without pinning, then ask for one pin too many.
  const int fill = INT_MAX - before - per_pin / 2;
  page_ref_add(f, fill);
  EXPECT_EQ(grab(f, 1), -EOVERFLOW);
  EXPECT_EQ(page_ref_count(f), before + fill);
  EXPECT_EQ(m().vmstat().read(GUP_PIN_OVERFLOW), 1);
  EXPECT_GE(m().nr_warnings(), 1u);
  page_ref_sub(f, fill);
  folio_put(f);
}

TEST_P(PinTest, FalsePositivesOnlyWhereDocumented) {
  folio* f = anon_folio(0);
  page_ref_add(f, GUP_PIN_COUNTING_BIAS);  // many ordinary references, no pin
  const bool fp = folio_maybe_dma_pinned(f);
  const bool documented = design_ == PinDesign::bias || design_ == PinDesign::folio_pincount;
  EXPECT_EQ(fp, documented);
  page_ref_sub(f, GUP_PIN_COUNTING_BIAS);
  folio_put(f);
}

TEST_F(FolioPincountTest, LargeFolioPincountIsExact) {
  folio* f = anon_folio(HPAGE_PMD_ORDER);
  page_ref_add(f, 5000);  // lots of ordinary references do not look like pins
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  ASSERT_EQ(grab(f, 512), 0);
  EXPECT_EQ(folio_page(f, 1)->_pincount, 512);
  EXPECT_TRUE(folio_maybe_dma_pinned(f));
  unpin_user_page_range_dirty_lock(f, 512, false);
  EXPECT_EQ(folio_page(f, 1)->_pincount, 0);
  page_ref_sub(f, 5000);
  folio_put(f);
}

TEST_F(DmaCountTest, PinnedPageIsOffTheLru) {
  folio* f = anon_folio(0);
  ASSERT_EQ(grab(f, 2), 0);
  EXPECT_FALSE(PageLRU(f));
  EXPECT_TRUE(PageDmaPinned(f));
  EXPECT_EQ(PinDmaCount::count(f), 2u);
  EXPECT_FALSE(folio_isolate_lru(f)) << "reclaim must not find a pinned page";
  unpin_user_page(f);
  EXPECT_EQ(PinDmaCount::count(f), 1u);
  unpin_user_page(f);
  EXPECT_FALSE(PageDmaPinned(f));
  EXPECT_TRUE(PageLRU(f));
  folio_put(f);
}

TEST_F(DmaCountTest, AnIsolatedPageCannotBePinnedUntilPutBack) {
  folio* f = anon_folio(0);
  ASSERT_TRUE(folio_isolate_lru(f));  // reclaim holds it: its lru field is in use
  EXPECT_EQ(grab(f, 1), -EAGAIN);
  EXPECT_FALSE(PageDmaPinned(f));
  folio_putback_lru(f);
  ASSERT_EQ(grab(f, 1), 0);
  unpin_user_page(f);
  folio_put(f);
}

TEST_P(PinTest, DirtyLockUnpinMarksDirty) {
  folio* f = anon_folio(0);
  ASSERT_EQ(grab(f, 1), 0);
  page* p = f;
  unpin_user_pages_dirty_lock(&p, 1, true);
  EXPECT_TRUE(PageDirty(f));
  EXPECT_FALSE(PageLocked(f));
  folio_put(f);
}

TEST_P(PinTest, RandomizedPinUnpinNeverReportsAFalseNegative) {
  Random rng(1234);
  std::vector<folio*> fs;
  std::vector<int> pins;
  for (int i = 0; i < 32; i++) {
    fs.push_back(anon_folio(i % 8 == 0 ? HPAGE_PMD_ORDER : 0));
    pins.push_back(0);
  }
  long fp = 0, checks = 0;
  for (int step = 0; step < 20000; step++) {
    size_t i = rng.uniform(fs.size());
    switch (rng.uniform(4)) {
      case 0:
        if (grab(fs[i], 1) == 0) pins[i]++;
        break;
      case 1:
        if (pins[i]) {
          unpin_folio(fs[i]);
          pins[i]--;
        }
        break;
      case 2:
        folio_get(fs[i]);
        folio_put(fs[i]);
        break;
      default: {
        bool maybe = folio_maybe_dma_pinned(fs[i]);
        checks++;
        if (tracking() && pins[i]) ASSERT_TRUE(maybe) << "false negative at step " << step;
        if (!pins[i] && maybe) fp++;
      }
    }
  }
  EXPECT_EQ(fp, 0) << "no false positives without ~1024 plain references";
  for (size_t i = 0; i < fs.size(); i++) {
    while (pins[i]--) unpin_folio(fs[i]);
    folio_put(fs[i]);
  }
  RecordProperty("checks", static_cast<int>(checks));
}

// The design list (GUPLAB_PIN_DESIGNS) and the properties shared code asks instead of
// the design's name: what each design says of itself, as mm/pin.h documents it.
TEST(PinDesignConcept, EveryDesignDispatchesToItsTypeWithItsProperties) {
  for (PinDesign d : kAllPinDesigns) {
    SCOPED_TRACE(to_string(d));
    EXPECT_EQ(pin_dispatch(d, [](auto t) { return decltype(t)::kDesign; }), d);
    EXPECT_EQ(parse_pin_design(to_string(d)), d);
    EXPECT_STRNE(describe(d), "?");
    const PinDesignProps p = pin_design_props(d);
    EXPECT_EQ(p.tracks_pins, d != PinDesign::get);
    EXPECT_EQ(p.has_fast_path, d != PinDesign::fake_vma) << "fake_vma: a fake vma needs sleeping locks";
    EXPECT_EQ(p.batches_ptes, d != PinDesign::fake_vma) << "fake_vma accounts each folio to its fake vma";
    EXPECT_EQ(p.wakes_on_unpin, d == PinDesign::fake_vma) << "fake_vma_unpin() wakes page_mkclean() sleepers";
    EXPECT_EQ(p.pin_is_mapping, d == PinDesign::fake_vma);
  }
  static_assert(PinDesignType<PinBias> && !PinDesignType<int>);
}

INSTANTIATE_TEST_SUITE_P(Designs, PinTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
