// scenario_test.cc - the runner applies the generic oracles and picks the worst outcome.
#include "lab/scenario.h"

#include <gtest/gtest.h>

#include "base/bug.h"
#include "machine/sync_point.h"
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

namespace guplab {
namespace {

// Two tasks that wait for each other through sync points: a deadlock the sim backend
// sees and the runner reports.
class Stuck : public Scenario {
 public:
  const char* name() const override { return "stuck"; }
  const char* description() const override { return "a scripted deadlock"; }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::deadlock; }
  void run(ScenarioContext& ctx) const override {
    ctx.machine().sync_points().load_dependency({{"b:done", "a:start"}, {"a:done", "b:start"}});
    ctx.spawn("a", [] {
      TEST_SYNC_POINT("a:start");
      TEST_SYNC_POINT("a:done");
    });
    ctx.spawn("b", [] {
      TEST_SYNC_POINT("b:start");
      TEST_SYNC_POINT("b:done");
    });
  }
};

// A clean scenario whose oracle says what it checked; a spawned task is left for the
// runner to join.
class Explained : public Scenario {
 public:
  const char* name() const override { return "explained"; }
  const char* description() const override { return "ok findings explain a clean run"; }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    int* counter = ctx.make<int>(0);
    ctx.spawn("worker", [counter] { (*counter)++; });
    ctx.found(Outcome::ok, "the worker ran");
  }
};

TEST(ScenarioRunnerTest, SimDeadlockIsReportedWithWhoWaits) {
  ScenarioParams p = params();
  p.backend = Backend::sim;
  ScenarioResult r = run_scenario(Stuck(), p);
  EXPECT_EQ(r.outcome, Outcome::deadlock);
  EXPECT_NE(r.reason.find("every task blocked"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("a-"), std::string::npos) << r.reason;
  EXPECT_FALSE(r.deadlock_report.empty());
}

TEST(ScenarioRunnerTest, OkFindingsBecomeTheReason) {
  for (Backend b : {Backend::native, Backend::sim}) {
    ScenarioParams p = params();
    p.backend = b;
    ScenarioResult r = run_scenario(Explained(), p);
    EXPECT_EQ(r.outcome, Outcome::ok);
    EXPECT_EQ(r.reason, "every oracle passed: the worker ran");
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0], "ok: the worker ran");
  }
}

TEST(ScenarioRunnerTest, OopsUnderSimToo) {
  ScenarioParams p = params();
  p.backend = Backend::sim;
  ScenarioResult r = run_scenario(Toy(Toy::kBug), p);
  EXPECT_EQ(r.outcome, Outcome::oops);
  EXPECT_NE(r.oops_report.find("toy-1: pinned a page"), std::string::npos) << r.oops_report;
}

}  // namespace
}  // namespace guplab
