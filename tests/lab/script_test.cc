// script_test.cc - a scripted run fails, naming the point, when its script orders a
// sync point that no task passes (misspelt, or renamed in the model).
#include "lab/script.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "lab/scenario.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"

namespace guplab {
namespace {

using Deps = std::vector<std::pair<std::string, std::string>>;

// One task passes "test:a" then "test:b"; the script orders what the test says.
class Ordered : public Scenario {
 public:
  explicit Ordered(Deps deps) : deps_(std::move(deps)) {}
  const char* name() const override { return "ordered"; }
  const char* description() const override { return "a scripted run over two points"; }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    auto* script = ctx.make<Script>(ctx);
    script->order(deps_);
    ctx.spawn("worker", [] {
      Script::pass("test:a");
      Script::pass("test:b");
    });
    ctx.found(Outcome::ok, "the worker ran");
  }

 private:
  Deps deps_;
};

ScenarioParams sim_params() {
  ScenarioParams p;
  p.backend = Backend::sim;
  p.seed = 7;
  return p;
}

TEST(ScriptTest, ScriptWhosePointsArePassedRunsClean) {
  const ScenarioResult r = run_scenario(Ordered({{"test:a", "test:b"}}), sim_params());
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
}

TEST(ScriptTest, OrderingAPointNoTaskPassesFailsNamingIt) {
  // "test:renamed" is reached by nobody: the order never held, the run is unscripted.
  const ScenarioResult r = run_scenario(Ordered({{"test:a", "test:renamed"}}), sim_params());
  EXPECT_EQ(r.outcome, Outcome::warn);
  EXPECT_NE(r.reason.find("'test:renamed', which no task passed"), std::string::npos) << r.reason;
}

TEST(ScriptTest, AModelPointTheModelDoesNotHaveIsRefusedUpFront) {
  // A misspelt model point would never be passed: under native the successor would
  // wait for ever. It is refused before any task runs, in both backends.
  for (Backend b : {Backend::sim, Backend::native}) {
    ScenarioParams p = sim_params();
    p.backend = b;
    const ScenarioResult r = run_scenario(Ordered({{"writeback:clear_dirty:beforee", "test:b"}}), p);
    EXPECT_EQ(r.outcome, Outcome::warn);
    EXPECT_NE(r.reason.find("sync point 'writeback:clear_dirty:beforee', which the model does not have"),
              std::string::npos)
        << r.reason;
  }
}

TEST(ScriptTest, APredecessorNeverPassedIsADeadlockThatNamesIt) {
  const ScenarioResult r = run_scenario(Ordered({{"test:never", "test:b"}}), sim_params());
  EXPECT_EQ(r.outcome, Outcome::deadlock);
  EXPECT_NE(r.reason.find("'test:b' waits for 'test:never'"), std::string::npos) << r.reason;
}

TEST(ScriptTest, TheModelsOwnPointsAreKnown) {
  EXPECT_TRUE(sp::is_model_sync_point(sp::kWritebackClearDirtyBefore));
  EXPECT_TRUE(sp::models_prefix("writeback:anything"));
  EXPECT_FALSE(sp::is_model_sync_point("writeback:anything"));
  EXPECT_FALSE(sp::models_prefix("ext4-bug:flush")) << "a scenario's own point";
  EXPECT_EQ(sp::device_sync_point("rdma0", sp::kDevRegMrDone), "rdma0:reg_mr:done");
}

}  // namespace
}  // namespace guplab
