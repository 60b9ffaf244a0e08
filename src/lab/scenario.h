// scenario.h - a Scenario sets a machine up, runs tasks on it, and checks the result
// with oracles (DESIGN decision 8).
//
// The runner boots a fresh Machine for each (design, policy, seed), runs the scenario's
// body as the machine's first task, and then applies the generic oracles (oops, WARN,
// pins leaked, deadlock) on top of what the scenario's own oracles reported (torn
// pages, lost updates, false negatives). A result carries the outcome, the reason in
// words, and the events that led to it.
//
// Threading: a Scenario object is immutable and shared; each run has its own Machine
// and ScenarioContext.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/raw_spinlock.h"
#include "base/thread_annotations.h"
#include "machine/config.h"
#include "machine/trace_sink.h"
#include "sim/options.h"
#include "sim/result.h"

namespace guplab {

class Machine;
struct mm_struct;
struct task_struct;

/** What a run ended with, worst first. */
enum class Outcome : uint8_t { oops, deadlock, corrupt, false_negative, torn, lost, leak, warn, ok };
inline constexpr Outcome kAllOutcomes[] = {Outcome::oops,   Outcome::deadlock, Outcome::corrupt,
                                           Outcome::false_negative, Outcome::torn, Outcome::lost,
                                           Outcome::leak,   Outcome::warn,     Outcome::ok};
const char* to_string(Outcome o);

/** How a scenario runs. */
struct ScenarioParams {
  PinDesign design = PinDesign::folio_pincount;
  WritebackPolicy policy = WritebackPolicy::skip;
  uint64_t seed = 1;
  bool scripted = true;           // the scenario orders its tasks through sync points (false: the
                                  // scheduler alone decides; the oracles still look at the points)
  Backend backend = Backend::native;
  bool trace = true;              // keep the recent-events ring for oops reports
  SimOptions sim;                 // sim backend: strategy, faults, limits, event sink (the
                                  // run's seed is `seed` above)
  TraceSink* trace_sink = nullptr;  // receives the machine's trace points (not owned)
  BootCache* boot_cache = nullptr;  // host mappings to reuse across runs on this thread (not owned)
  bool gup_retry = true;            // MachineConfig::gup_retry (--gup-retry on|off)
};

struct ScenarioResult {
  std::string scenario;
  ScenarioParams params;
  Outcome outcome = Outcome::ok;
  std::string reason;                  // the oracle's words
  std::vector<std::string> findings;   // every oracle that fired, "outcome: words"
  std::vector<std::string> events;     // recent events (from the oops, or the end of the run)
  std::string oops_report;             // the first oops, formatted as the kernel would
  std::string deadlock_report;         // sim backend: the wait-for picture of a deadlock
  int64_t pins_acquired = 0, pins_released = 0;
  uint64_t steps = 0;                  // scheduling decisions (sim backend)
  std::vector<SimChoice> choices;      // sim: the body run's choices (SimOptions::replay)
  std::array<uint64_t, kSchedPointKinds> steps_by_kind{};  // sim: the steps by SchedPoint kind
  uint64_t setup_steps = 0;            // sim, quiet_harness: points before the first spawn (not in steps)
  uint64_t teardown_steps = 0;         // sim, quiet_harness: points from ScenarioContext::teardown() on
  uint64_t buggify_fired = 0, spurious_wakeups = 0;  // sim: faults injected in the body run
};

/**
 * ScenarioContext - what a running scenario works with: its machine, the tasks it
 * spawned, the objects that must outlive them, and the oracles' findings.
 *
 * Threading: found()/note()/findings() from any task (findings are under a lock);
 * spawn()/join()/make() from the scenario's body only.
 */
class ScenarioContext {
 public:
  ScenarioContext(Machine& m, const ScenarioParams& p) : m_(m), p_(p) {}
  /** Destroys what make() built, newest first (after every task has ended). */
  ~ScenarioContext();
  ScenarioContext(const ScenarioContext&) = delete;
  ScenarioContext& operator=(const ScenarioContext&) = delete;

  Machine& machine() { return m_; }
  const ScenarioParams& params() const { return p_; }
  /**
   * found() - an oracle saw @o; the worst finding wins. Outcome::ok records what an
   * oracle checked and found right, so that a clean cell is explained too.
   */
  void found(Outcome o, std::string why);
  /** note() - add a line ("comm-pid: line") to the machine's recent-events ring. */
  void note(std::string_view line);
  /** findings() - a copy of every finding so far, in order. */
  std::vector<std::pair<Outcome, std::string>> findings() const;

  /**
   * spawn() - start a task of the scenario on the machine. The runner joins any task
   * the body has not joined when the body ends (normally or by an oops), so objects the
   * task uses may live in make() storage or on the body's stack above the spawn.
   */
  task_struct* spawn(const std::string& comm, std::function<void()> fn, mm_struct* mm = nullptr);
  /** join() - wait for a task from spawn(). REQUIRES: not joined before. */
  void join(task_struct* t);
  /** join_all() - join every task not joined yet; an unwinding join is skipped, not thrown. */
  void join_all() noexcept;
  /**
   * teardown() - the scenario's tasks are over and the body's checks of what they did
   * are done; what follows (unmap, close, unmount, the count of free frames) is the
   * lab's teardown, run without choices under the explorer (sim_teardown_begin()), as
   * the setup is. REQUIRES: every spawned task joined; no spawn() afterwards.
   */
  void teardown();

  /**
   * make() - build a T that lives until the run is over (after every task has ended,
   * before the machine goes). Returns it.
   */
  template <typename T, typename... Args>
  T* make(Args&&... args) {
    auto owned = std::make_shared<T>(std::forward<Args>(args)...);
    T* raw = owned.get();
    objects_.push_back(std::move(owned));
    return raw;
  }

 private:
  Machine& m_;
  const ScenarioParams& p_;
  mutable RawSpinlock lock_;
  std::vector<std::pair<Outcome, std::string>> findings_ GUARDED_BY(lock_);
  std::vector<task_struct*> tasks_;          // spawned, not yet joined (body only)
  bool torn_down_ = false;                   // teardown() was called (body only)
  std::vector<std::shared_ptr<void>> objects_;  // make(), destroyed newest first
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  /** config() - the machine to boot for @p (design and policy are filled in by the runner). */
  virtual MachineConfig config(const ScenarioParams& p) const;
  /** run() - the body, run as the machine's first task; spawn and join tasks inside. */
  virtual void run(ScenarioContext& ctx) const = 0;
  /** check() - scenario oracles after every task has finished (the machine is quiet). */
  virtual void check(ScenarioContext& ctx) const {}
  /** expected() - the outcome the design and the seeds predict, for the matrix verdicts. */
  virtual Outcome expected(PinDesign d, WritebackPolicy p) const = 0;
  /**
   * expected_unscripted() - the same for a run without the script, where the scheduler
   * alone orders the tasks: Outcome::ok means no schedule may fail; anything else is a
   * failure some schedules reach (an explorer should find it). By default the scripted
   * prediction; a scenario says where the two differ.
   */
  virtual Outcome expected_unscripted(PinDesign d, WritebackPolicy p) const { return expected(d, p); }
  /**
   * expected_for() / expected_unscripted_for() - the predictions for the whole of @p
   * (design, policy and boot options such as gup_retry): what run, explore, demo and
   * the matrix compare against. By default expected(p.design, p.policy) and
   * expected_unscripted(p.design, p.policy); a scenario whose outcome depends on a boot
   * option overrides these.
   */
  virtual Outcome expected_for(const ScenarioParams& p) const { return expected(p.design, p.policy); }
  virtual Outcome expected_unscripted_for(const ScenarioParams& p) const {
    return expected_unscripted(p.design, p.policy);
  }
  /**
   * applies() - does the scenario run under design @d with policy @p? True for every
   * pair by default. A false cell is not run: the matrix prints it as n/a (and counts it
   * as expected), and `guplab run` / `guplab explore` refuse the pair with a message and
   * exit status 2.
   */
  virtual bool applies(PinDesign d, WritebackPolicy p) const { return true; }
};

/** run_scenario() - boot, run, apply every oracle. */
ScenarioResult run_scenario(const Scenario& s, const ScenarioParams& p);

/**
 * all_scenarios() - every registered scenario, in a stable order: guplab's own (the list
 * in lab/registry.cc), then those registered with register_scenario(), in registration
 * order.
 */
const std::vector<const Scenario*>& all_scenarios();
const Scenario* find_scenario(const std::string& name);
/**
 * register_scenario() - add @s (which lives for the rest of the process) to
 * all_scenarios(), so that `guplab run`/`explore`, the matrix and the test suite's
 * every-scenario checks see it. Returns 0, or -EEXIST if a scenario of that name is
 * registered already, -EINVAL for a null or nameless one.
 * REQUIRES: no other thread reads the registry: call it from a static initializer
 * (GUPLAB_REGISTER_SCENARIO) or from main() before any run. The registry is the list of
 * the program's scenarios, not machine state: it is the one process-wide table.
 */
int register_scenario(const Scenario* s);

/**
 * GUPLAB_REGISTER_SCENARIO(Type) - at namespace scope in the scenario's .cc: one static
 * instance of Type, registered before main(). An out-of-tree scenario needs nothing else
 * (link its object file into a program that calls guplab::tools::main_dispatch()).
 */
#define GUPLAB_REGISTER_SCENARIO(Type) GUPLAB_REGISTER_SCENARIO_AT(Type, __COUNTER__)
#define GUPLAB_REGISTER_SCENARIO_AT(Type, n) GUPLAB_REGISTER_SCENARIO_AT_(Type, n)
#define GUPLAB_REGISTER_SCENARIO_AT_(Type, n)                                  \
  namespace {                                                                  \
  const Type guplab_scenario_instance_##n;                                     \
  [[maybe_unused]] const int guplab_scenario_registered_##n =                  \
      ::guplab::register_scenario_or_die(&guplab_scenario_instance_##n);       \
  }
/** register_scenario_or_die() - register_scenario(), and exit(2) with a message on error. */
int register_scenario_or_die(const Scenario* s);

}  // namespace guplab
