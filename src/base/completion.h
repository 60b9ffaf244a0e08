// completion.h - struct completion: "wait until this thing has happened".
//
// A completion often lives on its waiter's stack, so complete() must be done with it
// before the waiter can see it done and return: the count changes and the wake-up
// happen under the completion's lock, and a waiter that finds the count non-zero takes
// that lock before it consumes it (the kernel does the same with its wait.lock).
//
// Threading: any task.
#pragma once
#include <atomic>
#include <climits>
#include <cstdint>

#include "base/spinlock.h"
#include "base/wait.h"

namespace guplab {

struct completion {
  std::atomic<uint32_t> done{0};
  wait_queue_head_t wait;
  spinlock_t lock;
};

inline constexpr uint32_t COMPLETION_ALL = UINT32_MAX / 2;

inline void init_completion(completion* c) { c->done.store(0, std::memory_order_relaxed); }
inline void reinit_completion(completion* c) { c->done.store(0, std::memory_order_relaxed); }

/** complete() - let one waiter through. */
inline void complete(completion* c) {
  SpinGuard g(&c->lock);
  if (c->done.load(std::memory_order_relaxed) != COMPLETION_ALL) c->done.fetch_add(1, std::memory_order_release);
  wake_up_all(&c->wait);
}
/** complete_all() - let every present and future waiter through. */
inline void complete_all(completion* c) {
  SpinGuard g(&c->lock);
  c->done.store(COMPLETION_ALL, std::memory_order_release);
  wake_up_all(&c->wait);
}
/** try_wait_for_completion() - consume a completion if one is there, without sleeping. */
inline bool try_wait_for_completion(completion* c) {
  if (c->done.load(std::memory_order_acquire) == 0) return false;
  SpinGuard g(&c->lock);  // complete() is done with @c once we hold this
  const uint32_t d = c->done.load(std::memory_order_acquire);
  if (d == 0) return false;
  if (d != COMPLETION_ALL) c->done.store(d - 1, std::memory_order_relaxed);
  return true;
}
/** wait_for_completion() - sleep until complete() or complete_all(). */
inline void wait_for_completion(completion* c) {
  wait_event(&c->wait, [c] { return try_wait_for_completion(c); });
}
/** completion_done() - has @c been completed (and is complete() finished with it)? */
inline bool completion_done(completion* c) {
  if (c->done.load(std::memory_order_acquire) == 0) return false;
  SpinGuard g(&c->lock);
  return true;
}

}  // namespace guplab
