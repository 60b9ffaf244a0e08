// sim_rcu.h - RCU grace periods and callbacks of the sim backend (bookkeeping only).
//
// A grace period that starts now must wait for exactly the tasks that are inside a
// read-side section now: it takes a snapshot of them with their count of outermost
// exits, and it is over once each has left (its exit count moved) or ended. A task may
// be switched out inside its section; that is what lets the sim find RCU bugs. A
// call_rcu() callback gets its snapshot when queued; callbacks become ready in queue
// order (a later snapshot being over implies every earlier one is), and rcu_barrier()
// waits until as many callbacks have run as were queued when it was called.
// The scheduler does the parking and runs the callbacks (in its rcu kthread); this class
// only answers "is it over yet".
//
// Threading: single-threaded, owned by one run.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

#include "base/rcu.h"
#include "sim/options.h"

namespace guplab {

class SimRcu {
 public:
  struct Reader {
    SimChoice id;
    uint64_t exits;  // the reader's exit count when the grace period started
  };
  using Snapshot = std::vector<Reader>;

  /** add_task() - task @id exists. REQUIRES: ids are added as 0, 1, 2, ... */
  void add_task(SimChoice id);
  /** task_ended() - @id ended; it can hold up no grace period any more. */
  void task_ended(SimChoice id);
  /** enter() / exit() - outermost rcu_read_lock() / rcu_read_unlock() of @id. */
  void enter(SimChoice id);
  void exit(SimChoice id);
  bool reading(SimChoice id) const { return tasks_.at(id).reading; }
  size_t nr_reading() const { return nr_reading_; }

  /** snapshot() - the tasks a grace period starting now must wait for. */
  Snapshot snapshot() const;
  /** complete() - is the grace period that took @s over? */
  bool complete(const Snapshot& s) const;

  /** enqueue() - queue a call_rcu() callback behind a grace period starting now. */
  void enqueue(rcu_head* head);
  /** pop_ready() - the oldest queued callback whose grace period is over, or null. */
  rcu_head* pop_ready();
  /** callback_done() - the callback from pop_ready() has run. */
  void callback_done() { done_++; }
  bool has_ready() const { return !pending_.empty() && complete(pending_.front().snap); }
  bool empty() const { return pending_.empty(); }
  /** Callbacks queued / run since the run started (rcu_barrier targets). */
  uint64_t queued() const { return queued_; }
  uint64_t done() const { return done_; }

 private:
  struct TaskState {
    bool reading = false;
    bool ended = false;
    uint64_t exits = 0;
  };
  struct Pending {
    rcu_head* head;
    Snapshot snap;
  };
  std::vector<TaskState> tasks_;
  size_t nr_reading_ = 0;
  std::deque<Pending> pending_;
  uint64_t queued_ = 0;
  uint64_t done_ = 0;
};

}  // namespace guplab
