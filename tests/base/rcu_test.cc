// rcu_test.cc - grace periods wait for readers; call_rcu runs after them.
#include <gtest/gtest.h>

#include <atomic>

#include "base/clock.h"
#include "base/rcu.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

using testing::MachineTest;

TEST_F(MachineTest, SynchronizeRcuWaitsForAReader) {
  std::atomic<int> phase{0};
  std::atomic<bool> reader_done{false};
  task_struct* r = m().spawn("reader", [&] {
    rcu_read_lock();
    phase = 1;
    sleep_ns(50 * NSEC_PER_MSEC);
    reader_done = true;
    rcu_read_unlock();
  });
  while (phase.load() == 0) sleep_ns(NSEC_PER_MSEC);
  synchronize_rcu();
  EXPECT_TRUE(reader_done.load());
  task_join(r);
}

struct Obj {
  rcu_head rcu;
  std::atomic<int>* freed;
};

TEST_F(MachineTest, CallRcuRunsAfterAGracePeriod) {
  std::atomic<int> freed{0};
  auto* o = new Obj{{}, &freed};
  rcu_read_lock();
  call_rcu(&o->rcu, [](rcu_head* h) {
    Obj* obj = container_of(h, Obj, rcu);
    obj->freed->fetch_add(1);
    delete obj;
  });
  sleep_ns(20 * NSEC_PER_MSEC);
  EXPECT_EQ(freed.load(), 0) << "callback ran inside a read-side section";
  rcu_read_unlock();
  rcu_barrier();
  EXPECT_EQ(freed.load(), 1);
}

}  // namespace
}  // namespace guplab
