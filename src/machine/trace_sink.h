// trace_sink.h - the structured trace points of a machine, for trace writers.
//
// Model code marks what a developer wants to see on a timeline (a pin, an unpin, a DMA
// burst, a page under writeback, a fault, an oops) with trace_point() (machine/
// trace_point.h); a TraceSink set
// on the machine (Machine::set_trace_sink()) receives each as a TraceEvent stamped with
// the running task and the time: virtual time under the sim backend, host time since
// boot under native. With no sink set a trace point costs one load and one branch, and
// a trace point is never a scheduling point: tracing a sim run does not change it.
//
// Threading: trace_point() from any task; a sink is called on the task's thread (or
// fiber) and must not block or call into the model. Set the sink with no task running.
#pragma once
#include <cstdint>
#include <string>

namespace guplab {

struct TraceEvent {
  const char* cat = "";   // "pin", "dma", "writeback", "reclaim", "fault", "fs", "oops", "warn", "dev"
  std::string name;       // "pin_user_pages", "end_page_writeback", ...
  int pid = 0;            // the running task (0: none)
  const char* comm = "";  // its name; valid during the call only
  uint64_t time_ns = 0;
  std::string args;       // "start=0x10000 nr=4 ret=4 pfn=312"
};

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void on_trace(const TraceEvent& e) = 0;
};

}  // namespace guplab
