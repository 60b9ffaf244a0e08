// futex.cc - native futex(2) waits, or the sim backend's parking.
#include "base/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "base/bug.h"
#include "base/clock.h"
#include "base/sched.h"

namespace guplab {

namespace {
// Bounded sleep: a waiter re-checks its machine's state a few times a second, which is
// what lets every task of an oopsed machine unwind.
constexpr uint64_t kMaxNativeSleepNs = 100 * NSEC_PER_MSEC;

void native_wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t ns) {
  struct timespec ts = {static_cast<time_t>(ns / NSEC_PER_SEC), static_cast<long>(ns % NSEC_PER_SEC)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
  throw_if_halted();
}
}  // namespace

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, const char* what) {
  if (SimHooks* h = sim_hooks()) {
    h->futex_wait(word, reinterpret_cast<const uint32_t*>(word), expected, what);
    throw_if_halted();
    return;
  }
  native_wait(word, expected, kMaxNativeSleepNs);
}

void futex_wait_until(std::atomic<uint32_t>* word, uint32_t expected, uint64_t deadline_ns,
                      const char* what) {
  if (SimHooks* h = sim_hooks()) {
    h->futex_wait_until(word, reinterpret_cast<const uint32_t*>(word), expected, deadline_ns, what);
    throw_if_halted();
    return;
  }
  const uint64_t now = host_time_ns();
  if (now >= deadline_ns) {
    throw_if_halted();
    return;
  }
  native_wait(word, expected, std::min(deadline_ns - now, kMaxNativeSleepNs));
}

void futex_wait_killable(std::atomic<uint32_t>* word, uint32_t expected, const char* what) {
  task_struct* t = current();
  if (!t) return futex_wait(word, expected, what);
  t->killable_wait.store(word, std::memory_order_seq_cst);
  if (t->fatal_signal.load(std::memory_order_seq_cst)) {
    t->killable_wait.store(nullptr, std::memory_order_relaxed);
    return;
  }
  try {
    futex_wait(word, expected, what);
  } catch (...) {
    t->killable_wait.store(nullptr, std::memory_order_relaxed);
    throw;
  }
  t->killable_wait.store(nullptr, std::memory_order_relaxed);
}

void futex_wake(std::atomic<uint32_t>* word, int n) {
  if (SimHooks* h = sim_hooks()) {
    h->futex_wake(word, n);
    return;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

}  // namespace guplab
