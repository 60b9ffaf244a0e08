// rcu_test.cc - grace periods wait for readers; call_rcu runs after them. The orderings
// are explored on the sim backend, seed by seed (tests/sim_run.h); the native runs are
// smoke tests that wait for events, never for time.
#include <gtest/gtest.h>

#include <atomic>

#include "base/clock.h"
#include "base/completion.h"
#include "base/rcu.h"
#include "tests/sim_run.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

using testing::MachineTest;

/** A reader that enters its section, says so, and stays until told to leave. */
void reader_body(completion* inside, completion* leave, std::atomic<bool>* done) {
  rcu_read_lock();
  complete(inside);
  wait_for_completion(leave);
  done->store(true);
  rcu_read_unlock();
}

TEST(RcuSim, SynchronizeRcuWaitsForAReader) {
  testing::expect_every_seed(testing::small_config(), 50, [](Machine& m) {
    completion inside, leave;
    init_completion(&inside);
    init_completion(&leave);
    std::atomic<bool> reader_done{false};
    std::atomic<bool> synced{false};
    task_struct* r = m.spawn("reader", [&] { reader_body(&inside, &leave, &reader_done); });
    wait_for_completion(&inside);
    task_struct* s = m.spawn("syncer", [&] {
      synchronize_rcu();
      EXPECT_TRUE(reader_done.load()) << "the grace period ended inside a read-side section";
      synced.store(true);
    });
    // Virtual time: every task parks before the timer fires; the syncer must still wait.
    sleep_ns(20 * NSEC_PER_MSEC);
    EXPECT_FALSE(synced.load()) << "synchronize_rcu() returned while a reader was inside";
    complete(&leave);
    task_join(r);
    task_join(s);
    EXPECT_TRUE(synced.load());
  });
}

TEST_F(MachineTest, SynchronizeRcuWaitsForAReader) {
  completion inside, leave;
  init_completion(&inside);
  init_completion(&leave);
  std::atomic<bool> reader_done{false};
  task_struct* r = m().spawn("reader", [&] { reader_body(&inside, &leave, &reader_done); });
  wait_for_completion(&inside);
  task_struct* s = m().spawn("syncer", [&] {
    synchronize_rcu();
    EXPECT_TRUE(reader_done.load()) << "the grace period ended inside a read-side section";
  });
  complete(&leave);
  task_join(r);
  task_join(s);
}

struct Obj {
  rcu_head rcu;
  std::atomic<int>* freed;
};

void queue_free(std::atomic<int>* freed) {
  auto* o = new Obj{{}, freed};
  call_rcu(&o->rcu, [](rcu_head* h) {
    Obj* obj = container_of(h, Obj, rcu);
    obj->freed->fetch_add(1);
    delete obj;
  });
}

TEST(RcuSim, CallRcuRunsAfterAGracePeriod) {
  testing::expect_every_seed(testing::small_config(), 50, [](Machine&) {
    std::atomic<int> freed{0};
    rcu_read_lock();
    queue_free(&freed);
    sleep_ns(20 * NSEC_PER_MSEC);  // virtual: the rcu kthread ran as far as it could
    EXPECT_EQ(freed.load(), 0) << "callback ran inside a read-side section";
    rcu_read_unlock();
    rcu_barrier();
    EXPECT_EQ(freed.load(), 1);
  });
}

TEST_F(MachineTest, CallRcuRunsAfterAGracePeriod) {
  std::atomic<int> freed{0};
  rcu_read_lock();
  queue_free(&freed);
  EXPECT_EQ(freed.load(), 0) << "callback ran inside a read-side section";
  rcu_read_unlock();
  rcu_barrier();
  EXPECT_EQ(freed.load(), 1);
}

}  // namespace
}  // namespace guplab
