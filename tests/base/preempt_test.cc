// preempt_test.cc - atomic/interrupt context on the task, and might_sleep(): a sleeping
// primitive called in that context is reported on the machine as the kernel's "BUG:
// sleeping function called from invalid context" (a WARN-like result: the task goes on).
#include "base/preempt.h"

#include <gtest/gtest.h>

#include "base/bit_wait.h"
#include "base/rwsem.h"
#include "base/wait.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

size_t might_sleep_reports(const Machine& m) {
  size_t n = 0;
  for (const auto& w : m.warnings()) n += w.cond == kMightSleepCond;
  return n;
}

TEST(PreemptTest, ContextNestsAndUnwinds) {
  Machine m(testing::small_config());
  m.run([&] {
    EXPECT_FALSE(in_atomic());
    EXPECT_FALSE(in_interrupt());
    preempt_disable();
    EXPECT_TRUE(in_atomic());
    EXPECT_FALSE(in_interrupt());
    {
      IrqContext irq;
      EXPECT_TRUE(in_interrupt());
      EXPECT_TRUE(in_hardirq());
    }
    EXPECT_FALSE(in_interrupt());
    preempt_enable();
    EXPECT_FALSE(in_atomic());
  });
  EXPECT_EQ(m.nr_warnings(), 0u);
}

TEST(PreemptTest, UnbalancedExitIsAWarningNotACorruption) {
  Machine m(testing::small_config());
  m.run([&] {
    irq_exit();
    preempt_enable();
    EXPECT_EQ(preempt_count(), 0);
  });
  EXPECT_EQ(m.nr_warnings(), 2u);
}

TEST(PreemptTest, RwsemInInterruptContextIsReportedWithTheKernelsWords) {
  Machine m(testing::small_config());
  rw_semaphore sem;
  init_rwsem(&sem, "test sem");
  bool went_on = false;
  m.run([&] {
    IrqContext irq;
    down_write(&sem);  // free: it does not sleep, but it might have
    up_write(&sem);
    went_on = true;
  });
  EXPECT_TRUE(went_on) << "a report, not an oops";
  EXPECT_FALSE(m.halted());
  ASSERT_EQ(m.nr_warnings(), 1u);
  const OopsRecord w = m.warnings()[0];
  EXPECT_EQ(w.kind, "BUG");
  EXPECT_EQ(w.cond, kMightSleepCond);
  EXPECT_NE(w.site.find("rwsem.cc"), std::string::npos) << w.site;
  EXPECT_NE(w.message.find("in_interrupt(): 1"), std::string::npos) << w.message;
  EXPECT_NE(w.format().find("BUG: sleeping function called from invalid context at "), std::string::npos)
      << w.format();
}

TEST(PreemptTest, EverySleepingPrimitiveSaysSoOnceAPerSite) {
  Machine m(testing::small_config());
  rw_semaphore sem;
  init_rwsem(&sem, "test sem");
  wait_queue_head_t wq;
  bitword_t word = 0;
  m.run([&] {
    preempt_disable();
    for (int i = 0; i < 2; i++) {  // the second round adds nothing: once per site
      down_read(&sem);
      up_read(&sem);
      wait_event(&wq, [] { return true; });  // reported even though it need not wait
      wait_on_bit(m.bit_wait_table(), &word, 0);
      cond_resched();
      sleep_ns(1);
    }
    preempt_enable();
  });
  // down_read, wait_event (the header's site, once for every caller), wait_on_bit,
  // cond_resched, sleep_ns.
  EXPECT_EQ(might_sleep_reports(m), 5u);
  EXPECT_EQ(m.nr_warnings(), 5u);
}

TEST(PreemptTest, ProcessContextIsNeverReported) {
  Machine m(testing::small_config());
  rw_semaphore sem;
  init_rwsem(&sem, "test sem");
  wait_queue_head_t wq;
  m.run([&] {
    down_write(&sem);
    up_write(&sem);
    wait_event(&wq, [] { return true; });
    sleep_ns(1);
  });
  EXPECT_EQ(m.nr_warnings(), 0u);
}

}  // namespace
}  // namespace guplab
