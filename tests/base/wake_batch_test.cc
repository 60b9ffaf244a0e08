// wake_batch_test.cc - deferred wake-ups: they run when the batch ends (in order, once
// each), not at all without a batch, never for another task's batch, into the outermost
// of nested batches, and early when a batch fills.
#include "base/wake_batch.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/test_machine.h"

namespace guplab {
namespace {

class WakeBatchTest : public testing::MachineTest {};

/** A wake-up that records its number in its test's log. */
struct Rec {
  std::vector<int>* log;
  int i;
};
void record(void* arg) {
  auto* r = static_cast<Rec*>(arg);
  r->log->push_back(r->i);
}

TEST_F(WakeBatchTest, DeferredWakeupsRunWhenTheBatchEnds) {
  std::vector<int> log;
  Rec r[4] = {{&log, 0}, {&log, 1}, {&log, 2}, {&log, 3}};
  EXPECT_FALSE(wake_defer(record, &r[0])) << "no batch open: the caller wakes at once";
  {
    WakeBatch b;
    EXPECT_TRUE(wake_defer(record, &r[1]));
    EXPECT_TRUE(wake_defer(record, &r[2]));
    EXPECT_TRUE(log.empty()) << "held until the batch ends";
    {
      WakeBatch inner;
      EXPECT_TRUE(wake_defer(record, &r[3]));
    }
    EXPECT_TRUE(log.empty()) << "a nested batch defers into the outermost";
  }
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
}

TEST_F(WakeBatchTest, FullBatchFlushesAndFlushRunsNow) {
  std::vector<int> log;
  std::vector<Rec> r;
  for (int i = 0; i < 65; i++) r.push_back({&log, i});
  {
    WakeBatch b;
    for (int i = 0; i < 65; i++) EXPECT_TRUE(wake_defer(record, &r[static_cast<size_t>(i)]));
    EXPECT_EQ(log.size(), 64u) << "the 65th found the batch full: the first 64 ran";
    b.flush();
    EXPECT_EQ(log.size(), 65u);
  }
  EXPECT_EQ(log.size(), 65u) << "each ran once";
}

TEST_F(WakeBatchTest, AnotherTaskDoesNotDeferIntoOurs) {
  WakeBatch b;
  bool deferred = true;
  task_struct* t = m().spawn("other", [&] {
    int x = 0;
    deferred = wake_defer([](void*) {}, &x);
  });
  task_join(t);
  EXPECT_FALSE(deferred) << "a batch belongs to the task that opened it";
}

}  // namespace
}  // namespace guplab
