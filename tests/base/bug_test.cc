// bug_test.cc - BUG_ON records an oops and halts the machine; WARN_ON records and goes on.
#include <gtest/gtest.h>

#include "base/bug.h"
#include "base/spinlock.h"
#include "base/task.h"
#include "base/wait.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

TEST(BugTest, BugOnEndsTheTaskAndHaltsTheMachine) {
  Machine m(testing::small_config());
  bool after = false;
  task_join(m.spawn("victim", [&] {
    BUG_ON(1 + 1 == 2);
    after = true;
  }));
  EXPECT_FALSE(after);
  EXPECT_TRUE(m.halted());
  ASSERT_EQ(m.nr_oops(), 1u);
  auto o = m.oopses()[0];
  EXPECT_EQ(o.task, "victim");
  EXPECT_NE(o.cond.find("1 + 1 == 2"), std::string::npos);
  EXPECT_NE(o.format().find("kernel BUG at"), std::string::npos);
}

TEST(BugTest, OtherTasksBlockedOnAHaltedMachineUnwind) {
  Machine m(testing::small_config());
  spinlock_t lock;
  wait_queue_head_t wq;
  bool waiter_returned_normally = false;
  task_struct* holder = m.spawn("holder", [&]() NO_THREAD_SAFETY_ANALYSIS {
    spin_lock(&lock);
    BUG();  // dies holding the lock
  });
  task_join(holder);
  task_struct* w = m.spawn("waiter", [&] {
    wait_event(&wq, [] { return false; });
    waiter_returned_normally = true;
  });
  task_struct* l = m.spawn("locker", [&]() NO_THREAD_SAFETY_ANALYSIS { spin_lock(&lock); });
  task_join(w);
  task_join(l);
  EXPECT_FALSE(waiter_returned_normally);
  EXPECT_EQ(m.nr_oops(), 1u);
}

TEST(BugTest, WarnOnRecordsAndContinues) {
  Machine m(testing::small_config());
  int hits = 0;
  m.run([&] {
    for (int i = 0; i < 3; i++) {
      if (WARN_ON(i >= 1)) hits++;
      WARN_ON_ONCE(true);
    }
  });
  EXPECT_EQ(hits, 2);
  EXPECT_FALSE(m.halted());
  EXPECT_EQ(m.nr_warnings(), 3u);  // two WARN_ON hits + one WARN_ON_ONCE
}

TEST(BugTest, OopsCarriesRecentEventsWhenTracing) {
  MachineConfig c = testing::small_config();
  c.trace = true;
  c.trace_ring = 4;
  Machine m(c);
  m.run([&] {
    for (int i = 0; i < 6; i++) m.trace("event " + std::to_string(i));
    BUG();
  });
  ASSERT_EQ(m.nr_oops(), 1u);
  auto ev = m.oopses()[0].recent_events;
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev.front(), "event 2");
  EXPECT_EQ(ev.back(), "event 5");
}

}  // namespace
}  // namespace guplab
