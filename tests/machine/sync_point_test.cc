// sync_point_test.cc - scripted interleavings force an order between tasks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/spinlock.h"
#include "machine/sync_point.h"
#include "tests/sim_run.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

using testing::MachineTest;

/** The reader is started first (and, if @reader_first, has reached its point), yet runs after the writer. */
void dependency_case(Machine& m, bool reader_first) {
  spinlock_t lock;
  std::vector<std::string> order;
  auto log = [&](const char* s) {
    SpinGuard g(&lock);
    order.push_back(s);
  };
  m.sync_points().load_dependency({{"writer:done", "reader:start"}});
  m.sync_points().enable();
  task_struct* r = m.spawn("reader", [&] {
    TEST_SYNC_POINT("reader:start");
    log("read");
  });
  if (reader_first) sleep_ns(10 * NSEC_PER_MSEC);  // sim: virtual, the reader waits at its point
  task_struct* w = m.spawn("writer", [&] {
    log("write");
    TEST_SYNC_POINT("writer:done");
  });
  task_join(r);
  task_join(w);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "write");
  EXPECT_EQ(order[1], "read");
  EXPECT_EQ(m.sync_points().hits("reader:start"), 1u);
  m.sync_points().disable();
}

TEST_F(MachineTest, DependencyOrdersTwoTasks) { dependency_case(m(), false); }

TEST(SyncPointSim, DependencyOrdersTwoTasksUnderEverySeed) {
  for (bool reader_first : {false, true})
    testing::expect_every_seed(testing::small_config(), 30, [&](Machine& m) { dependency_case(m, reader_first); });
}

TEST_F(MachineTest, CallbackRunsAtThePoint) {
  int fired = 0;
  m().sync_points().set_callback("x", [&] { fired++; });
  TEST_SYNC_POINT("x");
  EXPECT_EQ(fired, 0) << "disabled sync points do nothing";
  m().sync_points().enable();
  TEST_SYNC_POINT("x");
  TEST_SYNC_POINT("x");
  EXPECT_EQ(fired, 2);
  EXPECT_TRUE(m().sync_points().reached("x"));
  EXPECT_FALSE(m().sync_points().reached("y"));
}

}  // namespace
}  // namespace guplab
