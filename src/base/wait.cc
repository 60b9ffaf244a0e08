// wait.cc - wait queue sleep and wake.
#include "base/wait.h"

#include <climits>

namespace guplab {

void wait_queue_sleep(wait_queue_head_t* wq, uint32_t seq, const char* what) {
  wq->sleepers.fetch_add(1, std::memory_order_seq_cst);
  try {
    futex_wait(&wq->seq, seq, what ? what : wq->name);
  } catch (...) {
    wq->sleepers.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  wq->sleepers.fetch_sub(1, std::memory_order_relaxed);
}

void wait_queue_sleep_killable(wait_queue_head_t* wq, uint32_t seq) {
  wq->sleepers.fetch_add(1, std::memory_order_seq_cst);
  try {
    futex_wait_killable(&wq->seq, seq, wq->name);
  } catch (...) {
    wq->sleepers.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  wq->sleepers.fetch_sub(1, std::memory_order_relaxed);
}

void wait_queue_sleep_until(wait_queue_head_t* wq, uint32_t seq, uint64_t deadline_ns) {
  wq->sleepers.fetch_add(1, std::memory_order_seq_cst);
  try {
    futex_wait_until(&wq->seq, seq, deadline_ns, wq->name);
  } catch (...) {
    wq->sleepers.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  wq->sleepers.fetch_sub(1, std::memory_order_relaxed);
}

void wake_up_all(wait_queue_head_t* wq) {
  wq->seq.fetch_add(1, std::memory_order_seq_cst);
  if (wq->sleepers.load(std::memory_order_seq_cst) != 0) futex_wake(&wq->seq, INT_MAX);
  sched_point(SchedPoint::kWake, wq);
}

}  // namespace guplab
