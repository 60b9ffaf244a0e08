// explorer_test.cc - the sim explorer: seeds, shards and jobs do not change the answer,
// a printed seed replays its run exactly (by seed and by recorded choices), injected
// faults are reproducible, and a bounded exploration of every scenario cell finds what
// the seeds predict: no failure where a design is safe, the failure where it is not.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "lab/explorer.h"
#include "lab/matrix.h"
#include "lab/scenario.h"
#include "lab/scenarios/common.h"
#include "machine/boot_cache.h"

namespace guplab {
namespace {

#if defined(GUPLAB_ASAN) || defined(GUPLAB_TSAN)
constexpr uint64_t kSeedsPerCell = 60;    // sanitizer builds run ~20x slower
constexpr uint64_t kSearchBudget = 3000;
#else
constexpr uint64_t kSeedsPerCell = 600;   // 6 policies: 3600 seeds per scenario and design
constexpr uint64_t kSearchBudget = 20000;
#endif

const Scenario* scenario(const char* name) {
  const Scenario* s = find_scenario(name);
  EXPECT_NE(s, nullptr) << name;
  return s;
}

ExploreOptions cell(const char* name, PinDesign d, WritebackPolicy p, uint64_t seeds) {
  ExploreOptions o;
  o.scenario = scenario(name);
  o.design = d;
  o.policy = p;
  o.seeds = seeds;
  return o;
}

TEST(ExploreSeeds, DistinctPerIndexAndBaseAndStable) {
  std::set<uint64_t> seen;
  for (uint64_t base : {1, 2, 3})
    for (uint64_t i = 0; i < 1000; i++) seen.insert(explore_seed(base, i));
  EXPECT_EQ(seen.size(), 3000u);
  EXPECT_EQ(explore_seed(1, 0), explore_seed(1, 0));
}

TEST(Explorer, RefusesCellsItCannotRun) {
  ExploreOptions o = cell("ext4-bug", PinDesign::bias, WritebackPolicy::skip, 10);
  o.shard = 2;
  o.shards = 2;
  Result<ExploreResult> r = explore(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), -EINVAL);
  EXPECT_EQ(r.error(), "shard 3 of 2 does not exist");
  o.shard = 0;
  o.strategy = SimStrategy::pct;
  o.pct_depth = 0;
  r = explore(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "PCT needs a depth of at least 1");
  o.scenario = nullptr;
  r = explore(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), -EINVAL);
  EXPECT_EQ(r.error(), "no scenario");
}

TEST(Explorer, ShardsTogetherRunExactlyTheWhole) {
  ExploreOptions o = cell("torn-writeback", PinDesign::get, WritebackPolicy::ignore, 600);
  const ExploreResult whole = explore(o).value();
  ASSERT_EQ(whole.runs, 600u);
  ASSERT_TRUE(whole.first_failure) << "the seeds predict torn pages under get";
  ExploreResult sum;
  std::optional<ExploreRun> first;
  for (unsigned k = 0; k < 3; k++) {
    o.shard = k;
    o.shards = 3;
    const ExploreResult part = explore(o).value();
    EXPECT_EQ(part.total, 200u);
    sum.runs += part.runs;
    for (size_t i = 0; i < sum.histogram.size(); i++) sum.histogram[i] += part.histogram[i];
    if (part.first_failure && (!first || part.first_failure->index < first->index)) first = part.first_failure;
  }
  EXPECT_EQ(sum.runs, whole.runs);
  EXPECT_EQ(sum.histogram, whole.histogram);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->index, whole.first_failure->index);
  EXPECT_EQ(first->seed, whole.first_failure->seed);
}

TEST(Explorer, JobsDoNotChangeTheAnswer) {
  ExploreOptions o = cell("torn-writeback", PinDesign::get, WritebackPolicy::ignore, 400);
  const ExploreResult one = explore(o).value();
  o.jobs = 2;
  const ExploreResult two = explore(o).value();
  EXPECT_EQ(two.jobs, 2u);
  EXPECT_EQ(one.histogram, two.histogram);
  EXPECT_EQ(one.steps, two.steps);
  EXPECT_EQ(one.choices, two.choices);
  EXPECT_EQ(one.steps_by_kind, two.steps_by_kind);
  uint64_t sum = 0;
  for (uint64_t n : one.steps_by_kind) sum += n;
  EXPECT_EQ(sum, one.steps) << "the step profile covers every step";
  EXPECT_GT(one.choices, 0u);
  EXPECT_LT(one.choices, one.steps);
  EXPECT_GT(one.steps_by_kind[static_cast<size_t>(SchedPoint::kSyncPoint)], 0u);
  ASSERT_EQ(one.first_failure.has_value(), two.first_failure.has_value());
  if (one.first_failure) EXPECT_EQ(one.first_failure->seed, two.first_failure->seed);
}

TEST(Explorer, TheLabsSetupAndTeardownAreNotExplored) {
  // Every schedule of a cell shares the setup (mkfs, mount, the file); the teardown
  // (unmap, close, unmount, the frame count) runs without choices. Both are counted
  // apart from the steps.
  const ExploreResult one = explore(cell("ext4-bug", PinDesign::bias, WritebackPolicy::wait, 1)).value();
  const ExploreResult many = explore(cell("ext4-bug", PinDesign::bias, WritebackPolicy::wait, 40)).value();
  ASSERT_EQ(many.runs, 40u);
  EXPECT_GT(one.setup_steps, 0u);
  EXPECT_EQ(many.setup_steps, 40 * one.setup_steps) << "the one setup of every schedule";
  EXPECT_GT(one.teardown_steps, 0u);
  EXPECT_GT(many.teardown_steps, 0u);
  EXPECT_EQ(many.histogram[static_cast<size_t>(Outcome::ok)], 40u);
}

TEST(Explorer, UntilFailStopsAtTheLowestFailingRunWhateverTheJobs) {
  ExploreOptions o = cell("torn-writeback", PinDesign::get, WritebackPolicy::ignore, kSearchBudget);
  o.stop_at_first_failure = true;
  const ExploreResult a = explore(o).value();
  o.jobs = 2;
  const ExploreResult b = explore(o).value();
  ASSERT_TRUE(a.first_failure);
  ASSERT_TRUE(b.first_failure);
  EXPECT_EQ(a.first_failure->index, b.first_failure->index);
  EXPECT_EQ(a.runs, a.first_failure->index + 1) << "one job stops right after the failing run";
  EXPECT_LT(b.runs, kSearchBudget);
}

TEST(Explorer, APrintedSeedReplaysItsRunExactly) {
  ExploreOptions o = cell("torn-writeback", PinDesign::get, WritebackPolicy::ignore, kSearchBudget);
  o.stop_at_first_failure = true;
  const ExploreResult r = explore(o).value();
  ASSERT_TRUE(r.first_failure);
  const ExploreRun& f = *r.first_failure;
  // In a fresh process state (no boot cache), twice, and once with the trace ring on.
  for (int i = 0; i < 3; i++) {
    ScenarioParams p = explore_params(o, f.seed, explore_pct_steps(o));
    p.trace = i == 2;
    const ScenarioResult again = run_scenario(*o.scenario, p);
    EXPECT_EQ(again.outcome, f.outcome);
    EXPECT_EQ(again.reason, f.reason);
    EXPECT_EQ(again.steps, f.steps);
  }
}

TEST(Explorer, RecordedChoicesReplayTheSameRun) {
  ExploreOptions o = cell("ext4-bug", PinDesign::get, WritebackPolicy::ignore, 1);
  ScenarioParams p = explore_params(o, explore_seed(7, 0), 1);
  const ScenarioResult first = run_scenario(*o.scenario, p);
  ASSERT_FALSE(first.choices.empty());
  ScenarioParams q = p;
  q.sim.strategy = SimStrategy::replay;
  q.sim.replay = first.choices;
  const ScenarioResult again = run_scenario(*o.scenario, q);
  EXPECT_EQ(again.outcome, first.outcome);
  EXPECT_EQ(again.reason, first.reason);
  EXPECT_EQ(again.steps, first.steps);
  EXPECT_EQ(again.choices, first.choices);
}

// Runs seeds explore_seed(base, 0..n-1) of cell @o on fresh machines and again on @cache's
// reused mappings, expecting the same runs.
void expect_cache_changes_nothing(const ExploreOptions& o, BootCache& cache, uint64_t base, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    ScenarioParams p = explore_params(o, explore_seed(base, i), 1);
    const ScenarioResult fresh = run_scenario(*o.scenario, p);
    p.boot_cache = &cache;
    const ScenarioResult reused = run_scenario(*o.scenario, p);
    EXPECT_EQ(fresh.outcome, reused.outcome) << i;
    EXPECT_EQ(fresh.reason, reused.reason) << i;
    EXPECT_EQ(fresh.steps, reused.steps) << i;
    EXPECT_EQ(fresh.choices, reused.choices) << i;
  }
}

TEST(Explorer, BootCacheRunsAreTheRunsOfFreshMachines) {
  // A machine booted on reused mappings must run exactly as one on fresh mappings.
  BootCache cache;
  expect_cache_changes_nothing(cell("lost-update", PinDesign::folio_pincount, WritebackPolicy::ignore, 1), cache, 3, 20);
  EXPECT_GE(cache.mem.cached(), 1u);
  EXPECT_GE(cache.bufs.cached(), 1u) << "the ramdisk's buffers were reused too";
}

TEST(Explorer, Ext4BugRunsOnACacheAreTheRunsOfFreshMachines) {
  // The explorer's benchmark cell: reused RAM, stacks and ramdisk buffers change nothing.
  BootCache cache;
  expect_cache_changes_nothing(cell("ext4-bug", PinDesign::bias, WritebackPolicy::wait, 1), cache, 1, 10);
  EXPECT_GE(cache.bufs.cached(), 2u);
}

TEST(Explorer, AnInjectedFaultInTheUffdHandlerIsNoDeadlock) {
  // uffd-gup's handler wakes a fault it failed to resolve (an injected ENOMEM), so the
  // faulting task reports it again: the failed call is what the run finds, never a hang
  // the model did not have (171 of 1,000 runs ended in a deadlock before).
  ExploreOptions o = cell("uffd-gup", PinDesign::bias, WritebackPolicy::skip, 300);
  o.buggify = true;
  const ExploreResult r = explore(o).value();
  EXPECT_EQ(r.count(Outcome::deadlock), 0u);
  EXPECT_GT(r.explained, 0u) << "faults were injected and failed calls";
  EXPECT_EQ(r.unexplained(), 0u);
  EXPECT_GT(r.count(Outcome::ok), 0u);
}

TEST(Explorer, PctFindsTheTornPageToo) {
  ExploreOptions o = cell("torn-writeback", PinDesign::get, WritebackPolicy::ignore, kSearchBudget);
  o.strategy = SimStrategy::pct;
  o.pct_depth = 3;
  o.stop_at_first_failure = true;
  const ExploreResult r = explore(o).value();
  EXPECT_GT(r.pct_steps, 100u) << "k is measured from the seed-0 run";
  ASSERT_TRUE(r.first_failure) << "PCT(3) found no torn page in " << r.runs << " runs";
  EXPECT_EQ(r.first_failure->outcome, Outcome::torn);
}

TEST(Explorer, InjectedFaultsReplayAndExplainTheirFailures) {
  ExploreOptions o = cell("dio-vs-truncate", PinDesign::folio_pincount, WritebackPolicy::skip, kSeedsPerCell);
  o.buggify = true;
  const ExploreResult r = explore(o).value();
  EXPECT_GT(r.failed, 0u) << "allocation failures and I/O errors make some calls fail";
  EXPECT_EQ(r.unexplained(), 0u) << (r.first_failure ? r.first_failure->reason : "");
  ASSERT_TRUE(r.first_failure);
  EXPECT_GT(r.first_failure->faults, 0u);
  const ScenarioResult again = run_scenario(*o.scenario, explore_params(o, r.first_failure->seed, 1));
  EXPECT_EQ(again.reason, r.first_failure->reason);
  EXPECT_EQ(again.buggify_fired, r.first_failure->faults);
  // Without --buggify the same seeds are clean.
  o.buggify = false;
  EXPECT_EQ(explore(o)->failed, 0u);
}

// The bounded exploration `make test` runs: every scenario under every design and
// policy. Where the scenario predicts no failure unscripted, none of kSeedsPerCell
// schedules may fail; where it predicts one, the explorer must find it.
class BoundedExploration : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> registered_scenario_names() {
  std::vector<std::string> names;
  for (const Scenario* sc : all_scenarios()) names.emplace_back(sc->name());
  return names;
}

TEST_P(BoundedExploration, EveryCellAsPredicted) {
  const Scenario* s = scenario(GetParam().c_str());
  ASSERT_NE(s, nullptr);
  for (PinDesign d : kAllPinDesigns) {
    for (WritebackPolicy p : matrix_policies()) {
      if (!s->applies(d, p)) continue;
      const Outcome want = s->expected_unscripted(d, p);
      SCOPED_TRACE(std::string(to_string(d)) + "/" + to_string(p) + " predicts " + to_string(want));
      ExploreOptions o;
      o.scenario = s;
      o.design = d;
      o.policy = p;
      if (want == Outcome::ok) {
        o.seeds = kSeedsPerCell;
        const ExploreResult r = explore(o).value();
        EXPECT_EQ(r.failed, 0u) << "run " << r.first_failure->index << " seed " << r.first_failure->seed << ": "
                                << to_string(r.first_failure->outcome) << ": " << r.first_failure->reason;
      } else {
        o.seeds = kSearchBudget;
        o.stop_at_first_failure = true;
        o.stop_on = want;
        const ExploreResult r = explore(o).value();
        EXPECT_GT(r.count(want), 0u) << "not found in " << r.runs << " schedules";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BoundedExploration,
                         // Every registered scenario: a new one is explored without editing this list.
                         ::testing::ValuesIn(registered_scenario_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace guplab
