// clock.h - time for the model: monotonic nanoseconds and sleeping.
// Native: CLOCK_MONOTONIC and nanosleep. Sim: the scheduler's virtual time.
// Threading: any task.
#pragma once
#include <cstdint>

namespace guplab {

inline constexpr uint64_t NSEC_PER_USEC = 1000;
inline constexpr uint64_t NSEC_PER_MSEC = 1000 * 1000;
inline constexpr uint64_t NSEC_PER_SEC = 1000ULL * 1000 * 1000;

/** ktime_get_ns() - monotonic time in nanoseconds (a scheduling point). */
uint64_t ktime_get_ns();
/** host_time_ns() - the host's monotonic clock, for measuring the lab itself (never sim). */
uint64_t host_time_ns();
/** sleep_ns() - let @ns of (real or virtual) time pass. */
void sleep_ns(uint64_t ns);
inline void msleep(unsigned ms) { sleep_ns(ms * NSEC_PER_MSEC); }
inline void usleep(unsigned us) { sleep_ns(us * NSEC_PER_USEC); }

}  // namespace guplab
