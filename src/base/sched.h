// sched.h - the scheduling-point seam between model code and a backend.
//
// Every primitive in base/ (atomics, locks, waits, RCU, clock, random, task spawn)
// calls sched_point() or one of the SimHooks entry points. A thread that runs model
// code under the deterministic backend has a non-null tls_sim_hooks; every other
// thread (the native backend) takes the native path, and the hook costs one
// thread-local load and a predicted branch.
//
// Threading: tls_sim_hooks is per OS thread. The sim backend installs it on the thread
// that runs its fibers and clears it when the run ends.
#pragma once
#include <cstdint>
#include <functional>

#include "base/compiler.h"
#include "base/preempt.h"

namespace guplab {

struct task_struct;
struct rcu_head;

/**
 * Why a task reached a scheduling point; recorded in traces and used by strategies.
 *
 * A point comes before each operation that others can see (an atomic access, taking a
 * lock, a wait, a wake, ...). Releasing a lock is not one: the only task that can tell a
 * release from the releasing task's next visible operation is one that takes the lock,
 * and it has a point of its own before it does (data written under a lock and read
 * without it is read through an atomic, which has its point). A point after the release
 * would only give the same interleavings again, and lengthen every critical section's
 * window under the random walk, which the lab's own code must not do.
 */
enum class SchedPoint : uint8_t {
  kAtomicRead,
  kAtomicWrite,  // store or read-modify-write
  kLock,
  kWait,
  kWake,
  kRcu,
  kClock,
  kRandom,
  kSpawn,
  kIo,
  kYield,  // explicit cond_resched()
  kSyncPoint,
};

/**
 * SimHooks - what a deterministic backend implements. Native code never sees it.
 * All calls are made on the backend's own thread, from inside a fiber.
 */
class SimHooks {
 public:
  virtual ~SimHooks() = default;
  /** A scheduling point: the backend may switch to another runnable fiber. */
  virtual void point(SchedPoint why, const void* obj) = 0;
  /** Park the running fiber on @key if *@word still equals @expected. */
  virtual void futex_wait(const void* key, const uint32_t* word, uint32_t expected,
                          const char* what) = 0;
  /**
   * As futex_wait(), but the fiber also becomes runnable once (virtual) time reaches
   * @deadline_ns. The default ignores the deadline (callers re-check it in a loop).
   */
  virtual void futex_wait_until(const void* key, const uint32_t* word, uint32_t expected,
                                uint64_t deadline_ns, const char* what) {
    futex_wait(key, word, expected, what);
  }
  /** Make up to @n fibers parked on @key runnable. */
  virtual void futex_wake(const void* key, int n) = 0;
  virtual uint64_t now_ns() = 0;
  virtual void sleep_ns(uint64_t ns) = 0;
  /** Start @task as a new fiber running @fn. */
  virtual void spawn(task_struct* task, std::function<void()> fn) = 0;
  /** Block until @task has finished. */
  virtual void join(task_struct* task) = 0;
  virtual void rcu_read_lock() = 0;
  virtual void rcu_read_unlock() = 0;
  virtual void synchronize_rcu() = 0;
  virtual void call_rcu(rcu_head* head) = 0;
  virtual void rcu_barrier() = 0;
  /** A named sync point reached by the running task (see lab/ scripted interleavings). */
  virtual void sync_point(const char* name) { point(SchedPoint::kSyncPoint, name); }
  /** Fault injection at @site (see base/buggify.h). */
  virtual bool buggify(const char* site) { return false; }
  /** Arm or disarm fault injection for the rest of the run (see base/buggify.h). */
  virtual void buggify_arm(bool on) {}
  /** The harness's setup is over: explore from here (see SimOptions::quiet_harness). */
  virtual void setup_done() {}
  /** The harness's teardown begins: explore no more (see SimOptions::quiet_harness). */
  virtual void teardown_begin() {}
};

extern constinit thread_local SimHooks* tls_sim_hooks;

/** sim_hooks() - the running thread's deterministic backend, or nullptr when native. */
inline SimHooks* sim_hooks() { return tls_sim_hooks; }

/** sched_point() - give the deterministic backend a chance to switch tasks here. */
inline void sched_point(SchedPoint why, const void* obj = nullptr) {
  if (unlikely(tls_sim_hooks != nullptr)) tls_sim_hooks->point(why, obj);
}

/**
 * sim_setup_done() - the harness's setup (mkfs, mount, the files a scenario starts
 * from) is over; under a sim run with SimOptions::quiet_harness its scheduling points
 * start to be explored here. No-op under native, and after the first call.
 */
inline void sim_setup_done() {
  if (SimHooks* h = tls_sim_hooks) h->setup_done();
}

/**
 * sim_teardown_begin() - the scenario's tasks have ended; what follows is the harness's
 * teardown (unmap, close, unmount, the count of free frames), which no interleaving
 * oracle looks into. Under a sim run with SimOptions::quiet_harness its scheduling
 * points make no choice again, as the setup's did, until the run ends (a later
 * sim_setup_done() does not undo it). No-op under native.
 */
inline void sim_teardown_begin() {
  if (SimHooks* h = tls_sim_hooks) h->teardown_begin();
}

/** cond_resched() - voluntary scheduling point in long loops. */
inline void cond_resched() {
  might_sleep();
  sched_point(SchedPoint::kYield);
}

// ---- resolving the backend once per call ----------------------------------------------
//
// A thread's backend never changes while it runs model code, so a hot loop (the GUP-fast
// pte walk, unpin of a page array) can ask once per call and be instantiated for the
// answer. The primitives that take a scheduling-point policy S (READ_ONCE<S>(),
// atomic_read<S>(), ...) then make their point through S::point():
//
//   SchedCheck   ask the thread at every point (the default, what sched_point() does);
//   SchedNative  this thread is known to be native: every point vanishes at compile
//                time, and what is left is the plain std::atomic operation;
//   SchedOwned   the word cannot change under the caller (a lock it holds excludes
//                every writer): no point under either backend.
//
// Under the sim backend a caller always runs with SchedCheck, so the sim sees exactly
// the points it would see without the policy.

/** SchedCheck - a scheduling point that asks the running thread (sched_point()). */
struct SchedCheck {
  static constexpr bool kNative = false;
  static void point(SchedPoint why, const void* obj) { sched_point(why, obj); }
};
/** SchedNative - for a thread known to run natively: no scheduling point at all. */
struct SchedNative {
  static constexpr bool kNative = true;
  static void point(SchedPoint, const void*) {}
};

/**
 * SchedOwned - for a read of a word that no other task can change meanwhile: every
 * writer of it holds a lock the caller holds. Nobody can tell where between that lock
 * and the caller's next visible operation the read happened, so it is no scheduling
 * point under either backend (a point there would only give the same interleavings
 * again). E.g. free_pgtables() reading table entries under page_table_lock.
 */
struct SchedOwned {
  static constexpr bool kNative = false;
  static void point(SchedPoint, const void*) {}
};

/**
 * sched_dispatch() - call @fn(SchedNative{}) on a native thread, @fn(SchedCheck{}) on a
 * thread under the deterministic backend: the one test a hot loop makes per call.
 * Usage: sched_dispatch([&](auto s) { using S = decltype(s); ... });
 */
template <typename Fn>
decltype(auto) sched_dispatch(Fn&& fn) {
  if (unlikely(tls_sim_hooks != nullptr)) return fn(SchedCheck{});
  return fn(SchedNative{});
}

}  // namespace guplab
