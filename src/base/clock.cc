// clock.cc - monotonic time and sleeping, real or virtual.
#include "base/clock.h"

#include <time.h>

#include "base/preempt.h"
#include "base/sched.h"

namespace guplab {

uint64_t host_time_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * NSEC_PER_SEC + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t ktime_get_ns() {
  if (SimHooks* h = sim_hooks()) {
    h->point(SchedPoint::kClock, nullptr);
    return h->now_ns();
  }
  return host_time_ns();
}

void sleep_ns(uint64_t ns) {
  might_sleep();
  if (SimHooks* h = sim_hooks()) return h->sleep_ns(ns);
  struct timespec ts = {static_cast<time_t>(ns / NSEC_PER_SEC), static_cast<long>(ns % NSEC_PER_SEC)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

}  // namespace guplab
