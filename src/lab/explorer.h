// explorer.h - Explorer: run one scenario under many sim schedules and count outcomes.
//
// An exploration is (scenario, design, policy, strategy, base seed, N): run i of it
// (0 <= i < N) boots a fresh machine with seed explore_seed(base, i) and runs the
// scenario on the sim backend, by default unscripted, so only the scheduler orders its
// tasks. Every run is independent and deterministic: the seed printed for a failing
// run reproduces it exactly (run_scenario() with explore_params() of that seed). A shard K/N of an exploration runs the
// indices i with i % N == K, so N machines running shards 0..N-1 together run exactly
// the runs of the whole. Jobs are OS threads of this process, each running whole runs
// (a sim run lives on one thread); the figures do not depend on how many.
//
// "First failure" is the failing run with the lowest index, whatever the jobs did, so a
// stop-at-first-failure exploration gives the same answer with 1 job or 8.
//
// Threading: explore() blocks its caller; the progress callback is called from the
// caller's thread. Harness code: it starts host threads of its own (each machine is
// confined to one), which the model never does (DESIGN decision 3).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lab/result.h"
#include "lab/scenario.h"
#include "sim/options.h"

namespace guplab {

struct ExploreOptions {
  const Scenario* scenario = nullptr;
  PinDesign design = PinDesign::folio_pincount;
  WritebackPolicy policy = WritebackPolicy::skip;
  uint64_t seeds = 1000;      // N: runs in the whole exploration
  uint64_t base_seed = 1;
  SimStrategy strategy = SimStrategy::random;
  unsigned pct_depth = 3;
  uint64_t pct_steps = 0;     // PCT's k; 0: the steps of this cell's random-walk run with seed 0
  bool scripted = false;      // explore the scripted variant instead (its ordering holds)
  bool buggify = false;       // enable fault-injection sites (base/buggify.h)
  bool gup_retry = true;      // MachineConfig::gup_retry: false models GUP before seed 001
  double spurious_wakeup_p = 0.0;
  unsigned jobs = 1;
  unsigned shard = 0, shards = 1;  // this shard of shards. REQUIRES: shard < shards
  bool stop_at_first_failure = false;
  /** With stop_at_first_failure: stop at the first run with this outcome only (unset: any failure). */
  std::optional<Outcome> stop_on;
  /** Called every ~progress_every_ms with the runs done so far (null: never). */
  std::function<void(uint64_t done, uint64_t total, uint64_t failures)> progress;
  unsigned progress_every_ms = 250;
};

struct ExploreRun {
  uint64_t index = 0;
  uint64_t seed = 0;
  Outcome outcome = Outcome::ok;
  std::string reason;
  uint64_t steps = 0;
  uint64_t choices = 0;    // of those steps, where the scheduler chose among runnable tasks
  std::array<uint64_t, kSchedPointKinds> steps_by_kind{};  // the steps by SchedPoint kind
  uint64_t setup_steps = 0;  // points of the setup, not explored (SimOptions::quiet_harness)
  uint64_t teardown_steps = 0;  // points of the teardown, not explored (ScenarioContext::teardown())
  uint64_t faults = 0;     // buggify sites that fired
  bool explained = false;  // a lost update or a failed call in a run with injected faults
};

/**
 * explained_by_faults() - is @r's failure what an injected fault makes legitimate? An
 * I/O error loses data and an allocation failure fails a call, so with faults fired a
 * `lost` or a `warn` that is no kernel WARNING is not a bug; an oops, a deadlock, a
 * leak, a false negative or a torn page always is.
 */
bool explained_by_faults(const ScenarioResult& r);

struct ExploreResult {
  uint64_t runs = 0;                                    // runs done (of this shard)
  uint64_t total = 0;                                   // runs of this shard
  std::array<uint64_t, std::size(kAllOutcomes)> histogram{};  // by Outcome value
  std::optional<ExploreRun> first_failure;              // lowest index whose outcome is not ok
  std::vector<ExploreRun> failures;                     // the first few failing runs, by index
  std::array<std::optional<ExploreRun>, std::size(kAllOutcomes)> first_by_outcome;  // lowest index each
  uint64_t failed = 0;
  uint64_t explained = 0;                               // failed runs explained_by_faults()
  uint64_t unexplained() const { return failed - explained; }
  uint64_t steps = 0;                                   // scheduling points over every run
  uint64_t choices = 0;                                 // scheduler choices over every run
  std::array<uint64_t, kSchedPointKinds> steps_by_kind{};  // steps by SchedPoint kind
  uint64_t setup_steps = 0;                             // setup points over every run (not in steps)
  uint64_t teardown_steps = 0;                          // teardown points over every run (not in steps)
  uint64_t pct_steps = 0;                               // PCT's k as used
  double seconds = 0;                                   // wall time
  unsigned jobs = 1;
  double per_second() const { return seconds > 0 ? static_cast<double>(runs) / seconds : 0; }
  uint64_t count(Outcome o) const { return histogram[static_cast<size_t>(o)]; }
};

/** explore_seed() - the machine seed of run @index of an exploration from @base. */
uint64_t explore_seed(uint64_t base, uint64_t index);

/** explore_params() - the scenario parameters of one run with machine seed @seed. */
ScenarioParams explore_params(const ExploreOptions& o, uint64_t seed, uint64_t pct_steps);

/**
 * explore_pct_steps() - PCT's k for @o: o.pct_steps, or, when 0, the steps of the cell's
 * random-walk run with machine seed 0 (the same for every base seed and shard, so a
 * printed seed replays under PCT too). 1 when the strategy is not PCT.
 */
uint64_t explore_pct_steps(const ExploreOptions& o);

/**
 * explore() - run the shard's runs and count outcomes. Returns an Error (code -EINVAL,
 * a message naming what is wrong) on bad options: no scenario, a cell the scenario does
 * not run, a shard out of range, PCT with depth 0, or the replay strategy.
 */
Result<ExploreResult> explore(const ExploreOptions& o);

}  // namespace guplab
