// pin_registry_test.cc - a design registered out of tree (mm/pin_registry.h) pins pages
// through its own hooks, runs a scenario as predicted by the design it is registered
// like, and is a column of the matrix.
#include <gtest/gtest.h>

#include <algorithm>

#include "lab/matrix.h"
#include "lab/scenario.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/pin_registry.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

// Seed 000 with twice the bias: a bias variant as an out-of-tree author would write it.
constexpr int kBias2k = 2 << 10;
struct PinBias2k : PinDesignBase<PinBias2k> {
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) { return pin_detail::ref_add_checked<S>(f, refs * kBias2k); }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) { return pin_detail::ref_try_add<S>(f, refs * kBias2k); }
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) {
    if (page_ref_count<S>(f) < refs * kBias2k) return pin_detail::unpin_refused(f, refs);
    folio_put_refs<S>(f, refs * kBias2k);
  }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return page_ref_count<S>(f) >= kBias2k; }
};

}  // namespace

GUPLAB_REGISTER_PIN_DESIGN(PinBias2k, "bias2k", "seed 000 with a bias of 2048", PinDesign::bias)

namespace {

PinDesign bias2k() { return *parse_pin_design("bias2k"); }

class RegisteredDesignTest : public testing::MachineTest {
 protected:
  void SetUp() override { boot(testing::small_config(bias2k())); }
};

TEST_F(RegisteredDesignTest, PinsThroughItsOwnHooks) {
  EXPECT_EQ(m().pin_design(), bias2k());
  folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, 0);
  SetPageSwapBacked(f);
  folio_add_lru(f);
  const int ref0 = page_ref_count(f);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  ASSERT_EQ(pin_dispatch(m().pin_design(), [&](auto d) { return try_grab_folio<decltype(d)>(f, 2, FOLL_PIN); }), 0);
  EXPECT_EQ(page_ref_count(f), ref0 + 2 * kBias2k) << "the design's own bias, not GUP_PIN_COUNTING_BIAS";
  EXPECT_TRUE(folio_maybe_dma_pinned(f));
  EXPECT_TRUE(folio_pinned_now(f));
  page* pages[2] = {f, f};
  unpin_user_pages(pages, 2);
  EXPECT_EQ(page_ref_count(f), ref0);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  folio_put(f);
}

ScenarioParams sim_params() {
  ScenarioParams p;
  p.backend = Backend::sim;
  p.seed = 3;
  return p;
}

TEST(RegisteredDesignScenario, RunsAsTheDesignItIsLike) {
  const Scenario* s = find_scenario("ext4-bug");
  ASSERT_NE(s, nullptr);
  for (WritebackPolicy p : {WritebackPolicy::ignore, WritebackPolicy::skip}) {
    const MatrixCell c = run_cell(*s, bias2k(), p, sim_params());
    SCOPED_TRACE(to_string(p));
    EXPECT_EQ(c.expected, s->expected(PinDesign::bias, p));
    EXPECT_EQ(c.result.outcome, c.expected) << c.result.reason;
    EXPECT_STREQ(to_string(c.result.params.design), "bias2k");
    EXPECT_GT(c.result.pins_acquired, 0);
    EXPECT_EQ(c.result.pins_acquired, c.result.pins_released);
  }
}

TEST(RegisteredDesignScenario, IsAColumnOfTheMatrix) {
  const std::vector<PinDesign> designs = matrix_designs();
  EXPECT_NE(std::find(designs.begin(), designs.end(), bias2k()), designs.end());
  const Scenario* s = find_scenario("torn-writeback");
  ASSERT_NE(s, nullptr);
  const std::vector<MatrixCell> cells = run_matrix({s}, sim_params());
  EXPECT_EQ(cells.size(), designs.size() * matrix_policies().size());
  size_t mine = 0;
  for (const MatrixCell& c : cells) {
    if (c.design != bias2k()) continue;
    mine++;
    EXPECT_TRUE(c.matches()) << to_string(c.policy) << ": got " << to_string(c.result.outcome) << ", expected "
                             << to_string(c.expected);
  }
  EXPECT_EQ(mine, matrix_policies().size());
  EXPECT_NE(format_matrix(cells).find("\n  bias2k "), std::string::npos) << "a row of the text table";
}

}  // namespace
}  // namespace guplab
