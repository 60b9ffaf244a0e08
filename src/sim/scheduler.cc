// scheduler.cc - the sim run loop: tasks as fibers, parking, timers, deadlock, unwinding.
#include "sim/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "sim/event.h"
#include "base/bug.h"

namespace guplab {

namespace {
/** Installs a scheduler as the thread's backend for a run; restores what was there. */
class HooksScope {
 public:
  explicit HooksScope(SimHooks* h) : prev_hooks_(tls_sim_hooks), prev_current_(current()) {
    tls_sim_hooks = h;
  }
  ~HooksScope() {
    tls_sim_hooks = prev_hooks_;
    set_current(prev_current_);
  }
  HooksScope(const HooksScope&) = delete;
  HooksScope& operator=(const HooksScope&) = delete;

 private:
  SimHooks* prev_hooks_;
  task_struct* prev_current_;
};
}  // namespace

SimScheduler::SimScheduler(TaskFactory new_task) : new_task_(std::move(new_task)) {
  GUPLAB_CHECK(new_task_);
}

SimScheduler::~SimScheduler() { GUPLAB_CHECK(!in_run_ && tasks_.empty()); }

const SimRunResult& SimScheduler::run(const SimOptions& opts, uint64_t seed, const BugSink* halt,
                                      const TaskInit& init, const std::function<void()>& fn) {
  GUPLAB_CHECK(!in_run_ && "SimScheduler::run() is not re-entrant");
  GUPLAB_CHECK(opts.pct_depth >= 1 && opts.stack_size > 0);
  reset_run(opts, seed, halt);
  HooksScope hooks(this);
  outer_current_ = current();
  in_run_ = true;

  auto first = std::make_unique<task_struct>();
  task_struct_init(first.get(), init);
  task_struct* ft = first.get();
  add_task(ft, std::move(first), fn, false);
  loop();
  finish_run();
  in_run_ = false;
  return result_;
}

void SimScheduler::reset_run(const SimOptions& opts, uint64_t seed, const BugSink* halt) {
  opts_ = opts;
  halt_ = halt;
  sink_ = opts.sink;
  strategy_ = make_strategy(opts, seed);
  strategy_steps_ = strategy_->wants_steps();
  random_walk_ = dynamic_cast<RandomWalk*>(strategy_.get());
  faults_ = std::make_unique<FaultInjector>(seed, opts);
  rcu_ = SimRcu();
  if (!stacks_ || stacks_->stack_size() < opts.stack_size) {
    own_stacks_ = std::make_unique<StackPool>(opts.stack_size);
    stacks_ = own_stacks_.get();
  }
  runnable_.clear();
  futex_parked_.clear();
  timers_.clear();
  gp_waiters_.clear();
  barrier_waiters_.clear();
  running_ = next_ = rcu_kthread_ = nullptr;
  rcu_kthread_exit_ = false;
  quiet_ = opts.quiet_harness;
  tearing_down_ = false;
  last_ran_ = 0;
  live_ = 0;
  steps_ = unwind_steps_ = 0;
  unwinding_ = false;
  const size_t choices_seen = result_.choices.size();
  result_ = SimRunResult();
  result_.choices.reserve(choices_seen);  // runs of one explored cell are about as long
  result_.seed = seed;
  result_.strategy = opts.describe();
  result_.start_ns = now_;
}

void SimScheduler::loop() {
  for (;;) {
    SimTask* t = std::exchange(next_, nullptr);
    if (!t) t = unwinding_ ? pick_unwind() : choose();
    if (!t) {
      if (unwinding_) return;  // every task has unwound
      if (!timers_.empty()) {  // idle: jump to the next timer
        now_ = std::max(now_, timers_.begin()->first);
        fire_due_timers();
        continue;
      }
      if (live_ == 0) {
        if (!rcu_kthread_ || rcu_kthread_->state == State::done) return;  // completed
        if (rcu_kthread_->wait == Wait::rcu_idle) {  // let it drain and exit
          rcu_kthread_exit_ = true;
          unpark(rcu_kthread_);
          continue;
        }
      }
      record_deadlock();
      begin_unwind(SimOutcome::deadlock);
      continue;
    }
    resume(t);
    must_unwind();
  }
}

void SimScheduler::finish_run() {
  GUPLAB_CHECK(live_ == 0 && runnable_.empty());
  result_.steps = steps_;
  result_.tasks = tasks_.size();
  result_.end_ns = now_;
  result_.replay_diverged = strategy_->diverged();
  result_.spurious_wakeups = faults_->spurious_wakeups();
  result_.buggify_fired = faults_->buggify_fired();
  for (auto& t : tasks_) {
    GUPLAB_CHECK(t->state == State::done && t->fiber->finished());
    // A spawned task nobody joined (its joiner unwound first): free it as task_join would.
    if (!t->owned && !t->joined && t->task) delete t->task;
  }
  tasks_.clear();
}

SimScheduler::SimTask* SimScheduler::add_task(task_struct* task, std::unique_ptr<task_struct> owned,
                                              std::function<void()> fn, bool rcu_kthread) {
  GUPLAB_CHECK(tasks_.size() < std::numeric_limits<SimChoice>::max() && "too many tasks in one run");
  auto t = std::make_unique<SimTask>();
  t->id = static_cast<SimChoice>(tasks_.size());
  t->pid = task->pid;
  t->comm = task->comm;
  t->task = task;
  t->owned = std::move(owned);
  t->rcu_kthread = rcu_kthread;
  t->fn = std::move(fn);
  SimTask* raw = t.get();
  t->fiber = std::make_unique<Fiber>(stacks_, [this, raw] { task_body(raw); });
  task->backend = raw;
  tasks_.push_back(std::move(t));
  strategy_->on_task_created(raw->id);
  rcu_.add_task(raw->id);
  if (!rcu_kthread) live_++;
  make_runnable(raw);
  return raw;
}

void SimScheduler::task_body(SimTask* t) {
  emit(SimEventKind::task_start, t);
  {
    std::function<void()> fn = std::move(t->fn);
    if (t->rcu_kthread) {
      run_task_body(t->task, [this, t] { rcu_kthread_body(t); });
    } else {
      run_task_body(t->task, fn);
    }
  }
  task_ended(t);
}

void SimScheduler::task_ended(SimTask* t) {
  GUPLAB_CHECK(t == running_);
  emit(SimEventKind::task_end, t);
  t->state = State::done;
  runnable_.erase(std::find(runnable_.begin(), runnable_.end(), t->id));
  if (!t->rcu_kthread) live_--;
  if (unwinding_)  // progress: a task that polled may find what it waits for now
    for (auto& o : tasks_) o->unwind_yielded = false;
  for (SimChoice j : t->joiners) unpark(tasks_[j].get());
  t->joiners.clear();
  rcu_.task_ended(t->id);
  recheck_rcu();
}

inline void SimScheduler::enter(SimTask* n) {
  running_ = n;
  last_ran_ = n->id;
  result_.switches++;
  emit(SimEventKind::switch_to, n);
  set_current(n->task);
}

inline void SimScheduler::resume(SimTask* t) {
  GUPLAB_CHECK(t->state == State::runnable && !running_);
  enter(t);
  t->fiber->resume();
  set_current(outer_current_);
  running_ = nullptr;
}

void SimScheduler::switch_direct(SimTask* t, SimTask* n) {
  // What the run loop and resume() would do between the two fibers, without the loop.
  GUPLAB_CHECK(t == running_ && n->state == State::runnable);
  enter(n);
  t->fiber->switch_to(*n->fiber);
  // Running again: whoever switched here (the loop or another task) made t current.
}

SimScheduler::SimTask* SimScheduler::choose() {
  if (runnable_.empty()) return nullptr;
  if (runnable_.size() == 1) return tasks_[runnable_[0]].get();
  if (quiet_) return tasks_[quiet_next()].get();
  SimChoice id = random_walk_ ? random_walk_->pick(runnable_) : strategy_->pick(runnable_);
  result_.choices.push_back(id);
  GUPLAB_CHECK(id < tasks_.size());
  return tasks_[id].get();
}

SimChoice SimScheduler::quiet_next() const {
  // Round robin in task order: the first runnable task after the one that ran last.
  auto it = std::upper_bound(runnable_.begin(), runnable_.end(), last_ran_);
  return it != runnable_.end() ? *it : runnable_.front();
}

SimScheduler::SimTask* SimScheduler::pick_unwind() {
  // Ordinary tasks first, in task order; the rcu kthread last, to run what is queued.
  for (auto& up : tasks_) {
    SimTask* t = up.get();
    if (t->rcu_kthread || t->state == State::done) continue;
    return wake_to_unwind(t);
  }
  if (rcu_kthread_ && rcu_kthread_->state != State::done) {
    rcu_kthread_exit_ = true;
    if (rcu_kthread_->state == State::blocked) unpark(rcu_kthread_);
    return rcu_kthread_;
  }
  return nullptr;
}

SimScheduler::SimTask* SimScheduler::wake_to_unwind(SimTask* t) {
  if (t->state == State::blocked) unpark(t);
  emit(SimEventKind::abort_unwind, t);
  return t;
}

void SimScheduler::make_runnable(SimTask* t) {
  t->state = State::runnable;
  runnable_.insert(std::lower_bound(runnable_.begin(), runnable_.end(), t->id), t->id);
}

void SimScheduler::park(SimTask* t, Wait wait, const void* key, const char* what) {
  GUPLAB_CHECK(t->state == State::runnable && t->wait == Wait::none);
  t->wait = wait;
  t->key = key;
  t->what = what;
  if (wait == Wait::futex) futex_parked_.push_back(t->id);
}

void SimScheduler::block(SimTask* t) {
  GUPLAB_CHECK(t == running_ && t->wait != Wait::none);
  t->state = State::blocked;
  runnable_.erase(std::find(runnable_.begin(), runnable_.end(), t->id));
  emit(SimEventKind::block, t, t->what, t->key);
  if (loop_must_pick()) {
    t->fiber->suspend();
  } else {
    // What the run loop would do next: choose among the runnable tasks, switch to it.
    switch_direct(t, choose());
  }
  GUPLAB_CHECK(t->state == State::runnable && t->wait == Wait::none);
}

void SimScheduler::unpark(SimTask* t) {
  GUPLAB_CHECK(t->state == State::blocked);
  auto drop = [](std::vector<SimChoice>& v, SimChoice id) {
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
  };
  switch (t->wait) {
    case Wait::futex: {
      auto it = std::find(futex_parked_.begin(), futex_parked_.end(), t->id);
      GUPLAB_CHECK(it != futex_parked_.end());
      futex_parked_.erase(it);
      break;
    }
    case Wait::join: drop(tasks_[t->join_target]->joiners, t->id); break;
    case Wait::rcu_gp: drop(gp_waiters_, t->id); break;
    case Wait::rcu_barrier: drop(barrier_waiters_, t->id); break;
    case Wait::sleep:
    case Wait::rcu_idle:
    case Wait::none: break;
  }
  if (t->has_timer) {
    timers_.erase(t->timer);
    t->has_timer = false;
  }
  t->wait = Wait::none;
  t->key = nullptr;
  t->what = nullptr;
  make_runnable(t);
  emit(SimEventKind::wake, t, nullptr, nullptr, running_ ? static_cast<uint64_t>(running_->pid) : 0);
}

void SimScheduler::add_timer(SimTask* t, uint64_t deadline) {
  GUPLAB_CHECK(!t->has_timer);
  t->timer = timers_.emplace(deadline, t->id);
  t->has_timer = true;
}

void SimScheduler::fire_due_timers() {
  while (!timers_.empty() && timers_.begin()->first <= now_) unpark(tasks_[timers_.begin()->second].get());
}

void SimScheduler::unwind_halted() {
  emit(SimEventKind::halt, running_);
  begin_unwind(SimOutcome::halted);
}

void SimScheduler::begin_unwind(SimOutcome why) {
  if (unwinding_) return;
  unwinding_ = true;
  result_.outcome = why;
}

std::string SimScheduler::wait_label(const SimTask* t) const {
  switch (t->wait) {
    case Wait::futex: return t->what ? t->what : "futex";
    case Wait::join: {
      const SimTask* target = tasks_[t->join_target].get();
      return fmt::format("task_join of pid {} ({})", target->pid, target->comm);
    }
    case Wait::rcu_gp: {
      std::string s = "grace period; readers:";
      for (const SimRcu::Reader& r : t->gp)
        if (rcu_.reading(r.id)) s += fmt::format(" pid {} ({})", tasks_[r.id]->pid, tasks_[r.id]->comm);
      return s;
    }
    case Wait::rcu_barrier:
      return fmt::format("{} rcu callbacks to run", t->barrier_target - rcu_.done());
    case Wait::sleep: return "sleep";
    case Wait::rcu_idle: return "idle";
    case Wait::none: break;
  }
  return "?";
}

void SimScheduler::record_deadlock() {
  static constexpr const char* kKind[] = {"none", "futex", "sleep", "join", "synchronize_rcu",
                                          "rcu_barrier", "rcu_idle"};
  for (auto& up : tasks_) {
    const SimTask* t = up.get();
    if (t->state != State::blocked || t->wait == Wait::rcu_idle) continue;
    result_.blocked.push_back({t->pid, t->comm, kKind[static_cast<int>(t->wait)], wait_label(t),
                               reinterpret_cast<uintptr_t>(t->key)});
  }
  emit(SimEventKind::deadlock, nullptr, nullptr, nullptr, result_.blocked.size());
}

void SimScheduler::emit_to_sink(SimEventKind k, const SimTask* t, const char* name, const void* obj,
                                uint64_t arg) {
  SimEvent e;
  e.time_ns = now_;
  e.step = steps_;
  e.kind = k;
  e.pid = t ? t->pid : 0;
  e.comm = t ? t->comm.c_str() : "";
  e.name = name;
  e.obj = obj;
  e.arg = arg;
  sink_->on_event(e);
}

}  // namespace guplab
