// result.h - what a sim run did: outcome, steps, virtual time, choices, deadlock picture.
//
// Threading: plain values, written by the scheduler during its run and read after.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/sched.h"
#include "sim/options.h"

namespace guplab {

enum class SimOutcome : uint8_t {
  completed,   // every task ended
  deadlock,    // every task blocked, no timer pending: see SimRunResult::blocked
  halted,      // a BUG (oops) halted the machine: see Machine::oopses()
  step_limit,  // more than SimOptions::max_steps scheduling points
};
const char* to_string(SimOutcome o);

/** How many SchedPoint kinds there are (the size of a per-kind step count). */
inline constexpr size_t kSchedPointKinds = static_cast<size_t>(SchedPoint::kSyncPoint) + 1;
/** to_string() - a SchedPoint kind's name in a step profile: "atomic_read", "lock", ... */
const char* to_string(SchedPoint why);

/** One blocked task in the wait-for picture of a deadlock. */
struct BlockedTask {
  int pid = 0;
  std::string comm;
  std::string kind;  // "futex", "join", "synchronize_rcu", "rcu_barrier"
  std::string what;  // the wait's label: a lock's name, "pid 3 (writer)", ...
  uintptr_t key = 0;  // the futex word's address (identity within this run only)
  bool operator==(const BlockedTask&) const = default;
};

struct SimRunResult {
  SimOutcome outcome = SimOutcome::completed;
  uint64_t seed = 0;
  std::string strategy;  // SimOptions::describe()
  uint64_t steps = 0;     // scheduling points passed
  /** The same points by kind (SchedPoint): they add up to steps. */
  std::array<uint64_t, kSchedPointKinds> steps_by_kind{};
  /** Points passed before sim_setup_done() under SimOptions::quiet_harness (not in steps). */
  uint64_t setup_steps = 0;
  /** Points passed after sim_teardown_begin() under SimOptions::quiet_harness (not in steps). */
  uint64_t teardown_steps = 0;
  uint64_t switches = 0;  // fiber switches
  uint64_t tasks = 0;     // fibers created (the first task and the rcu kthread included)
  uint64_t start_ns = 0;  // virtual time at start and end
  uint64_t end_ns = 0;
  /** The task picked at every point with more than one runnable task. */
  std::vector<SimChoice> choices;
  /** Set when a replay's choices did not fit the run (the run went on deterministically). */
  bool replay_diverged = false;
  uint64_t spurious_wakeups = 0;
  uint64_t buggify_fired = 0;
  /** Deadlock only: every blocked task, in task order. */
  std::vector<BlockedTask> blocked;

  bool ok() const { return outcome == SimOutcome::completed; }
  /** format() - a multi-line human report (outcome, counts, wait-for picture). */
  std::string format() const;
};

}  // namespace guplab
