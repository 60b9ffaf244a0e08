// sim_rcu_test.cc - grace periods wait for exactly the readers present at their start.
#include "sim/sim_rcu.h"

#include <gtest/gtest.h>

namespace guplab {
namespace {

TEST(SimRcu, NoReadersMeansAnImmediateGracePeriod) {
  SimRcu r;
  r.add_task(0);
  r.add_task(1);
  EXPECT_TRUE(r.snapshot().empty());
  EXPECT_TRUE(r.complete(r.snapshot()));
}

TEST(SimRcu, WaitsForPresentReadersOnly) {
  SimRcu r;
  for (SimChoice id = 0; id < 3; id++) r.add_task(id);
  r.enter(0);
  SimRcu::Snapshot gp = r.snapshot();
  ASSERT_EQ(gp.size(), 1u);
  EXPECT_FALSE(r.complete(gp));
  r.enter(1);  // a reader that starts later does not hold up this grace period
  EXPECT_FALSE(r.complete(gp));
  r.exit(0);
  EXPECT_TRUE(r.complete(gp));
  r.enter(0);  // re-entering does not reopen it
  EXPECT_TRUE(r.complete(gp));
  EXPECT_EQ(r.nr_reading(), 2u);
}

TEST(SimRcu, AnEndedTaskIsQuiescent) {
  SimRcu r;
  r.add_task(0);
  r.enter(0);
  SimRcu::Snapshot gp = r.snapshot();
  r.task_ended(0);  // unwound inside its section
  EXPECT_TRUE(r.complete(gp));
  EXPECT_EQ(r.nr_reading(), 0u);
}

TEST(SimRcu, CallbacksBecomeReadyInOrder) {
  SimRcu r;
  r.add_task(0);
  r.add_task(1);
  rcu_head a, b, c;
  r.enqueue(&a);  // nobody reads: ready at once
  r.enter(0);
  r.enqueue(&b);  // waits for task 0
  r.enter(1);
  r.enqueue(&c);  // waits for tasks 0 and 1
  EXPECT_EQ(r.queued(), 3u);
  EXPECT_EQ(r.pop_ready(), &a);
  r.callback_done();
  EXPECT_EQ(r.pop_ready(), nullptr);
  r.exit(1);
  EXPECT_FALSE(r.has_ready());  // c waits for 0 too, and b is first anyway
  r.exit(0);
  EXPECT_EQ(r.pop_ready(), &b);
  r.callback_done();
  EXPECT_EQ(r.pop_ready(), &c);
  r.callback_done();
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.done(), 3u);
}

}  // namespace
}  // namespace guplab
