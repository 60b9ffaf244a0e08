// wake_batch.cc - deferred wake-ups at the end of a batch.
#include "base/wake_batch.h"


#include "base/sched.h"
#include "base/task.h"
#include "base/bug.h"

namespace guplab {

namespace {
// The innermost open batch of this OS thread (native: one task per thread). Under sim
// every fiber shares the thread and scopes of different fibers would interleave, so
// there batches defer nothing: every wake-up goes out at once.
constinit thread_local WakeBatch* tls_wake_batch = nullptr;
}  // namespace

WakeBatch::WakeBatch() : owner_(sim_hooks() ? nullptr : current()), outer_(nullptr) {
  if (!owner_) return;
  outer_ = tls_wake_batch;
  tls_wake_batch = this;
}

WakeBatch::~WakeBatch() {
  flush();
  if (!owner_) return;
  GUPLAB_CHECK(tls_wake_batch == this && "WakeBatch scopes must nest");
  tls_wake_batch = outer_;
}

void WakeBatch::flush() {
  // Deferred wake-ups wake directly; none defers again.
  for (size_t i = 0; i < nr_; i++) entries_[i].fn(entries_[i].arg);
  nr_ = 0;
}

bool wake_defer(deferred_wake_fn fn, void* arg) {
  WakeBatch* b = tls_wake_batch;
  if (!b || sim_hooks()) return false;
  while (b->outer_) b = b->outer_;  // the outermost
  if (b->owner_ != current()) return false;
  if (b->nr_ == WakeBatch::kMax) b->flush();
  b->entries_[b->nr_++] = WakeBatch::Entry{fn, arg};
  return true;
}

}  // namespace guplab
