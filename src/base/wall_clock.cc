// wall_clock.cc - the host's wall clock.
#include "base/wall_clock.h"

#include <time.h>

namespace guplab {

uint64_t host_realtime_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace guplab
