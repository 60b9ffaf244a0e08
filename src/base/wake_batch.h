// wake_batch.h - deferring chosen wake-ups to the end of a batch of work, the idea of the
// kernel's wake_q: a device's completion task ends a batch of requests inside a
// WakeBatch, and completion handlers that opt in (wake_defer()) have their wake-up run
// once, when the batch is over. A waiter then wakes to the whole batch instead of to its
// first completion, with the rest still arriving while it runs.
//
// Only wake-ups that nothing inside the batch waits for may be deferred (a waiter for a
// completion, never a lock's). Only the task that opened the batch defers into it: any
// other task (another fiber under the sim backend, running while the owner is at a
// scheduling point) gets false from wake_defer() and wakes at once.
//
// Threading: a WakeBatch lives on its task's stack and is used by that task only.
#pragma once
#include <cstddef>

namespace guplab {

struct task_struct;

/** deferred_wake_fn - a deferred wake-up: wake what @arg names (and let go of @arg). */
using deferred_wake_fn = void (*)(void* arg);

class WakeBatch {
 public:
  /** Opens a batch on the running task (nested batches defer into the outermost). */
  WakeBatch();
  /** Runs every deferred wake-up, in the order they were deferred. */
  ~WakeBatch();
  WakeBatch(const WakeBatch&) = delete;
  WakeBatch& operator=(const WakeBatch&) = delete;

  /** flush() - run the wake-ups deferred so far now; the batch stays open. */
  void flush();

 private:
  friend bool wake_defer(deferred_wake_fn fn, void* arg);
  static constexpr size_t kMax = 64;
  struct Entry {
    deferred_wake_fn fn;
    void* arg;
  };
  task_struct* owner_;
  WakeBatch* outer_;
  Entry entries_[kMax];
  size_t nr_ = 0;
};

/**
 * wake_defer() - run @fn(@arg) when the running task's open WakeBatch ends.
 * Returns false, doing nothing, when the running task has no batch open: the caller then
 * wakes at once. A full batch runs what it holds first, so this never fails for that.
 */
bool wake_defer(deferred_wake_fn fn, void* arg);

}  // namespace guplab
