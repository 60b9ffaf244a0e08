// task.cc - spawning and joining model tasks; current.
#include "base/task.h"

#include <cstdio>
#include <string>
#include <thread>

#include "base/futex.h"
#include "base/rcu.h"
#include "base/sched.h"
#include "base/bug.h"

namespace guplab {

void send_sig_kill(task_struct* t) {
  // Paired with futex_wait_killable(): the killer publishes the signal and then looks for
  // a sleep, the sleeper publishes its sleep and then looks for a signal (both seq_cst),
  // so one of them sees the other. A stale word only costs its waiters a spurious wakeup.
  t->fatal_signal.store(true, std::memory_order_seq_cst);
  if (std::atomic<uint32_t>* w = t->killable_wait.load(std::memory_order_seq_cst)) futex_wake(w, INT32_MAX);
}

constinit thread_local task_struct* tls_current = nullptr;

void task_struct_init(task_struct* t, const TaskInit& init) {
  t->pid = init.pid;
  t->comm = init.comm;
  t->machine = init.machine;
  t->bugs = init.bugs;
  t->mm = init.mm;
  t->rng.reseed(init.seed ^ (static_cast<uint64_t>(init.pid) << 32));
}

void run_task_body(task_struct* t, const std::function<void()>& fn) noexcept {
  try {
    fn();
  } catch (const MachineHalted&) {
    // The oops is already on the machine; the task just ends.
  } catch (const std::exception& e) {
    if (t->bugs) {
      BugReport r{"BUG", __FILE__, __LINE__, __func__, "uncaught exception", e.what(), false};
      t->bugs->record_oops(r);
    } else {
      std::fprintf(stderr, "guplab: task %s: uncaught exception: %s\n", t->comm.c_str(), e.what());
      std::abort();
    }
  }
  t->exited.store(1, std::memory_order_release);
}

task_struct* task_spawn(const TaskInit& init, std::function<void()> fn) {
  auto* t = new task_struct;
  task_struct_init(t, init);
  sched_point(SchedPoint::kSpawn, t);
  if (SimHooks* h = sim_hooks()) {
    h->spawn(t, std::move(fn));
    return t;
  }
  t->backend = new std::thread([t, fn = std::move(fn)] {
    set_current(t);
    rcu_register_thread_once();
    run_task_body(t, fn);
    rcu_unregister_thread_now();
    set_current(nullptr);
  });
  return t;
}

void task_join(task_struct* t) {
  GUPLAB_CHECK(t);
  if (SimHooks* h = sim_hooks()) {
    h->join(t);
  } else {
    auto* th = static_cast<std::thread*>(t->backend);
    th->join();
    delete th;
  }
  delete t;
}

TaskScope::TaskScope(const TaskInit& init) : prev_(current()) {
  task_struct_init(&task_, init);
  if (!sim_hooks()) task_.rcu_registered_here = rcu_register_thread_once();
  set_current(&task_);
}

TaskScope::~TaskScope() {
  if (task_.rcu_registered_here) rcu_unregister_thread_now();
  set_current(prev_);
}

}  // namespace guplab
