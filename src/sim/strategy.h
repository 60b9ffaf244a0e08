// strategy.h - scheduling strategies of the sim backend: who runs at a point.
//
// The scheduler asks pick() only when more than one task is runnable, and records the
// answer, so a run is a seed plus a vector of choices. Tasks are named by their run-local
// ordinal (0 = the first task), never by address, so choices mean the same in every
// process. A strategy draws only from its own stream, seeded from the run's seed.
//
//   RandomWalk  uniform among the runnable tasks at every point.
//   Pct         Burckhardt et al., "A Randomized Scheduler with Probabilistic Guarantees
//               of Finding Bugs" (ASPLOS 2010): each task gets a random priority; d-1
//               change points k_1..k_{d-1} are drawn uniformly from [1, k]; the
//               highest-priority runnable task runs; when the running task passes a
//               change point its priority drops below every other task's. A bug of depth
//               d is found with probability >= 1/(n k^(d-1)). Steps are the scheduler's
//               points; k should estimate a run's length (a previous run's
//               SimRunResult::steps is a good value). As Coyote's and Shuttle's PCT (the
//               paper gives the i-th change point the fixed low value i instead), a task
//               that yields (cond_resched(), SchedPoint::kYield) drops below every other
//               task too: kernel code waits for another task by polling with
//               cond_resched() (filemap_get_folio() for a page reclaim has frozen), and
//               under strict priorities the poller would starve the task it waits for for
//               ever, a livelock no kernel scheduler produces.
//   Replay      follows a recorded choice vector; reports divergence.
//
// Threading: single-threaded, owned by one run.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "base/bug.h"
#include "base/random.h"
#include "base/sched.h"
#include "sim/options.h"

namespace guplab {

class SchedStrategy {
 public:
  virtual ~SchedStrategy() = default;
  /** on_task_created() - task @id (ids are 0, 1, 2, ... in creation order) exists. */
  virtual void on_task_created(SimChoice id) = 0;
  /** on_step() - the running task @id has reached scheduling point number @step, a @why. */
  virtual void on_step(SimChoice id, uint64_t step, SchedPoint why) {}
  /** wants_steps() - does on_step() do anything? (false: the scheduler skips the calls) */
  virtual bool wants_steps() const { return true; }
  /** pick() - choose among @runnable. REQUIRES: ascending ids, size() >= 2. */
  virtual SimChoice pick(std::span<const SimChoice> runnable) = 0;
  /** diverged() - a replay could not follow its record. */
  virtual bool diverged() const { return false; }
};

class RandomWalk final : public SchedStrategy {
 public:
  explicit RandomWalk(uint64_t seed) : rng_(seed) {}
  void on_task_created(SimChoice) override {}
  bool wants_steps() const override { return false; }
  // Inline: the scheduler calls it directly (not through the vtable) at every choice.
  SimChoice pick(std::span<const SimChoice> runnable) override {
    GUPLAB_CHECK(runnable.size() >= 2);
    return runnable[rng_.uniform(runnable.size())];
  }

 private:
  Random rng_;
};

class Pct final : public SchedStrategy {
 public:
  /** REQUIRES: depth >= 1, steps >= 1. */
  Pct(uint64_t seed, unsigned depth, uint64_t steps);
  void on_task_created(SimChoice id) override;
  void on_step(SimChoice id, uint64_t step, SchedPoint why) override;
  SimChoice pick(std::span<const SimChoice> runnable) override;

  // Initial priorities are at or above kInitialBand; each drop (a change point or a
  // yield) gives a value below it, lower than every drop before.
  static constexpr uint64_t kInitialBand = 1ull << 32;
  uint64_t priority(SimChoice id) const { return prio_.at(id); }
  /** The change points, ascending (for tests and traces). */
  const std::vector<uint64_t>& change_points() const { return change_steps_; }

 private:
  Random rng_;
  std::vector<uint64_t> prio_;          // by task id; higher runs first
  std::vector<uint64_t> change_steps_;  // the k_i in ascending order
  size_t next_change_ = 0;
  uint64_t next_low_ = kInitialBand - 1;  // the next drop's priority: below all so far
};

class Replay final : public SchedStrategy {
 public:
  explicit Replay(std::vector<SimChoice> choices) : choices_(std::move(choices)) {}
  void on_task_created(SimChoice) override {}
  bool wants_steps() const override { return false; }
  SimChoice pick(std::span<const SimChoice> runnable) override;
  bool diverged() const override { return diverged_; }
  size_t consumed() const { return pos_; }

 private:
  std::vector<SimChoice> choices_;
  size_t pos_ = 0;
  bool diverged_ = false;
};

/** make_strategy() - the strategy @opts names, seeded from the run's @seed. */
std::unique_ptr<SchedStrategy> make_strategy(const SimOptions& opts, uint64_t seed);

}  // namespace guplab
