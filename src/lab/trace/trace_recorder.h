// trace_recorder.h - TraceRecorder: one run's timeline, written as Perfetto JSON or as
// ftrace text.
//
// A recorder is both sinks of a run: the sim scheduler's (SimOptions::sink: task
// switches, blocks on locks and waits, wakeups, sync points, injected faults,
// deadlock, halt) and the machine's (Machine::set_trace_sink(): pins, unpins, faults,
// writeback, DMA, reclaim, oops, WARN). It keeps every event in arrival order.
// write_json() gives Chrome/Perfetto trace-event JSON (one track per task, the time a
// task runs as slices, everything else as instants with its arguments); ftrace() gives
// trace_pipe-style lines. Nothing in either depends on host addresses or host time, so
// the same sim run gives byte-identical output.
//
// Threading: under sim, events arrive on the run's one OS thread. Under native they may
// arrive from several threads; a lock keeps the record whole (order is then arrival).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "base/raw_spinlock.h"
#include "base/thread_annotations.h"
#include "machine/trace_sink.h"
#include "sim/event.h"

namespace guplab {

class TraceRecorder final : public SimEventSink, public TraceSink {
 public:
  struct Record {
    uint64_t time_ns = 0;
    int pid = 0;
    std::string comm;
    std::string cat;   // "sched", "lock", "rcu", "sync", "fault_injection", or the machine's
    std::string name;  // "switch", "block", "pin_user_pages", ...
    std::string args;  // free text, "key=value ..." where it can be
    bool run_start = false;  // sched: the task starts running here
    bool run_end = false;    // sched: the task stops running here (blocked, ended)
  };

  TraceRecorder() = default;
  /** Title shown in the JSON metadata (scenario, design, policy, seed). */
  explicit TraceRecorder(std::string title) : title_(std::move(title)) {}

  void on_event(const SimEvent& e) override;
  void on_trace(const TraceEvent& e) override;

  /** records() - a copy of what was recorded, in order. */
  std::vector<Record> records() const;
  size_t size() const;
  /** write_json() - Chrome/Perfetto trace-event JSON of everything recorded. */
  void write_json(std::ostream& out) const;
  /** ftrace() - one trace_pipe-style line per event ("comm-pid [000] ..... 0.000012: name: args"). */
  std::string ftrace() const;

 private:
  void add(Record r);

  std::string title_;
  mutable RawSpinlock lock_;
  std::vector<Record> records_ GUARDED_BY(lock_);
  int running_ GUARDED_BY(lock_) = -1;  // sim: the pid whose run slice is open (-1: none)
};

}  // namespace guplab
