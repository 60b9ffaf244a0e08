// wait.h - wait queues (wait_queue_head_t, wait_event, wake_up).
//
// A waiter samples the queue's sequence number, tests its condition, and sleeps only if
// the sequence has not moved; wake_up() bumps the sequence and wakes every sleeper, so
// no wake-up is lost between the test and the sleep. Conditions are re-checked after
// every wake (spurious wake-ups are allowed, and injected under sim). Every wait_event*
// begins with might_sleep() (base/preempt.h).
//
// Threading: any task.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/clock.h"
#include "base/futex.h"
#include "base/preempt.h"
#include "base/sched.h"
#include "base/task.h"

namespace guplab {

struct wait_queue_head_t {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> sleepers{0};
  const char* name = "waitqueue";
};

inline void init_waitqueue_head(wait_queue_head_t* wq, const char* name) { wq->name = name; }

/** wake_up() / wake_up_all() - wake every task sleeping on @wq. */
void wake_up_all(wait_queue_head_t* wq);
inline void wake_up(wait_queue_head_t* wq) { wake_up_all(wq); }

/**
 * wait_queue_sleep() - sleep once on @wq if its sequence is still @seq. @what, if given,
 * is what a deadlock report says the task waits for (default: the queue's name); it must
 * stay valid while the task sleeps.
 */
void wait_queue_sleep(wait_queue_head_t* wq, uint32_t seq, const char* what = nullptr);
/** wait_queue_sleep_killable() - as wait_queue_sleep(); send_sig_kill() to the caller wakes it. */
void wait_queue_sleep_killable(wait_queue_head_t* wq, uint32_t seq);
/** wait_queue_sleep_until() - as wait_queue_sleep(), returning by @deadline_ns at the latest. */
void wait_queue_sleep_until(wait_queue_head_t* wq, uint32_t seq, uint64_t deadline_ns);

/** wait_event() - sleep until @cond() is true. */
template <typename Cond>
void wait_event(wait_queue_head_t* wq, Cond cond) {
  might_sleep();
  for (;;) {
    const uint32_t s = wq->seq.load(std::memory_order_acquire);
    if (cond()) return;
    wait_queue_sleep(wq, s);
  }
}

/** wait_event_killable() - as wait_event(); returns -EINTR if the task is killed. */
template <typename Cond>
int wait_event_killable(wait_queue_head_t* wq, Cond cond) {
  might_sleep();
  for (;;) {
    const uint32_t s = wq->seq.load(std::memory_order_acquire);
    if (cond()) return 0;
    if (fatal_signal_pending(current())) return -4 /* -EINTR */;
    wait_queue_sleep_killable(wq, s);
  }
}

/**
 * wait_event_timeout() - sleep until @cond() or @timeout_ns passes.
 * Returns true if the condition became true.
 */
template <typename Cond>
bool wait_event_timeout(wait_queue_head_t* wq, Cond cond, uint64_t timeout_ns) {
  might_sleep();
  const uint64_t deadline = ktime_get_ns() + timeout_ns;
  for (;;) {
    const uint32_t s = wq->seq.load(std::memory_order_acquire);
    if (cond()) return true;
    if (ktime_get_ns() >= deadline) return false;
    wait_queue_sleep_until(wq, s, deadline);
  }
}

}  // namespace guplab
