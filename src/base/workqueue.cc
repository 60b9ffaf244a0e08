// workqueue.cc - one worker task draining a queue of items; flush by sequence numbers.
#include "base/workqueue.h"

#include <utility>

#include "base/preempt.h"

namespace guplab {

namespace {
bool task_halted(const task_struct* t) { return t && t->bugs && t->bugs->halted(); }
// The machine has oopsed: the caller's (if it is a task) or the worker's (the caller may
// be the host thread tearing the machine down).
bool machine_halted(const task_struct* worker = nullptr) { return task_halted(current()) || task_halted(worker); }
}  // namespace

workqueue_struct::workqueue_struct(std::string name) : name_(std::move(name)) {
  spin_lock_init(&lock_, "workqueue");
  init_waitqueue_head(&more_, "workqueue more");
  init_waitqueue_head(&idle_, "workqueue idle");
}

workqueue_struct::~workqueue_struct() {
  // The owner destroys (or abandons) it first: the worker runs the owner's code.
  WARN_ON(worker_.load(std::memory_order_acquire) != nullptr);
}

void workqueue_struct::start(const spawn_fn& spawn) {
  BUG_ON(worker_.load(std::memory_order_acquire) != nullptr);
  should_stop_.store(false, std::memory_order_release);
  worker_.store(spawn(name_, [this] { worker_loop(); }), std::memory_order_release);
}

void workqueue_struct::queue_work(std::function<void()> fn) {
  {
    SpinGuard g(&lock_);
    items_.push_back(std::move(fn));
    queued_.fetch_add(1, std::memory_order_release);
  }
  wake_up(&more_);
}

void workqueue_struct::worker_loop() {
  // However the worker ends (stopped, or unwound by an oops), flushers re-check.
  struct WakeFlushers {
    wait_queue_head_t* idle;
    ~WakeFlushers() { wake_up_all(idle); }
  } wake_flushers{&idle_};
  for (;;) {
    std::function<void()> fn;
    wait_event(&more_, [&] {
      SpinGuard g(&lock_);
      if (!items_.empty()) {
        fn = std::move(items_.front());
        items_.pop_front();
        return true;
      }
      return should_stop_.load(std::memory_order_acquire);
    });
    if (!fn) return;  // stopped, and nothing left
    BUG_ON(preempt_count() != 0);
    fn();
    done_.fetch_add(1, std::memory_order_release);
    wake_up_all(&idle_);
  }
}

void workqueue_struct::run_pending_here() {
  for (;;) {
    std::function<void()> fn;
    {
      SpinGuard g(&lock_);
      if (items_.empty()) return;
      fn = std::move(items_.front());
      items_.pop_front();
    }
    fn();
    done_.fetch_add(1, std::memory_order_release);
  }
}

void workqueue_struct::flush() {
  might_sleep();
  flushes_.fetch_add(1, std::memory_order_relaxed);
  task_struct* w = worker_.load(std::memory_order_acquire);
  BUG_ON(w && w == current());  // would wait for itself
  if (!w) {
    if (!machine_halted()) run_pending_here();
    return;
  }
  const uint64_t target = queued_.load(std::memory_order_acquire);
  // A halted machine's worker has ended or will: nothing more runs.
  wait_event(&idle_, [&] { return done_.load(std::memory_order_acquire) >= target || machine_halted(w); });
}

void workqueue_struct::destroy() {
  const bool halted = machine_halted(worker_.load(std::memory_order_acquire));
  if (worker_.load(std::memory_order_acquire)) {
    try {
      flush();
    } catch (const MachineHalted&) {
      // The machine oopsed: its waits throw, and the worker ends by itself.
    }
    should_stop_.store(true, std::memory_order_release);
    wake_up(&more_);
    if (task_struct* w = worker_.exchange(nullptr, std::memory_order_acq_rel)) task_join(w);
  }
  if (halted || machine_halted()) {
    SpinGuard g(&lock_);
    items_.clear();  // they would take locks dead tasks may hold
    return;
  }
  run_pending_here();  // queued after the flush, before the stop, or with no worker
}

void workqueue_struct::abandon() { worker_.store(nullptr, std::memory_order_release); }

uint64_t workqueue_struct::pending() const {
  return queued_.load(std::memory_order_acquire) - done_.load(std::memory_order_acquire);
}

workqueue_stats workqueue_struct::stats() const {
  workqueue_stats s;
  s.queued = queued_.load(std::memory_order_acquire);
  s.done = done_.load(std::memory_order_acquire);
  s.flushes = flushes_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace guplab
