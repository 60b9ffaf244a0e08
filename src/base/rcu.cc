// rcu.cc - RCU over liburcu (urcu-memb) natively, or the sim backend's own tracking.
#include <urcu/urcu-memb.h>

#include <atomic>
// liburcu maps the generic names onto its flavour with macros; ours are functions.
#undef rcu_read_lock
#undef rcu_read_unlock
#undef synchronize_rcu
#undef call_rcu
#undef rcu_barrier
#undef rcu_register_thread
#undef rcu_unregister_thread


#include "base/rcu.h"
#include "base/sched.h"
#include "base/task.h"
#include "base/bug.h"

#if defined(GUPLAB_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#if defined(GUPLAB_TSAN)
// liburcu is not built with TSan, so its internal synchronisation (uatomic, futexes)
// is invisible and its own allocations look racy: rcu_barrier()'s completion record is
// calloc'ed by the caller and freed by the call_rcu thread after an atomic refcount
// drop TSan cannot see. Ignore what happens inside the library; our callbacks (our
// code, on its thread) are still checked, with the annotations below.
extern "C" const char* __tsan_default_suppressions() { return "called_from_lib:liburcu-memb.so\n"; }
#endif

namespace guplab {

static_assert(sizeof(::rcu_head) <= sizeof(guplab::rcu_head::backend_storage));

namespace {
// ThreadSanitizer cannot see liburcu's grace periods (they use membarrier). Readers
// "release" this address when they leave a section and grace periods "acquire" it,
// which tells TSan exactly the happens-before that RCU guarantees. Not state: only an
// address for the annotations.
#if defined(GUPLAB_TSAN)
char tsan_rcu_token;
inline void tsan_reader_exit() { __tsan_release(&tsan_rcu_token); }
inline void tsan_grace_period_end() { __tsan_acquire(&tsan_rcu_token); }
#else
inline void tsan_reader_exit() {}
inline void tsan_grace_period_end() {}
#endif

// Callbacks handed to liburcu and not finished yet. liburcu's callback queue is
// process-wide, so this mirror of its length is too (it is part of the backend, not
// model state): with nothing queued, rcu_barrier() has nothing to wait for and returns
// at once, instead of a round trip through liburcu's call_rcu thread that costs
// milliseconds once that thread exists (every sim machine's teardown would pay it).
std::atomic<long> native_callbacks_pending{0};

thread_local bool tls_rcu_registered = false;
thread_local int tls_rcu_nesting = 0;

void urcu_trampoline(::rcu_head* h) {
  auto* head = reinterpret_cast<guplab::rcu_head*>(h);
  tsan_grace_period_end();
  head->func(head);
  tsan_reader_exit();  // what the callback did happens before a later rcu_barrier() returns
  native_callbacks_pending.fetch_sub(1, std::memory_order_release);
}
}  // namespace

bool rcu_register_thread_once() {
  if (tls_rcu_registered) return false;
  urcu_memb_register_thread();
  tls_rcu_registered = true;
  return true;
}

void rcu_unregister_thread_now() {
  GUPLAB_CHECK(tls_rcu_nesting == 0);
  if (!tls_rcu_registered) return;
  urcu_memb_unregister_thread();
  tls_rcu_registered = false;
}

void rcu_read_lock() {
  if (SimHooks* h = sim_hooks()) return h->rcu_read_lock();
  GUPLAB_CHECK(tls_rcu_registered && "rcu_read_lock on a thread that is not a model task");
  tls_rcu_nesting++;
  urcu_memb_read_lock();
}

void rcu_read_unlock() {
  if (SimHooks* h = sim_hooks()) return h->rcu_read_unlock();
  GUPLAB_CHECK(tls_rcu_nesting > 0);
  tsan_reader_exit();
  urcu_memb_read_unlock();
  tls_rcu_nesting--;
}

bool rcu_read_lock_held() {
  if (sim_hooks()) {
    task_struct* t = current();
    return t && t->rcu_nesting > 0;
  }
  return tls_rcu_nesting > 0;
}

void synchronize_rcu() {
  if (SimHooks* h = sim_hooks()) return h->synchronize_rcu();
  GUPLAB_CHECK(tls_rcu_nesting == 0 && "synchronize_rcu inside a read-side section");
  bool reg = rcu_register_thread_once();
  urcu_memb_synchronize_rcu();
  tsan_grace_period_end();
  if (reg) rcu_unregister_thread_now();
}

void call_rcu(rcu_head* head, void (*func)(rcu_head*)) {
  head->func = func;
  if (SimHooks* h = sim_hooks()) return h->call_rcu(head);
  tsan_reader_exit();  // the caller's own writes happen before the callback
  bool reg = rcu_register_thread_once();
  native_callbacks_pending.fetch_add(1, std::memory_order_relaxed);
  urcu_memb_call_rcu(reinterpret_cast<::rcu_head*>(head->backend_storage), urcu_trampoline);
  if (reg) rcu_unregister_thread_now();
}

void rcu_barrier() {
  if (SimHooks* h = sim_hooks()) return h->rcu_barrier();
  // Every callback queued before now has run (its decrement came after its body).
  if (native_callbacks_pending.load(std::memory_order_acquire) == 0) {
    tsan_grace_period_end();
    return;
  }
  bool reg = rcu_register_thread_once();
  urcu_memb_barrier();
  tsan_grace_period_end();
  if (reg) rcu_unregister_thread_now();
}

}  // namespace guplab
