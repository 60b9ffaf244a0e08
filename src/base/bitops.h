// bitops.h - atomic bit operations on a shared word (page flags, bit locks).
// Threading: any task. The _lock/_unlock forms have acquire/release ordering.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/sched.h"

namespace guplab {

using bitword_t = std::atomic<uint64_t>;

/** test_bit() - S: the scheduling-point policy (base/sched.h). */
template <typename S = SchedCheck>
inline bool test_bit(unsigned nr, const bitword_t* w) {
  S::point(SchedPoint::kAtomicRead, w);
  return (w->load(std::memory_order_relaxed) >> nr) & 1;
}
inline void set_bit(unsigned nr, bitword_t* w) {
  sched_point(SchedPoint::kAtomicWrite, w);
  w->fetch_or(uint64_t{1} << nr, std::memory_order_relaxed);
}
inline void clear_bit(unsigned nr, bitword_t* w) {
  sched_point(SchedPoint::kAtomicWrite, w);
  w->fetch_and(~(uint64_t{1} << nr), std::memory_order_relaxed);
}
/** test_bit_acquire() - test_bit(), ordered before the loads that follow it. */
inline bool test_bit_acquire(unsigned nr, const bitword_t* w) {
  sched_point(SchedPoint::kAtomicRead, w);
  return (w->load(std::memory_order_acquire) >> nr) & 1;
}
/** set_bit_release() - set_bit(), ordered after the stores that precede it. */
inline void set_bit_release(unsigned nr, bitword_t* w) {
  sched_point(SchedPoint::kAtomicWrite, w);
  w->fetch_or(uint64_t{1} << nr, std::memory_order_release);
}
inline bool test_and_set_bit(unsigned nr, bitword_t* w) {
  sched_point(SchedPoint::kAtomicWrite, w);
  return (w->fetch_or(uint64_t{1} << nr, std::memory_order_seq_cst) >> nr) & 1;
}
inline bool test_and_clear_bit(unsigned nr, bitword_t* w) {
  sched_point(SchedPoint::kAtomicWrite, w);
  return (w->fetch_and(~(uint64_t{1} << nr), std::memory_order_seq_cst) >> nr) & 1;
}
/** test_and_set_bit_lock() - take a bit lock; true if it was already held. */
inline bool test_and_set_bit_lock(unsigned nr, bitword_t* w) {
  sched_point(SchedPoint::kLock, w);
  return (w->fetch_or(uint64_t{1} << nr, std::memory_order_acquire) >> nr) & 1;
}
/** clear_bit_unlock() - release a bit lock. */
inline void clear_bit_unlock(unsigned nr, bitword_t* w) {
  w->fetch_and(~(uint64_t{1} << nr), std::memory_order_release);
}
/** __set_bit() / __clear_bit() - non-atomic forms for words nobody else can see yet. */
inline void __set_bit(unsigned nr, bitword_t* w) {
  w->store(w->load(std::memory_order_relaxed) | (uint64_t{1} << nr), std::memory_order_relaxed);
}
inline void __clear_bit(unsigned nr, bitword_t* w) {
  w->store(w->load(std::memory_order_relaxed) & ~(uint64_t{1} << nr), std::memory_order_relaxed);
}

}  // namespace guplab
