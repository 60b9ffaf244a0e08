// workqueue.h - a work queue served by one worker task (the kernel's workqueue with a
// single kworker): work queued from any context, interrupt context included, runs later
// in process context, in the order it was queued.
//
// queue_work() never sleeps (a spinlock and a wake-up), so a bio's bi_end_io may call
// it. The worker runs each item with preempt_count 0, so it may take sleeping locks.
// flush() waits until every item queued before it has run; destroy() flushes, stops the
// worker and joins it. Items queued while no worker runs (before start(), after the
// machine oopsed) are run by flush()/destroy() in the caller, or dropped if the machine
// has oopsed (its tasks are unwinding; nothing they left can be trusted).
//
// Threading: queue_work() from any task; flush() and destroy() from process context
// (they sleep), never from the worker itself; start() and destroy() by the owner only.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "base/spinlock.h"
#include "base/task.h"
#include "base/wait.h"

namespace guplab {

/** workqueue_stats - what a workqueue did (tests, the fio command). */
struct workqueue_stats {
  uint64_t queued = 0;  // items queued
  uint64_t done = 0;    // items run
  uint64_t flushes = 0;
};

class workqueue_struct {
 public:
  /** @name: the worker task's comm, e.g. "kworker/ram0". */
  explicit workqueue_struct(std::string name);
  ~workqueue_struct();
  workqueue_struct(const workqueue_struct&) = delete;
  workqueue_struct& operator=(const workqueue_struct&) = delete;

  using spawn_fn = std::function<task_struct*(const std::string& comm, std::function<void()> body)>;
  /**
   * start() - spawn the worker through @spawn (e.g. Machine::spawn()).
   * REQUIRES: not started, or destroyed since.
   */
  void start(const spawn_fn& spawn);
  /** queue_work() - run @fn later in the worker. Never sleeps. */
  void queue_work(std::function<void()> fn);
  /**
   * flush() - wait until everything queued before this call has run (or run it here if
   * no worker runs). REQUIRES: process context; not the worker.
   */
  void flush();
  /** destroy() - flush, stop the worker and join it. Idempotent. REQUIRES: as flush(). */
  void destroy();
  /**
   * abandon() - the worker is gone without a join (a sim run ended, or the machine
   * oopsed): forget it; queued items stay for a later flush().
   */
  void abandon();
  /** pending() - items queued and not run yet. */
  uint64_t pending() const;
  workqueue_stats stats() const;
  const std::string& name() const { return name_; }

 private:
  void worker_loop();
  /** run_pending_here() - run every queued item in the caller (no worker). */
  void run_pending_here();

  const std::string name_;
  mutable spinlock_t lock_;
  std::deque<std::function<void()>> items_ GUARDED_BY(lock_);
  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> flushes_{0};
  std::atomic<bool> should_stop_{false};
  std::atomic<task_struct*> worker_{nullptr};
  wait_queue_head_t more_;  // the worker sleeps here for work
  wait_queue_head_t idle_;  // flushers sleep here for done_ to catch up
};

}  // namespace guplab
