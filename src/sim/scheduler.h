// scheduler.h - SimScheduler: the deterministic backend of base/ (DESIGN decision 3).
//
// run() makes the calling OS thread the only CPU of a machine: the first task and every
// task it spawns run as fibers (sim/fiber.h) on that thread, and at every scheduling
// point of base/ the running fiber asks the run's strategy (sim/strategy.h) who runs
// next. Blocking is parking: a futex wait parks the fiber on the word's address, a sleep
// on a virtual-time timer, a join on the target task, synchronize_rcu() on a grace
// period (sim/sim_rcu.h). A switch at a scheduling point goes straight from fiber to
// fiber (Fiber::switch_to()); a fiber that blocks or ends returns to the run loop, which
// picks the next. When nothing is runnable, virtual time jumps to the next
// timer; with no timer either, the run is a deadlock, and its result carries the
// wait-for picture. call_rcu() callbacks run in an "rcuop/0" kthread fiber of the run.
//
// A run ends when every task has ended, or early on a deadlock, an oops (the machine
// halts), or the step limit. Ending early unwinds every remaining fiber: each is resumed
// in task order and its pending wait throws MachineHalted, which run_task_body() catches,
// so every stack is released and every destructor has run when run() returns. While
// unwinding, scheduling points do not switch, except a yield (cond_resched()): a task
// polling there for another hands the thread to the next task in task order once, and
// throws MachineHalted if it is back before any task has ended (unwind_yield()). A task
// that loops forever with neither a block nor a yield cannot be unwound (the process
// aborts with a message after max_steps more).
//
// The same (seed, options) give the same run: tasks are numbered in creation order,
// choices name tasks by number, and nothing depends on addresses or host time. The run's
// choices are recorded in its result; SimOptions::replay_of() replays them. Under
// SimOptions::quiet_harness the points before setup_done() and after teardown_begin() make
// no choice (round robin).
//
// Tasks spawned in a run must be joined (task_join) within it or are freed when it ends.
// A task that a run's task joined must not be used afterwards (task_join freed it).
//
// Threading: one OS thread. run() installs this scheduler as the thread's SimHooks for
// the run's duration; every hook is called from a fiber of the run. Not re-entrant.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/bug.h"
#include "base/sched.h"
#include "base/task.h"
#include "sim/faults.h"
#include "sim/fiber.h"
#include "sim/options.h"
#include "sim/result.h"
#include "sim/sim_rcu.h"
#include "sim/stack_pool.h"
#include "sim/strategy.h"

namespace guplab {

class SimEventSink;
enum class SimEventKind : uint8_t;

class SimScheduler final : public SimHooks {
 public:
  /** Makes the TaskInit of a task the scheduler creates itself (its rcu kthread). */
  using TaskFactory = std::function<TaskInit(const std::string& comm)>;

  explicit SimScheduler(TaskFactory new_task);
  ~SimScheduler() override;
  SimScheduler(const SimScheduler&) = delete;
  SimScheduler& operator=(const SimScheduler&) = delete;

  /**
   * share_stacks() - take fiber stacks from @pool (not owned; null: keep our own), so
   * that schedulers of machines booted one after another reuse them. REQUIRES: not in a
   * run; @pool outlives this scheduler's runs.
   */
  void share_stacks(StackPool* pool) {
    GUPLAB_CHECK(!in_run_);
    if (pool) stacks_ = pool;
  }
  /**
   * run() - run @fn as the task @init, and every task it spawns, until all have ended
   * or the run stops early (deadlock, @halt->halted(), step limit).
   * @halt: the machine whose oops ends the run (may be null).
   * Returns the run's result (also result() until the next run).
   * REQUIRES: not called from inside a run of this scheduler.
   */
  const SimRunResult& run(const SimOptions& opts, uint64_t seed, const BugSink* halt,
                          const TaskInit& init, const std::function<void()>& fn);
  const SimRunResult& result() const { return result_; }
  /** now() - virtual time; it keeps going up across runs of this scheduler. */
  uint64_t now() const { return now_; }
  bool in_run() const { return in_run_; }

  // SimHooks (sim/scheduler_hooks.cc).
  void point(SchedPoint why, const void* obj) override;
  void futex_wait(const void* key, const uint32_t* word, uint32_t expected,
                  const char* what) override;
  void futex_wait_until(const void* key, const uint32_t* word, uint32_t expected,
                        uint64_t deadline_ns, const char* what) override;
  void futex_wake(const void* key, int n) override;
  uint64_t now_ns() override { return now_; }
  void sleep_ns(uint64_t ns) override;
  void spawn(task_struct* task, std::function<void()> fn) override;
  void join(task_struct* task) override;
  void rcu_read_lock() override;
  void rcu_read_unlock() override;
  void synchronize_rcu() override;
  void call_rcu(rcu_head* head) override;
  void rcu_barrier() override;
  void sync_point(const char* name) override;
  bool buggify(const char* site) override;
  void buggify_arm(bool on) override;
  void setup_done() override;
  void teardown_begin() override;

 private:
  enum class State : uint8_t { runnable, blocked, done };
  enum class Wait : uint8_t { none, futex, sleep, join, rcu_gp, rcu_barrier, rcu_idle };
  using TimerMap = std::multimap<uint64_t, SimChoice>;

  /** One task of the run: its fiber and what it is doing. */
  struct SimTask {
    SimChoice id = 0;
    int pid = 0;
    std::string comm;
    task_struct* task = nullptr;             // null once joined (task_join frees it)
    std::unique_ptr<task_struct> owned;      // the first task and the rcu kthread
    bool rcu_kthread = false;
    bool joined = false;
    State state = State::runnable;
    std::function<void()> fn;  // the body, moved into the fiber when it starts
    std::unique_ptr<Fiber> fiber;
    // While blocked:
    Wait wait = Wait::none;
    const void* key = nullptr;  // futex word, or the joined task_struct
    SimChoice join_target = 0;
    const char* what = nullptr;
    bool has_timer = false;
    TimerMap::iterator timer;
    SimRcu::Snapshot gp;          // synchronize_rcu(): the readers it waits for
    uint64_t barrier_target = 0;  // rcu_barrier(): callbacks that must have run
    std::vector<SimChoice> joiners;
    bool unwind_yielded = false;  // handed the thread on at a yield since a task last ended
  };

  // Run loop and task states (sim/scheduler.cc).
  void reset_run(const SimOptions& opts, uint64_t seed, const BugSink* halt);
  void loop();
  void finish_run();
  SimTask* add_task(task_struct* task, std::unique_ptr<task_struct> owned,
                    std::function<void()> fn, bool rcu_kthread);
  void task_body(SimTask* t);
  void task_ended(SimTask* t);
  // Inlined into loop(), its only caller: every switch passes here.
  [[gnu::always_inline]] inline void resume(SimTask* t);
  /** switch_direct() - from the running @t straight to @n (no run loop): at a point, a block, a quiet yield. */
  void switch_direct(SimTask* t, SimTask* n);
  // The bookkeeping of a switch to @n (running, last ran, counted, traced, current), for
  // resume() and switch_direct() before their fiber switch.
  inline void enter(SimTask* n);
  SimTask* running() const {  // inline: every scheduling point asks
    GUPLAB_CHECK(running_ && "a sim hook was called outside a fiber of the run");
    return running_;
  }
  SimTask* choose();
  SimChoice quiet_next() const;
  void quiet_point(SimTask* t, SchedPoint why);
  SimTask* pick_unwind();
  /** wake_to_unwind() - @t (not done) is to run next while the run unwinds: runnable, traced. */
  SimTask* wake_to_unwind(SimTask* t);
  /** unwind_yield() - @t, unwinding, reached cond_resched(): let the next task unwind. */
  void unwind_yield(SimTask* t);
  void make_runnable(SimTask* t);
  void park(SimTask* t, Wait wait, const void* key, const char* what);
  void block(SimTask* t);
  /**
   * loop_must_pick() - would the run loop, were the running task to suspend now, do more
   * than choose a runnable task and resume it (unwind, notice a halt, go idle)? If not,
   * a task that stops (block(), a quiet yield) switches to the next task itself, and
   * every choice, event and count is what the loop would have made.
   */
  bool loop_must_pick() const { return unwinding_ || (halt_ && halt_->halted()) || runnable_.empty(); }
  void unpark(SimTask* t);
  void add_timer(SimTask* t, uint64_t deadline);
  void fire_due_timers();
  /** must_unwind() - unwinding, or start to because the machine halted (asked at every point). */
  bool must_unwind() {
    if (!unwinding_ && halt_ && halt_->halted()) [[unlikely]]
      unwind_halted();
    return unwinding_;
  }
  void unwind_halted();
  void begin_unwind(SimOutcome why);
  void record_deadlock();
  std::string wait_label(const SimTask* t) const;
  /** emit() - pass an event to the run's sink, if it has one (most runs do not). */
  void emit(SimEventKind k, const SimTask* t, const char* name = nullptr,
            const void* obj = nullptr, uint64_t arg = 0) {
    if (sink_) emit_to_sink(k, t, name, obj, arg);
  }
  void emit_to_sink(SimEventKind k, const SimTask* t, const char* name, const void* obj, uint64_t arg);

  // RCU glue (sim/scheduler_hooks.cc).
  void rcu_kthread_body(SimTask* self);
  void ensure_rcu_kthread();
  void recheck_rcu();
  void wake_barrier_waiters();
  void futex_wait_common(const void* key, const uint32_t* word, uint32_t expected,
                         uint64_t deadline_ns, const char* what);

  // Across runs.
  TaskFactory new_task_;
  std::unique_ptr<StackPool> own_stacks_;
  StackPool* stacks_ = nullptr;  // own_stacks_, or a pool shared through share_stacks()
  uint64_t now_ = 0;
  bool in_run_ = false;
  SimRunResult result_;

  // This run (reset_run()). Tasks are destroyed before the pool that holds their stacks.
  SimOptions opts_;
  const BugSink* halt_ = nullptr;
  SimEventSink* sink_ = nullptr;
  std::unique_ptr<SchedStrategy> strategy_;
  bool strategy_steps_ = true;  // strategy_->wants_steps(), asked once per run
  RandomWalk* random_walk_ = nullptr;  // strategy_ when it is the random walk: called directly
  std::unique_ptr<FaultInjector> faults_;
  SimRcu rcu_;
  std::vector<std::unique_ptr<SimTask>> tasks_;
  std::vector<SimChoice> runnable_;  // ascending ids; includes the running task
  // Waiters by futex key, FIFO. A key's queue stays (empty) once made, until the run ends:
  // a task parks and wakes many times on the same few keys, without an allocation each.
  // Tasks parked on a futex word, in the order they parked: a wake takes the first with
  // its key (FIFO per key). Few wait at once, so a scan beats a map's allocations.
  std::vector<SimChoice> futex_parked_;
  TimerMap timers_;
  std::vector<SimChoice> gp_waiters_;
  std::vector<SimChoice> barrier_waiters_;
  SimTask* running_ = nullptr;
  SimTask* next_ = nullptr;  // picked at a point, resumed by the loop
  SimTask* rcu_kthread_ = nullptr;
  bool rcu_kthread_exit_ = false;
  size_t live_ = 0;  // tasks not done, the rcu kthread not counted
  uint64_t steps_ = 0;
  bool quiet_ = false;      // SimOptions::quiet_harness: until setup_done(), after teardown_begin()
  bool tearing_down_ = false;  // teardown_begin() was called
  SimChoice last_ran_ = 0;  // the task resumed last (quiet_next()'s round robin)
  uint64_t unwind_steps_ = 0;
  bool unwinding_ = false;
  task_struct* outer_current_ = nullptr;
};

}  // namespace guplab
