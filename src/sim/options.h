// options.h - how a deterministic (sim) run is scheduled: strategy, limits, faults.
//
// The seed of a run is the Machine's (MachineConfig::seed); everything else about the
// run is here. With the same seed and the same options a run makes exactly the same
// choices. To replay a run, set strategy = replay and replay = that run's choices
// (SimOptions::replay_of()); the seed must be the same too (faults come from it).
//
// Threading: plain values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace guplab {

class SimEventSink;
struct SimRunResult;

/** Who runs next at a scheduling point. */
enum class SimStrategy : uint8_t {
  random,  // random walk: uniform among runnable tasks at every point
  pct,     // PCT (Burckhardt et al., ASPLOS 2010): priorities with d-1 change points
  replay,  // follow a recorded choice vector
};

const char* to_string(SimStrategy s);
std::optional<SimStrategy> parse_sim_strategy(std::string_view s);

/** One recorded choice: the run-local ordinal of the task picked (0 = the first task). */
using SimChoice = uint16_t;

#if defined(GUPLAB_ASAN) || defined(GUPLAB_TSAN)
inline constexpr size_t kDefaultFiberStack = 1024 * 1024;  // sanitizer frames are big
#else
inline constexpr size_t kDefaultFiberStack = 256 * 1024;
#endif

struct SimOptions {
  SimStrategy strategy = SimStrategy::random;
  /** PCT depth d: d-1 priority change points. REQUIRES: >= 1. */
  unsigned pct_depth = 3;
  /** PCT's estimate k of the run's length in steps (scheduling points). */
  uint64_t pct_steps = 1000;
  /** For strategy == replay: the choices to follow. */
  std::vector<SimChoice> replay;

  /** A run that reaches this many steps ends as SimOutcome::step_limit (and unwinds). */
  uint64_t max_steps = 10'000'000;
  /** Virtual time that passes at each scheduling point (traces stay readable). */
  uint64_t ns_per_step = 10;

  /** Probability that a futex wait returns at once (a spurious wakeup). */
  double spurious_wakeup_p = 0.0;
  /** Enable sim_buggify() sites: each is on for a run with buggify_site_p ... */
  bool buggify = false;
  double buggify_site_p = 0.25;
  /** ... and an enabled site fires with buggify_fire_p at each call. */
  double buggify_fire_p = 0.25;
  /** Sites may fire from the start of the run; false: only after sim_buggify_arm(true). */
  bool buggify_armed = true;
  /**
   * Until sim_setup_done(), and again from sim_teardown_begin() on, make no choices: at
   * a scheduling point the running task goes on (at an explicit yield, the next runnable
   * task in task order runs; when the running task blocks, the next one after it). The
   * strategy is not asked, nothing is recorded, and these points count as
   * SimRunResult::setup_steps and teardown_steps, not steps. For an exploration whose
   * setup and teardown no oracle depends on: every schedule shares one setup, the
   * schedules differ only where the scenario's tasks run, and the teardown after them
   * runs the one way the state they left gives.
   */
  bool quiet_harness = false;

  /** Stack of each fiber (a guard page below it). */
  size_t stack_size = kDefaultFiberStack;
  /** Receives every scheduler event of a run (not owned; may be null). */
  SimEventSink* sink = nullptr;

  /** replay_of() - these options, set to replay @r exactly (same seed required). */
  SimOptions replay_of(const SimRunResult& r) const;
  /** describe() - "random", "pct(d=3,k=1000)", "replay(n=42)". */
  std::string describe() const;
};

}  // namespace guplab
