// rwsem.cc - writer-preferring reader-writer semaphore on one futex word.
//
// state = WRITER bit | WAITERS bit | reader count. A task that must sleep sets WAITERS
// and sleeps on the word; whoever releases and sees WAITERS clears it and wakes all.
#include "base/rwsem.h"

#include <cerrno>

#include "base/futex.h"
#include "base/preempt.h"
#include "base/sched.h"
#include "base/task.h"
#include "base/bug.h"

namespace guplab {

namespace {
using R = rw_semaphore;

// Sleep until the word moves away from @s, after advertising a waiter.
void sleep_on(rw_semaphore* sem, uint32_t s, bool killable) {
  if (!(s & R::kWaiters)) {
    if (!sem->state.compare_exchange_strong(s, s | R::kWaiters, std::memory_order_relaxed)) return;
    s |= R::kWaiters;
  }
  if (killable) futex_wait_killable(&sem->state, s, sem->name);
  else futex_wait(&sem->state, s, sem->name);
}

void wake_if_waiters(rw_semaphore* sem, uint32_t old) {
  if (old & R::kWaiters) {
    sem->state.fetch_and(~R::kWaiters, std::memory_order_relaxed);
    futex_wake(&sem->state, INT32_MAX);
  }
}

// One attempt at a read lock. Returns true if taken; otherwise *seen is the word.
bool try_read(rw_semaphore* sem, uint32_t* seen) {
  uint32_t s = sem->state.load(std::memory_order_relaxed);
  while (!(s & R::kWriter) && sem->writers_waiting.load(std::memory_order_relaxed) == 0) {
    if (sem->state.compare_exchange_weak(s, s + 1, std::memory_order_acquire)) return true;
  }
  *seen = s;
  return false;
}

bool try_write(rw_semaphore* sem, uint32_t* seen) {
  uint32_t s = sem->state.load(std::memory_order_relaxed);
  while ((s & ~R::kWaiters) == 0) {
    if (sem->state.compare_exchange_weak(s, s | R::kWriter, std::memory_order_acquire)) {
      sem->owner.store(current(), std::memory_order_relaxed);
      return true;
    }
  }
  *seen = s;
  return false;
}

int read_slow(rw_semaphore* sem, bool killable) {
  uint32_t s;
  while (!try_read(sem, &s)) {
    if (killable && fatal_signal_pending(current())) return -EINTR;
    sleep_on(sem, s, killable);
  }
  return 0;
}

int write_slow(rw_semaphore* sem, bool killable) {
  sem->writers_waiting.fetch_add(1, std::memory_order_relaxed);
  uint32_t s;
  int ret = 0;
  try {
    while (!try_write(sem, &s)) {
      if (killable && fatal_signal_pending(current())) {
        ret = -EINTR;
        break;
      }
      sleep_on(sem, s, killable);
    }
  } catch (...) {
    sem->writers_waiting.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  sem->writers_waiting.fetch_sub(1, std::memory_order_relaxed);
  // Readers that queued behind us may go now if we gave up.
  if (ret) wake_if_waiters(sem, sem->state.load(std::memory_order_relaxed));
  return ret;
}
}  // namespace

void down_read(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  might_sleep();
  sched_point(SchedPoint::kLock, sem);
  read_slow(sem, false);
}

int down_read_killable(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  might_sleep();
  sched_point(SchedPoint::kLock, sem);
  return read_slow(sem, true);
}

bool down_read_trylock(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  sched_point(SchedPoint::kLock, sem);
  uint32_t s;
  return try_read(sem, &s);
}

void up_read(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  uint32_t old = sem->state.fetch_sub(1, std::memory_order_release);
  VM_WARN_ON_ONCE(!((old & R::kReaderMask) != 0 && "up_read without down_read"));  // as DEBUG_RWSEMS: a report
  if (((old - 1) & R::kReaderMask) == 0) wake_if_waiters(sem, old);
}

void down_write(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  might_sleep();
  sched_point(SchedPoint::kLock, sem);
  uint32_t s;
  if (try_write(sem, &s)) return;
  write_slow(sem, false);
}

int down_write_killable(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  might_sleep();
  sched_point(SchedPoint::kLock, sem);
  uint32_t s;
  if (try_write(sem, &s)) return 0;
  return write_slow(sem, true);
}

bool down_write_trylock(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  sched_point(SchedPoint::kLock, sem);
  uint32_t s;
  return try_write(sem, &s);
}

void up_write(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  VM_WARN_ON_ONCE(!(rwsem_is_write_locked(sem) && "up_write without down_write"));  // as DEBUG_RWSEMS: a report
  sem->owner.store(nullptr, std::memory_order_relaxed);
  uint32_t old = sem->state.fetch_and(R::kWaiters, std::memory_order_release);
  wake_if_waiters(sem, old);
}

void downgrade_write(rw_semaphore* sem) NO_THREAD_SAFETY_ANALYSIS {
  VM_BUG_ON(!(rwsem_is_write_locked(sem) && "downgrade_write without down_write"));
  sem->owner.store(nullptr, std::memory_order_relaxed);
  uint32_t s = sem->state.load(std::memory_order_relaxed);
  while (!sem->state.compare_exchange_weak(s, (s & R::kWaiters) | 1, std::memory_order_release)) {
  }
  wake_if_waiters(sem, s);
}

}  // namespace guplab
