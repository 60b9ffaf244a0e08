// scheduler_hooks.cc - SimScheduler's side of the base/ seam: what each SimHooks call does
// to the running fiber (switch, park, wake, time), and the RCU kthread.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>

#include "base/bug.h"
#include "sim/event.h"
#include "sim/scheduler.h"

namespace guplab {

namespace {
constexpr uint64_t kNoDeadline = std::numeric_limits<uint64_t>::max();
}  // namespace

void SimScheduler::point(SchedPoint why, const void* obj) {
  SimTask* t = running();
  if (unwinding_) {
    // No switching while unwinding: each task runs on until it ends or blocks (and
    // throws), or polls at a yield (unwind_yield()).
    if (++unwind_steps_ > opts_.max_steps) {
      std::fprintf(stderr, "guplab sim: task %d (%s) does not unwind: it loops without blocking\n",
                   t->pid, t->comm.c_str());
      std::abort();
    }
    if (why == SchedPoint::kYield) unwind_yield(t);
    return;
  }
  if (quiet_) {
    quiet_point(t, why);
    return;
  }
  steps_++;
  result_.steps_by_kind[static_cast<size_t>(why)]++;
  now_ += opts_.ns_per_step;
  if (strategy_steps_) strategy_->on_step(t->id, steps_, why);
  if (must_unwind()) return;
  if (steps_ >= opts_.max_steps) {
    begin_unwind(SimOutcome::step_limit);
    return;
  }
  if (!timers_.empty()) fire_due_timers();
  SimTask* n = choose();
  if (n != t) switch_direct(t, n);
}

void SimScheduler::quiet_point(SimTask* t, SchedPoint why) {
  (tearing_down_ ? result_.teardown_steps : result_.setup_steps)++;
  now_ += opts_.ns_per_step;
  if (must_unwind()) return;
  if (steps_ + result_.setup_steps + result_.teardown_steps >= opts_.max_steps) {
    begin_unwind(SimOutcome::step_limit);
    return;
  }
  if (!timers_.empty()) fire_due_timers();
  // The running task goes on, but lets the others run where it asks to (cond_resched()).
  if (why != SchedPoint::kYield || runnable_.size() < 2) return;
  // With two or more runnable, the round robin's next task is never the running one;
  // the run loop would resume it at once (must_unwind() just said no), so switch to it.
  SimTask* n = tasks_[quiet_next()].get();
  GUPLAB_CHECK(n != t);
  switch_direct(t, n);
}

void SimScheduler::unwind_yield(SimTask* t) {
  // A task that waits for another by polling (a retry loop with cond_resched(), as
  // filemap_get_folio() waits for reclaim to let go of a frozen page) would spin here
  // for ever if nothing else ran: the next ordinary task after it in task order unwinds
  // first (blocked, it is woken to unwind, as pick_unwind() does), and this one stays
  // runnable. If it is back here before any task has ended since it handed on, the
  // others are polling too, or none is left: what it waits for can never come.
  // cond_resched() may sleep, and a task that would sleep while the run unwinds throws
  // MachineHalted, as every wait does (unless it is already unwinding an exception, in
  // which case it spins on to the abort above).
  if (!t->unwind_yielded) {
    const size_t n = tasks_.size();
    for (size_t i = 1; i < n; i++) {
      SimTask* o = tasks_[(t->id + i) % n].get();
      if (o->rcu_kthread || o->state == State::done) continue;
      t->unwind_yielded = true;
      next_ = wake_to_unwind(o);
      t->fiber->suspend();
      return;
    }
  }
  if (std::uncaught_exceptions() == 0) throw MachineHalted();
}

void SimScheduler::futex_wait(const void* key, const uint32_t* word, uint32_t expected,
                              const char* what) {
  futex_wait_common(key, word, expected, kNoDeadline, what);
}

void SimScheduler::futex_wait_until(const void* key, const uint32_t* word, uint32_t expected,
                                    uint64_t deadline_ns, const char* what) {
  futex_wait_common(key, word, expected, deadline_ns, what);
}

void SimScheduler::futex_wait_common(const void* key, const uint32_t* word, uint32_t expected,
                                     uint64_t deadline_ns, const char* what) {
  SimTask* t = running();
  if (must_unwind()) throw MachineHalted();
  // Nothing runs between this check and the park: the fibers share one thread.
  if (__atomic_load_n(word, __ATOMIC_RELAXED) != expected) return;
  if (deadline_ns <= now_) return;
  if (faults_->spurious_wakeup()) {
    emit(SimEventKind::spurious_wakeup, t, what, key);
    point(SchedPoint::kWait, key);
    return;
  }
  park(t, Wait::futex, key, what);
  if (deadline_ns != kNoDeadline) add_timer(t, deadline_ns);
  block(t);
  if (unwinding_) throw MachineHalted();
}

void SimScheduler::futex_wake(const void* key, int n) {
  (void)running();
  while (n-- > 0) {
    auto it = std::find_if(futex_parked_.begin(), futex_parked_.end(),
                           [&](SimChoice id) { return tasks_[id]->key == key; });
    if (it == futex_parked_.end()) return;
    unpark(tasks_[*it].get());  // the first to park on @key: FIFO
  }
}

void SimScheduler::sleep_ns(uint64_t ns) {
  SimTask* t = running();
  if (must_unwind()) throw MachineHalted();
  if (ns == 0) {
    point(SchedPoint::kYield, nullptr);
    return;
  }
  const uint64_t deadline = ns > kNoDeadline - now_ ? kNoDeadline - 1 : now_ + ns;
  park(t, Wait::sleep, nullptr, "sleep");
  add_timer(t, deadline);
  emit(SimEventKind::sleep, t, nullptr, nullptr, deadline);
  block(t);
  if (unwinding_) throw MachineHalted();
}

void SimScheduler::spawn(task_struct* task, std::function<void()> fn) {
  (void)running();
  GUPLAB_CHECK(task && fn);
  add_task(task, nullptr, std::move(fn), false);
}

void SimScheduler::join(task_struct* task) {
  SimTask* t = running();
  GUPLAB_CHECK(task && task->backend);
  SimTask* target = static_cast<SimTask*>(task->backend);
  GUPLAB_CHECK(target->id < tasks_.size() && tasks_[target->id].get() == target && "not a task of this run");
  GUPLAB_CHECK(!target->joined && !target->owned);
  if (target->state != State::done) {
    if (must_unwind()) throw MachineHalted();
    park(t, Wait::join, task, "task_join");
    t->join_target = target->id;
    target->joiners.push_back(t->id);
    block(t);
    if (target->state != State::done) throw MachineHalted();  // unwinding
  }
  target->joined = true;
  target->task = nullptr;  // task_join() frees it now
}

void SimScheduler::rcu_read_lock() {
  SimTask* t = running();
  if (t->task->rcu_nesting++ == 0) rcu_.enter(t->id);
  point(SchedPoint::kRcu, nullptr);
}

void SimScheduler::rcu_read_unlock() {
  SimTask* t = running();
  point(SchedPoint::kRcu, nullptr);
  if (WARN_ON_ONCE(t->task->rcu_nesting <= 0)) return;  // unbalanced unlock
  if (--t->task->rcu_nesting == 0) {
    rcu_.exit(t->id);
    recheck_rcu();
  }
}

void SimScheduler::synchronize_rcu() {
  SimTask* t = running();
  if (must_unwind()) throw MachineHalted();
  // Waiting inside a read-side section would wait for itself: the kernel's RCU splats.
  if (WARN_ON_ONCE(t->task->rcu_nesting > 0)) return;
  point(SchedPoint::kRcu, nullptr);
  if (unwinding_) throw MachineHalted();
  SimRcu::Snapshot snap = rcu_.snapshot();
  if (rcu_.complete(snap)) return;
  emit(SimEventKind::rcu_gp_wait, t, nullptr, nullptr, snap.size());
  t->gp = std::move(snap);
  park(t, Wait::rcu_gp, nullptr, "synchronize_rcu");
  gp_waiters_.push_back(t->id);
  block(t);
  const bool over = rcu_.complete(t->gp);
  t->gp.clear();
  if (!over) throw MachineHalted();  // unwinding
}

void SimScheduler::call_rcu(rcu_head* head) {
  (void)running();
  point(SchedPoint::kRcu, head);
  rcu_.enqueue(head);
  ensure_rcu_kthread();
  recheck_rcu();
}

void SimScheduler::rcu_barrier() {
  SimTask* t = running();
  if (must_unwind()) throw MachineHalted();
  point(SchedPoint::kRcu, nullptr);
  const uint64_t target = rcu_.queued();
  if (rcu_.done() >= target) return;
  if (unwinding_) throw MachineHalted();
  ensure_rcu_kthread();
  t->barrier_target = target;
  park(t, Wait::rcu_barrier, nullptr, "rcu_barrier");
  barrier_waiters_.push_back(t->id);
  block(t);
  if (rcu_.done() < target) throw MachineHalted();  // unwinding
}

void SimScheduler::sync_point(const char* name) {
  emit(SimEventKind::sync_point, running(), name);
  point(SchedPoint::kSyncPoint, name);
}

bool SimScheduler::buggify(const char* site) {
  SimTask* t = running();
  if (!faults_->buggify(site)) return false;
  emit(SimEventKind::buggify, t, site);
  return true;
}

void SimScheduler::buggify_arm(bool on) { faults_->arm(on); }

void SimScheduler::setup_done() {
  if (!tearing_down_) quiet_ = false;
}

void SimScheduler::teardown_begin() {
  tearing_down_ = true;
  if (opts_.quiet_harness) quiet_ = true;
}

// The rcu kthread ("rcuop/0", as the kernel's callback-offload threads): runs callbacks
// whose grace period is over, in queue order, and exits when the run has nothing else.
void SimScheduler::rcu_kthread_body(SimTask* self) {
  for (;;) {
    while (rcu_head* h = rcu_.pop_ready()) {
      emit(SimEventKind::rcu_callback, self, nullptr, h);
      try {
        h->func(h);
      } catch (const MachineHalted&) {
        // The machine halted under the callback; the run is unwinding. Go on draining.
      }
      rcu_.callback_done();
      wake_barrier_waiters();
      point(SchedPoint::kRcu, nullptr);
    }
    if (rcu_kthread_exit_ && rcu_.empty()) return;
    park(self, Wait::rcu_idle, nullptr, "rcu callbacks");
    block(self);
  }
}

void SimScheduler::ensure_rcu_kthread() {
  if (rcu_kthread_ && rcu_kthread_->state != State::done) return;
  auto owned = std::make_unique<task_struct>();
  task_struct_init(owned.get(), new_task_("rcuop/0"));
  task_struct* raw = owned.get();
  rcu_kthread_exit_ = false;
  rcu_kthread_ = add_task(raw, std::move(owned), nullptr, true);
}

void SimScheduler::recheck_rcu() {
  for (size_t i = 0; i < gp_waiters_.size();) {
    SimTask* w = tasks_[gp_waiters_[i]].get();
    if (rcu_.complete(w->gp)) {
      unpark(w);  // removes it from gp_waiters_
    } else {
      i++;
    }
  }
  if (rcu_kthread_ && rcu_kthread_->state == State::blocked && rcu_kthread_->wait == Wait::rcu_idle &&
      rcu_.has_ready())
    unpark(rcu_kthread_);
}

void SimScheduler::wake_barrier_waiters() {
  for (size_t i = 0; i < barrier_waiters_.size();) {
    SimTask* w = tasks_[barrier_waiters_[i]].get();
    if (rcu_.done() >= w->barrier_target) {
      unpark(w);  // removes it from barrier_waiters_
    } else {
      i++;
    }
  }
}

}  // namespace guplab
