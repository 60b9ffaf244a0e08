// spinlock.h - spinlock_t: a short-hold mutual-exclusion lock.
//
// A user-space thread can be preempted while holding a lock, so natively this spins
// briefly and then sleeps on a futex (Drepper's three-state mutex). Under sim it parks
// the fiber, and takes a free lock with a plain load and store (the fibers of a run share
// one host thread). Taking the lock is a scheduling point; releasing it is not
// (base/sched.h says why).
//
// Threading: any task. Not recursive.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/thread_annotations.h"

namespace guplab {

struct CAPABILITY("spinlock") spinlock_t {
  std::atomic<uint32_t> val{0};  // 0 free, 1 held, 2 held with waiters
  const char* name = "spinlock";
};

inline void spin_lock_init(spinlock_t* l, const char* name = "spinlock") {
  l->val.store(0, std::memory_order_relaxed);
  l->name = name;
}
void spin_lock(spinlock_t* l) ACQUIRE(l);
bool spin_trylock(spinlock_t* l) TRY_ACQUIRE(true, l);
void spin_unlock(spinlock_t* l) RELEASE(l);
inline bool spin_is_locked(const spinlock_t* l) { return l->val.load(std::memory_order_relaxed) != 0; }
/** assert_spin_locked() - lockdep-style check that @l is held (by someone). */
void assert_spin_locked(const spinlock_t* l) ASSERT_CAPABILITY(l);

/** SpinGuard - holds a spinlock for a scope. */
class SCOPED_CAPABILITY SpinGuard {
 public:
  explicit SpinGuard(spinlock_t* l) ACQUIRE(l) : l_(l) { spin_lock(l_); }
  ~SpinGuard() RELEASE() { spin_unlock(l_); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  spinlock_t* l_;
};

}  // namespace guplab
