// workqueue_test.cc - work queued from interrupt context runs later in process context,
// in order; flush() waits for everything queued before it; destroy() leaves nothing
// behind; under the sim backend, producers racing a flush never lose an item (seeds).
#include "base/workqueue.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/preempt.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

workqueue_struct::spawn_fn spawner(Machine* m) {
  return [m](const std::string& comm, std::function<void()> body) { return m->spawn(comm, std::move(body)); };
}

TEST(WorkqueueTest, WorkQueuedInInterruptContextRunsInProcessContextInOrder) {
  Machine m(testing::small_config());
  std::vector<int> ran;
  std::vector<int> contexts;
  std::vector<std::string> comms;
  m.run([&] {
    workqueue_struct wq("kworker/test");
    wq.start(spawner(&m));
    {
      IrqContext irq;  // as a bi_end_io
      for (int i = 0; i < 50; i++)
        wq.queue_work([&, i] {
          ran.push_back(i);
          contexts.push_back(preempt_count());
          comms.push_back(current()->comm);
        });
    }
    wq.flush();
    EXPECT_EQ(ran.size(), 50u) << "flush() returns once all of it has run";
    EXPECT_EQ(wq.pending(), 0u);
    EXPECT_EQ(wq.stats().queued, 50u);
    EXPECT_EQ(wq.stats().done, 50u);
    wq.destroy();
  });
  for (int i = 0; i < 50; i++) EXPECT_EQ(ran[static_cast<size_t>(i)], i);
  for (int c : contexts) EXPECT_EQ(c, 0);
  for (const auto& c : comms) EXPECT_EQ(c, "kworker/test");
  EXPECT_EQ(m.nr_warnings(), 0u) << "queueing never sleeps";
}

TEST(WorkqueueTest, WithoutAWorkerFlushAndDestroyRunTheWorkThemselves) {
  Machine m(testing::small_config());
  int ran = 0;
  m.run([&] {
    workqueue_struct wq("kworker/none");
    wq.queue_work([&] { ran++; });
    wq.flush();
    EXPECT_EQ(ran, 1);
    wq.queue_work([&] { ran++; });
    wq.destroy();
    EXPECT_EQ(ran, 2);
  });
}

TEST(WorkqueueTest, DestroyRunsWhatWasQueuedAndStopsTheWorker) {
  Machine m(testing::small_config());
  int ran = 0;
  m.run([&] {
    workqueue_struct wq("kworker/d");
    wq.start(spawner(&m));
    for (int i = 0; i < 10; i++) wq.queue_work([&] { ran++; });
    wq.destroy();
    EXPECT_EQ(ran, 10);
    wq.destroy();  // idempotent
  });
  EXPECT_EQ(ran, 10);
}

/** Producers in interrupt context race a flusher; every seed, nothing queued before a flush is missed. */
TEST(WorkqueueSim, FlushSeesEverythingQueuedBeforeItUnderEverySeed) {
  for (uint64_t seed = 1; seed <= 30; seed++) {
    MachineConfig cfg = testing::small_config();
    cfg.backend = Backend::sim;
    cfg.seed = seed;
    Machine m(cfg);
    int ran = 0;
    bool flush_ok = true;
    m.run([&] {
      workqueue_struct wq("kworker/sim");
      wq.start(spawner(&m));
      task_struct* prod[2];
      for (int k = 0; k < 2; k++)
        prod[k] = m.spawn("irq/prod", [&] {
          for (int i = 0; i < 5; i++) {
            {
              IrqContext irq;
              wq.queue_work([&] { ran++; });
            }
            cond_resched();  // out of the irq: a scheduling point
          }
        });
      // A flush in the middle covers what was queued before it, whatever came after.
      const uint64_t before = wq.stats().queued;
      wq.flush();
      flush_ok = wq.stats().done >= before;
      for (task_struct* t : prod) task_join(t);
      wq.flush();
      EXPECT_EQ(ran, 10) << "seed " << seed;
      wq.destroy();
    });
    ASSERT_NE(m.sim_result(), nullptr);
    EXPECT_TRUE(m.sim_result()->ok()) << "seed " << seed << ": " << m.sim_result()->format();
    EXPECT_TRUE(flush_ok) << "seed " << seed;
    EXPECT_EQ(ran, 10) << "seed " << seed;
    EXPECT_EQ(m.nr_warnings(), 0u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace guplab
