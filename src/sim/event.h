// event.h - the per-run event stream of the sim scheduler, for trace writers.
//
// A SimEventSink set in SimOptions::sink receives every scheduler event of a run, in
// order, stamped with virtual time, step and task: a trace writer turns them into
// Chrome/Perfetto JSON or ftrace-style text. The scheduler only calls the sink when one
// is set, so an unset sink costs one branch per event.
//
// Threading: events are delivered on the run's OS thread, from inside fibers or from the
// scheduler; a sink must not call back into the scheduler (no locks, no sleeping).
#pragma once
#include <cstdint>

namespace guplab {

enum class SimEventKind : uint8_t {
  task_start,      // a fiber begins its body
  task_end,        // a fiber's body returned (or unwound)
  switch_to,       // the scheduler resumes this task
  block,           // the task parks; name = the wait's label, obj = its key
  wake,            // the task becomes runnable; arg = pid of the waker (0: timer/scheduler)
  sleep,           // sleep_ns; arg = the deadline
  sync_point,      // a named sync point; name = its name
  rcu_gp_wait,     // synchronize_rcu() must wait; arg = readers in the snapshot
  rcu_callback,    // an RCU callback runs
  spurious_wakeup, // an injected spurious wakeup; obj = the futex key
  buggify,         // a buggify site fired; name = the site
  deadlock,        // the run ended in a deadlock
  halt,            // the run saw the machine halt (oops)
  abort_unwind,    // a task is resumed to unwind after a deadlock/halt/step limit
};
const char* to_string(SimEventKind k);

struct SimEvent {
  uint64_t time_ns = 0;  // virtual time
  uint64_t step = 0;     // scheduling points so far
  SimEventKind kind = SimEventKind::task_start;
  int pid = 0;                 // the task concerned (0 when none)
  const char* comm = "";       // its name; valid during the call only
  const char* name = nullptr;  // kind-specific label, or null
  const void* obj = nullptr;   // kind-specific object (a futex key), or null
  uint64_t arg = 0;            // kind-specific number
};

/** SimEventSink - receives a run's events. */
class SimEventSink {
 public:
  virtual ~SimEventSink() = default;
  virtual void on_event(const SimEvent& e) = 0;
};

}  // namespace guplab
