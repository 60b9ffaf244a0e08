// scenario_test.cc - the runner applies the generic oracles and picks the worst outcome.
#include "lab/scenario.h"

#include <gtest/gtest.h>

#include "base/bug.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/pin.h"
#include "mm/swap.h"

namespace guplab {
namespace {

// A toy scenario whose behaviour is chosen by a constructor argument.
class Toy : public Scenario {
 public:
  enum Kind { kClean, kLeakPin, kBug, kTornAndWarn };
  explicit Toy(Kind k) : k_(k) {}
  const char* name() const override { return "toy"; }
  const char* description() const override { return "a scenario for testing the runner"; }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, 0);
    folio_add_lru(f);
    int r = pin_dispatch(ctx.params().design, [&](auto d) { return try_grab_folio<decltype(d)>(f, 1, FOLL_PIN); });
    ASSERT_EQ(r, 0);
    gup_count_pins_for_test(f);
    ctx.note("pinned a page");
    if (k_ == kBug) BUG_ON(true);
    if (k_ != kLeakPin) unpin_user_page(f);
    if (k_ == kTornAndWarn) {
      ctx.found(Outcome::torn, "page 3 has stamps 1 and 2");
      WARN_ON(true);
    }
    if (k_ == kLeakPin) {
      // Leave the pin: the leak oracle must see it. (The page is lost with the machine.)
      return;
    }
    folio_put(f);
  }
  static void gup_count_pins_for_test(folio* f) { page_machine(f)->vmstat().inc(NR_FOLL_PIN_ACQUIRED); }

 private:
  Kind k_;
};

ScenarioParams params() {
  ScenarioParams p;
  p.design = PinDesign::bias;
  return p;
}

TEST(ScenarioRunnerTest, CleanRunIsOk) {
  ScenarioResult r = run_scenario(Toy(Toy::kClean), params());
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
  EXPECT_EQ(r.pins_acquired, 1);
  EXPECT_EQ(r.pins_released, 1);
}

TEST(ScenarioRunnerTest, LeakedPinIsALeak) {
  ScenarioResult r = run_scenario(Toy(Toy::kLeakPin), params());
  EXPECT_EQ(r.outcome, Outcome::leak);
  EXPECT_NE(r.reason.find("nr_foll_pin_acquired 1 != nr_foll_pin_released 0"), std::string::npos);
}

TEST(ScenarioRunnerTest, BugIsAnOopsWithEvents) {
  ScenarioResult r = run_scenario(Toy(Toy::kBug), params());
  EXPECT_EQ(r.outcome, Outcome::oops);
  EXPECT_NE(r.oops_report.find("kernel BUG at"), std::string::npos);
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back(), "toy-1: pinned a page") << "notes carry the task, as ftrace lines do";
}

TEST(ScenarioRunnerTest, WorstFindingWins) {
  ScenarioResult r = run_scenario(Toy(Toy::kTornAndWarn), params());
  EXPECT_EQ(r.outcome, Outcome::torn);
  EXPECT_EQ(r.findings.size(), 2u);
}

}  // namespace
}  // namespace guplab
