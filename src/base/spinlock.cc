// spinlock.cc - spin-then-sleep mutual exclusion (three-state futex mutex).
#include "base/spinlock.h"


#include "base/futex.h"
#include "base/sched.h"
#include "base/bug.h"

namespace guplab {

namespace {
inline void cpu_relax() { __builtin_ia32_pause(); }
}  // namespace

void spin_lock(spinlock_t* l) NO_THREAD_SAFETY_ANALYSIS {
  uint32_t c = 0;
  if (SimHooks* h = sim_hooks()) {
    h->point(SchedPoint::kLock, l);
    // Every task of a sim run is a fiber of one host thread, switched only at scheduling
    // points: a free lock is taken with a plain load and store, not a locked instruction,
    // and a held one stays held until this task parks (no spinning: nothing else runs).
    if (l->val.load(std::memory_order_relaxed) == 0) {
      l->val.store(1, std::memory_order_relaxed);
      return;
    }
  } else {
    if (likely(l->val.compare_exchange_strong(c, 1, std::memory_order_acquire))) return;
    for (int i = 0; i < 200; i++) {
      cpu_relax();
      c = 0;
      if (l->val.load(std::memory_order_relaxed) == 0 &&
          l->val.compare_exchange_strong(c, 1, std::memory_order_acquire))
        return;
    }
  }
  c = l->val.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    futex_wait(&l->val, 2, l->name);
    c = l->val.exchange(2, std::memory_order_acquire);
  }
}

bool spin_trylock(spinlock_t* l) NO_THREAD_SAFETY_ANALYSIS {
  sched_point(SchedPoint::kLock, l);
  uint32_t c = 0;
  return l->val.compare_exchange_strong(c, 1, std::memory_order_acquire);
}

void spin_unlock(spinlock_t* l) NO_THREAD_SAFETY_ANALYSIS {
  // As CONFIG_DEBUG_SPINLOCK reports it (and never from a guard's noexcept destructor, a throw).
  VM_WARN_ON_ONCE(!(l->val.load(std::memory_order_relaxed) != 0 && "spin_unlock of a free lock"));
  if (sim_hooks()) {  // one host thread (see spin_lock())
    const uint32_t c = l->val.load(std::memory_order_relaxed);
    l->val.store(0, std::memory_order_relaxed);
    if (c == 2) futex_wake(&l->val, 1);
    return;
  }
  if (l->val.exchange(0, std::memory_order_release) == 2) futex_wake(&l->val, 1);
}

void assert_spin_locked(const spinlock_t* l) { VM_BUG_ON(!(spin_is_locked(l))); (void)l; }

}  // namespace guplab
