// wall_clock.h - the host's wall clock, for timestamps in reports (when a run ended, as
// fio prints it). Model time is ktime_get_ns() (base/clock.h); this is never virtual.
// Threading: any thread.
#pragma once
#include <cstdint>

namespace guplab {

/** host_realtime_ns() - CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t host_realtime_ns();

}  // namespace guplab
