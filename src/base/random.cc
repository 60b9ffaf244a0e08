// random.cc - draws from the running task's seeded stream.
#include "base/random.h"

#include "base/bug.h"
#include "base/sched.h"
#include "base/task.h"

namespace guplab {

uint32_t get_random_u32() {
  sched_point(SchedPoint::kRandom);
  task_struct* t = current();
  BUG_ON(!t);
  return t->rng.next_u32();
}

uint64_t get_random_u64_below(uint64_t n) {
  sched_point(SchedPoint::kRandom);
  task_struct* t = current();
  BUG_ON(!t);
  return t->rng.uniform(n);
}

}  // namespace guplab
