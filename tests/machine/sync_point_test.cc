// sync_point_test.cc - scripted interleavings force an order between tasks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/spinlock.h"
#include "machine/sync_point.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

using testing::MachineTest;

TEST_F(MachineTest, DependencyOrdersTwoTasks) {
  spinlock_t lock;
  std::vector<std::string> order;
  auto log = [&](const char* s) {
    SpinGuard g(&lock);
    order.push_back(s);
  };
  m().sync_points().load_dependency({{"writer:done", "reader:start"}});
  m().sync_points().enable();
  // The reader is started first, yet must run after the writer.
  task_struct* r = m().spawn("reader", [&] {
    TEST_SYNC_POINT("reader:start");
    log("read");
  });
  sleep_ns(10 * NSEC_PER_MSEC);
  task_struct* w = m().spawn("writer", [&] {
    log("write");
    TEST_SYNC_POINT("writer:done");
  });
  task_join(r);
  task_join(w);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "write");
  EXPECT_EQ(order[1], "read");
  EXPECT_EQ(m().sync_points().hits("reader:start"), 1u);
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
