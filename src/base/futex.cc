// futex.cc - native futex(2) waits, or the sim backend's parking.
#include "base/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "base/bug.h"
#include "base/sched.h"

namespace guplab {

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, const char* what) {
  if (SimHooks* h = sim_hooks()) {
    h->futex_wait(word, reinterpret_cast<const uint32_t*>(word), expected, what);
    throw_if_halted();
    return;
  }
  // Bounded sleep: a waiter re-checks its machine's state a few times a second, which
  // is what lets every task of an oopsed machine unwind.
  struct timespec ts = {0, 100 * 1000 * 1000};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
  throw_if_halted();
}

void futex_wait_until(std::atomic<uint32_t>* word, uint32_t expected, uint64_t deadline_ns,
                      const char* what) {
  if (SimHooks* h = sim_hooks()) {
    h->futex_wait_until(word, reinterpret_cast<const uint32_t*>(word), expected, deadline_ns, what);
    throw_if_halted();
    return;
  }
  futex_wait(word, expected, what);
}

void futex_wake(std::atomic<uint32_t>* word, int n) {
  if (SimHooks* h = sim_hooks()) {
    h->futex_wake(word, n);
    return;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

}  // namespace guplab
