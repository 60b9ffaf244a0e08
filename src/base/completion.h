// completion.h - struct completion: "wait until this thing has happened".
// Threading: any task.
#pragma once
#include <atomic>
#include <climits>
#include <cstdint>

#include "base/wait.h"

namespace guplab {

struct completion {
  std::atomic<uint32_t> done{0};
  wait_queue_head_t wait;
};

inline void init_completion(completion* c) { c->done.store(0, std::memory_order_relaxed); }
inline void reinit_completion(completion* c) { c->done.store(0, std::memory_order_relaxed); }

/** complete() - let one waiter through. */
inline void complete(completion* c) {
  c->done.fetch_add(1, std::memory_order_release);
  wake_up_all(&c->wait);
}
/** complete_all() - let every present and future waiter through. */
inline void complete_all(completion* c) {
  c->done.store(UINT32_MAX / 2, std::memory_order_release);
  wake_up_all(&c->wait);
}
/** try_wait_for_completion() - consume a completion if one is there, without sleeping. */
inline bool try_wait_for_completion(completion* c) {
  uint32_t d = c->done.load(std::memory_order_acquire);
  while (d != 0) {
    if (d == UINT32_MAX / 2) return true;
    if (c->done.compare_exchange_weak(d, d - 1, std::memory_order_acquire)) return true;
  }
  return false;
}
/** wait_for_completion() - sleep until complete() or complete_all(). */
inline void wait_for_completion(completion* c) {
  wait_event(&c->wait, [c] { return try_wait_for_completion(c); });
}
inline bool completion_done(const completion* c) { return c->done.load(std::memory_order_acquire) != 0; }

}  // namespace guplab
