// atomic.h - the kernel's atomic_t family and READ_ONCE/WRITE_ONCE, over std::atomic.
//
// Ordering follows the kernel: operations that return nothing are relaxed; operations
// that return a value are fully ordered. Each is a scheduling point; natively that is
// one thread-local test, so the fast path costs what std::atomic costs. A hot loop that
// resolved its backend once (sched_dispatch(), base/sched.h) passes the policy as the
// first template argument, atomic_read<S>(v), and natively then pays no test at all.
//
// Threading: any task.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/sched.h"

namespace guplab {

struct atomic_t {
  std::atomic<int> counter{0};
};
struct atomic64_t {
  std::atomic<int64_t> counter{0};
};
using atomic_long_t = atomic64_t;

inline constexpr auto kRelaxed = std::memory_order_relaxed;
inline constexpr auto kFull = std::memory_order_seq_cst;

// Each operation is a template on the scheduling-point policy S (base/sched.h), which
// defaults to asking the thread; derived operations pass S on.
#define GUPLAB_ATOMIC_OPS(T, V)                                                                 \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_read(const T* v) {                                                           \
    S::point(SchedPoint::kAtomicRead, v);                                                      \
    return v->counter.load(kRelaxed);                                                          \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline void atomic_set(T* v, V i) {                                                          \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    v->counter.store(i, kRelaxed);                                                             \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline void atomic_add(V i, T* v) {                                                          \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    v->counter.fetch_add(i, kRelaxed);                                                         \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline void atomic_sub(V i, T* v) {                                                          \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    v->counter.fetch_sub(i, kRelaxed);                                                         \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline void atomic_inc(T* v) { atomic_add<S>(1, v); }                                        \
  template <typename S = SchedCheck>                                                           \
  inline void atomic_dec(T* v) { atomic_sub<S>(1, v); }                                        \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_add_return(V i, T* v) {                                                      \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    return v->counter.fetch_add(i, kFull) + i;                                                 \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_sub_return(V i, T* v) {                                                      \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    return v->counter.fetch_sub(i, kFull) - i;                                                 \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_fetch_add(V i, T* v) {                                                       \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    return v->counter.fetch_add(i, kFull);                                                     \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_inc_return(T* v) { return atomic_add_return<S>(1, v); }                      \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_dec_return(T* v) { return atomic_sub_return<S>(1, v); }                      \
  template <typename S = SchedCheck>                                                           \
  inline bool atomic_dec_and_test(T* v) { return atomic_sub_return<S>(1, v) == 0; }            \
  template <typename S = SchedCheck>                                                           \
  inline bool atomic_sub_and_test(V i, T* v) { return atomic_sub_return<S>(i, v) == 0; }       \
  template <typename S = SchedCheck>                                                           \
  inline bool atomic_inc_and_test(T* v) { return atomic_add_return<S>(1, v) == 0; }            \
  /* atomic_cmpxchg() - returns the old value; stored @n iff it was @o. */                      \
  template <typename S = SchedCheck>                                                           \
  inline V atomic_cmpxchg(T* v, V o, V n) {                                                    \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    v->counter.compare_exchange_strong(o, n, kFull, kFull);                                    \
    return o;                                                                                  \
  }                                                                                            \
  /* atomic_try_cmpxchg() - on failure *o is updated to the current value. */                  \
  template <typename S = SchedCheck>                                                           \
  inline bool atomic_try_cmpxchg(T* v, V* o, V n) {                                            \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    return v->counter.compare_exchange_strong(*o, n, kFull, kFull);                            \
  }                                                                                            \
  /* atomic_add_unless() - add @a unless the value is @u; true if it added. */                 \
  template <typename S = SchedCheck>                                                           \
  inline bool atomic_add_unless(T* v, V a, V u) {                                              \
    S::point(SchedPoint::kAtomicWrite, v);                                                     \
    V c = v->counter.load(kRelaxed);                                                           \
    do {                                                                                       \
      if (c == u) return false;                                                                \
    } while (!v->counter.compare_exchange_weak(c, c + a, kFull, kRelaxed));                    \
    return true;                                                                               \
  }                                                                                            \
  template <typename S = SchedCheck>                                                           \
  inline bool atomic_inc_not_zero(T* v) { return atomic_add_unless<S>(v, 1, 0); }

GUPLAB_ATOMIC_OPS(atomic_t, int)
GUPLAB_ATOMIC_OPS(atomic64_t, int64_t)
#undef GUPLAB_ATOMIC_OPS

/** READ_ONCE() - a single load of a shared word (acquire; free on x86). */
template <typename S = SchedCheck, typename T>
inline T READ_ONCE(const std::atomic<T>& x) {
  S::point(SchedPoint::kAtomicRead, &x);
  return x.load(std::memory_order_acquire);
}
/**
 * read_hint() - a relaxed load whose value is only a hint (say, what to prefetch):
 * nothing may depend on it for correctness, so it is no scheduling point.
 */
template <typename T>
inline T read_hint(const std::atomic<T>& x) {
  return x.load(std::memory_order_relaxed);
}
/** WRITE_ONCE() - a single store of a shared word (release; free on x86). */
template <typename T>
inline void WRITE_ONCE(std::atomic<T>& x, T v) {
  sched_point(SchedPoint::kAtomicWrite, &x);
  x.store(v, std::memory_order_release);
}
/** xchg() - swap in @v, return the old value (fully ordered). */
template <typename T>
inline T xchg(std::atomic<T>& x, T v) {
  sched_point(SchedPoint::kAtomicWrite, &x);
  return x.exchange(v, kFull);
}
/** cmpxchg() - returns the old value; stored @n iff it was @o (fully ordered). */
template <typename T>
inline T cmpxchg(std::atomic<T>& x, T o, T n) {
  sched_point(SchedPoint::kAtomicWrite, &x);
  x.compare_exchange_strong(o, n, kFull, kFull);
  return o;
}

inline void smp_mb() { std::atomic_thread_fence(kFull); }
inline void smp_rmb() { std::atomic_thread_fence(std::memory_order_acquire); }
inline void smp_wmb() { std::atomic_thread_fence(std::memory_order_release); }

}  // namespace guplab
