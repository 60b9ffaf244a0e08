// raw_spinlock.h - a pure spin lock for the lab's own bookkeeping (oops log, counters
// snapshots): never sleeps, never throws, is not a scheduling point. Only for tiny
// critical sections that themselves contain no scheduling point, so that under the
// sim backend it can never be held across a fiber switch.
// Threading: any thread.
#pragma once
#include <atomic>

#include "base/thread_annotations.h"

namespace guplab {

class CAPABILITY("raw_spinlock") RawSpinlock {
 public:
  void lock() ACQUIRE() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void unlock() RELEASE() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class SCOPED_CAPABILITY RawSpinGuard {
 public:
  explicit RawSpinGuard(RawSpinlock& l) ACQUIRE(l) : l_(l) { l_.lock(); }
  ~RawSpinGuard() RELEASE() { l_.unlock(); }
  RawSpinGuard(const RawSpinGuard&) = delete;
  RawSpinGuard& operator=(const RawSpinGuard&) = delete;

 private:
  RawSpinlock& l_;
};

}  // namespace guplab
