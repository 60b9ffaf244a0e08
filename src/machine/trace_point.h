// trace_point.h - trace_point(): one structured event for the machine's trace sink.
//
// The formatting runs only when a sink is set (machine/trace_sink.h); otherwise the
// call is one load and one branch. Never a scheduling point.
//
// Threading: any task of the machine.
#pragma once
#include <fmt/format.h>

#include <string>
#include <utility>

#include "base/compiler.h"
#include "machine/machine.h"

namespace guplab {

/** trace_point() - record @cat/@name with formatted arguments, if @m has a trace sink. */
template <typename... Args>
inline void trace_point(Machine* m, const char* cat, const char* name, fmt::format_string<Args...> f, Args&&... a) {
  if (likely(m->trace_sink() == nullptr)) return;
  m->emit_trace(cat, name, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace guplab
