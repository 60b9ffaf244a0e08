// dev_trace.h - one line in the machine's recent-events ring, prefixed with the running
// task as ftrace prints it ("comm-pid: what"). Devices and scenarios use it so that an
// oops report shows who did what, in order.
// Threading: any task (Machine::trace() is locked).
#pragma once
#include <fmt/format.h>

#include <string_view>

#include "base/task.h"
#include "machine/machine.h"

namespace guplab {

/** dev_trace() - record @what on @m's recent-events ring, if the machine traces. */
inline void dev_trace(Machine* m, std::string_view what) {
  if (m->tracing()) m->trace_task_line(what);
}

}  // namespace guplab
