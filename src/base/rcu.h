// rcu.h - read-copy-update: rcu_read_lock/unlock, synchronize_rcu, call_rcu.
//
// Native: liburcu's memory-barrier flavour (urcu-memb), the library the kernel's own
// user-space tests use; model tasks register their threads when they start. Sim: the
// deterministic backend tracks read-side sections of fibers itself.
// The lockless GUP-fast walk reads page tables under rcu_read_lock(), and page-table
// pages are freed through call_rcu(), so a walker never reads a freed table.
//
// Threading: any task. synchronize_rcu() must not be called inside a read-side section.
#pragma once

namespace guplab {

/** rcu_head - embed in an object to free it after a grace period. */
struct rcu_head {
  alignas(16) unsigned char backend_storage[16];  // liburcu's own rcu_head lives here
  void (*func)(rcu_head* head) = nullptr;
  rcu_head* sim_next = nullptr;
};

void rcu_read_lock();
void rcu_read_unlock();
void synchronize_rcu();
/** call_rcu() - call @func(@head) once every current reader has left its section. */
void call_rcu(rcu_head* head, void (*func)(rcu_head*));
/** rcu_barrier() - wait until every call_rcu() callback queued so far has run. */
void rcu_barrier();
/** rcu_read_lock_held() - is the running task inside a read-side section? */
bool rcu_read_lock_held();

/** rcu_register_thread_once() - make the calling OS thread an RCU reader (native). */
bool rcu_register_thread_once();
void rcu_unregister_thread_now();

/** RcuReadGuard - a read-side section for a scope. */
class RcuReadGuard {
 public:
  RcuReadGuard() { rcu_read_lock(); }
  ~RcuReadGuard() { rcu_read_unlock(); }
  RcuReadGuard(const RcuReadGuard&) = delete;
  RcuReadGuard& operator=(const RcuReadGuard&) = delete;
};

}  // namespace guplab
