// scheduler_hooks_test.cc - the seam's calls under sim: waits and wakes, completions,
// futexes, virtual time, joins, RCU, spurious wakeups, buggify, the event stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "base/buggify.h"
#include "base/clock.h"
#include "base/completion.h"
#include "base/futex.h"
#include "base/rcu.h"
#include "base/spinlock.h"
#include "base/wait.h"
#include "sim/event.h"
#include "sim/scheduler.h"
#include "sim/sim_test_util.h"

namespace guplab {
namespace {

using testing::sim_machine;

TEST(SimHooks, WaitEventAndWakeUpAcrossFibers) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    auto m = sim_machine(seed);
    wait_queue_head_t wq;
    init_waitqueue_head(&wq, "test_wq");
    std::atomic<int> stage{0};
    std::vector<int> seen;
    m->run([&] {
      task_struct* consumer = m->spawn("consumer", [&] {
        for (int want = 1; want <= 3; want++) {
          wait_event(&wq, [&] { return stage.load() >= want; });
          seen.push_back(stage.load());
        }
      });
      task_struct* producer = m->spawn("producer", [&] {
        for (int i = 1; i <= 3; i++) {
          cond_resched();
          stage.store(i);
          wake_up(&wq);
          msleep(1);  // let the consumer see each stage
        }
      });
      task_join(consumer);
      task_join(producer);
    });
    ASSERT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3})) << "seed " << seed;
  }
}

TEST(SimHooks, CompletionAndCompleteAll) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    auto m = sim_machine(seed);
    completion one, all;
    init_completion(&one);
    init_completion(&all);
    int passed_one = 0, passed_all = 0;
    m->run([&] {
      std::vector<task_struct*> ts;
      for (int i = 0; i < 3; i++)
        ts.push_back(m->spawn("waiter", [&] {
          wait_for_completion(&all);
          passed_all++;
        }));
      ts.push_back(m->spawn("one", [&] {
        wait_for_completion(&one);
        passed_one++;
      }));
      cond_resched();
      complete(&one);
      complete_all(&all);
      for (task_struct* t : ts) task_join(t);
    });
    ASSERT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
    EXPECT_EQ(passed_one, 1);
    EXPECT_EQ(passed_all, 3);
  }
}

TEST(SimHooks, FutexWakeWakesAtMostNInFifoOrder) {
  for (uint64_t seed = 1; seed <= 10; seed++) {
    auto m = sim_machine(seed);
    std::atomic<uint32_t> word{0};
    std::vector<int> parked, woke;
    m->run([&] {
      std::vector<task_struct*> ts;
      for (int i = 0; i < 3; i++)
        ts.push_back(m->spawn("w" + std::to_string(i), [&, i] {
          cond_resched();
          parked.push_back(i);  // no scheduling point between this and the park
          futex_wait(&word, 0, "test_word");
          woke.push_back(i);
        }));
      msleep(1);  // only timers move time: every waiter has parked by now
      ASSERT_EQ(parked.size(), 3u);
      for (size_t n = 1; n <= 3; n++) {
        futex_wake(&word, 1);
        msleep(1);
        EXPECT_EQ(woke.size(), n);
      }
      futex_wake(&word, INT_MAX);  // nobody left: a no-op
      for (task_struct* t : ts) task_join(t);
    });
    ASSERT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
    EXPECT_EQ(woke, parked) << "seed " << seed;
  }
}

TEST(SimHooks, VirtualTimeAdvancesWithoutSleeping) {
  auto m = sim_machine(4);
  uint64_t slept = 0;
  std::vector<std::string> wake_order;
  m->run([&] {
    const uint64_t t0 = ktime_get_ns();
    task_struct* a = m->spawn("long", [&] {
      sleep_ns(10 * NSEC_PER_SEC);
      wake_order.push_back("long");
    });
    task_struct* b = m->spawn("short", [&] {
      sleep_ns(3 * NSEC_PER_SEC);
      wake_order.push_back("short");
    });
    task_join(a);
    task_join(b);
    slept = ktime_get_ns() - t0;
  });
  EXPECT_GE(slept, 10 * NSEC_PER_SEC);
  EXPECT_LT(slept, 10 * NSEC_PER_SEC + NSEC_PER_MSEC);  // only a few steps on top
  EXPECT_EQ(wake_order, (std::vector<std::string>{"short", "long"}));
  // Time jumped to the timers: at 10 ns a step, 10 s stepped through would be 10^9 steps.
  // (Deterministic, unlike a bound on the host's clock.)
  EXPECT_LT(m->sim_result()->steps, 1000u);
}

TEST(SimHooks, WaitEventTimeoutTimesOutInVirtualTime) {
  auto m = sim_machine(5);
  wait_queue_head_t wq;
  init_waitqueue_head(&wq, "nobody_wakes");
  bool got = true;
  uint64_t waited = 0;
  m->run([&] {
    const uint64_t t0 = ktime_get_ns();
    got = wait_event_timeout(&wq, [] { return false; }, 50 * NSEC_PER_MSEC);
    waited = ktime_get_ns() - t0;
  });
  EXPECT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
  EXPECT_FALSE(got);
  EXPECT_GE(waited, 50 * NSEC_PER_MSEC);
}

TEST(SimHooks, JoinWaitsForTheTarget) {
  auto m = sim_machine(6);
  uint64_t target_end = 0, joined_at = 0;
  m->run([&] {
    task_struct* t = m->spawn("slow", [&] {
      msleep(20);
      target_end = ktime_get_ns();
    });
    task_join(t);
    joined_at = ktime_get_ns();
  });
  EXPECT_GT(target_end, 0u);
  EXPECT_GE(joined_at, target_end);
}

// A reader is switched out inside its read-side section; synchronize_rcu() must not
// return before it has left, whatever the interleaving.
TEST(SimHooks, SynchronizeRcuWaitsForASwitchedOutReader) {
  for (uint64_t seed = 1; seed <= 30; seed++) {
    SimOptions opts;
    opts.strategy = seed % 2 ? SimStrategy::random : SimStrategy::pct;
    auto m = sim_machine(seed, opts);
    bool in_section = false, left = false, violated = false, synced = false;
    m->run([&] {
      task_struct* reader = m->spawn("reader", [&] {
        rcu_read_lock();
        in_section = true;
        EXPECT_TRUE(rcu_read_lock_held());
        for (int i = 0; i < 20; i++) cond_resched();
        msleep(1);  // parked on a timer inside the section: the writer runs meanwhile
        left = true;
        rcu_read_unlock();
      });
      task_struct* writer = m->spawn("writer", [&] {
        while (!in_section) cond_resched();
        synchronize_rcu();
        violated = !left;
        synced = true;
      });
      task_join(reader);
      task_join(writer);
    });
    ASSERT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
    EXPECT_TRUE(synced);
    EXPECT_FALSE(violated) << "seed " << seed;
  }
}

TEST(SimHooks, SynchronizeRcuIgnoresReadersThatStartLater) {
  for (uint64_t seed = 1; seed <= 10; seed++) {
    auto m = sim_machine(seed);
    bool late_done = false, late_done_at_gp_end = true;
    uint64_t gp_start = 0, gp_end = 0;
    m->run([&] {
      completion go;
      init_completion(&go);
      task_struct* early = m->spawn("early_reader", [&] {
        rcu_read_lock();
        msleep(10);
        rcu_read_unlock();
      });
      task_struct* late = m->spawn("late_reader", [&] {
        wait_for_completion(&go);
        rcu_read_lock();
        msleep(100);
        rcu_read_unlock();
        late_done = true;
      });
      task_struct* starter = m->spawn("starter", [&] {
        msleep(5);  // inside the grace period below
        complete(&go);
      });
      msleep(1);  // the early reader is inside its section, the late one waits
      gp_start = ktime_get_ns();
      synchronize_rcu();
      gp_end = ktime_get_ns();
      late_done_at_gp_end = late_done;
      task_join(early);
      task_join(late);
      task_join(starter);
    });
    ASSERT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
    EXPECT_FALSE(late_done_at_gp_end) << "the grace period waited for a later reader";
    EXPECT_GE(gp_end - gp_start, 8 * NSEC_PER_MSEC) << "it did not wait for the early reader";
    EXPECT_LT(gp_end - gp_start, 50 * NSEC_PER_MSEC);
  }
}

struct TestRcuObj {
  rcu_head rcu;
  int* freed;
  bool* reader_inside;
  bool freed_under_reader = false;
};

TEST(SimHooks, CallRcuRunsAfterTheGracePeriodAndBarrierWaits) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    auto m = sim_machine(seed);
    int freed = 0;
    bool reader_inside = false;
    m->run([&] {
      task_struct* reader = m->spawn("reader", [&] {
        rcu_read_lock();
        reader_inside = true;
        for (int i = 0; i < 10; i++) cond_resched();
        msleep(1);
        reader_inside = false;
        rcu_read_unlock();
      });
      while (!reader_inside) cond_resched();
      auto* obj = new TestRcuObj{{}, &freed, &reader_inside};
      call_rcu(&obj->rcu, [](rcu_head* h) {
        auto* o = container_of(h, TestRcuObj, rcu);
        o->freed_under_reader = *o->reader_inside;
        ++*o->freed;
        EXPECT_FALSE(o->freed_under_reader);
        delete o;
      });
      EXPECT_EQ(freed, 0);
      rcu_barrier();
      EXPECT_EQ(freed, 1);
      EXPECT_FALSE(reader_inside);
      task_join(reader);
    });
    ASSERT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
    EXPECT_EQ(freed, 1);
  }
}

TEST(SimHooks, PendingCallbacksRunBeforeTheRunEnds) {
  auto m = sim_machine(8);
  int freed = 0;
  bool inside = false;
  m->run([&] {
    for (int i = 0; i < 5; i++) {
      auto* obj = new TestRcuObj{{}, &freed, &inside};
      call_rcu(&obj->rcu, [](rcu_head* h) {
        auto* o = container_of(h, TestRcuObj, rcu);
        ++*o->freed;
        delete o;
      });
    }
  });
  EXPECT_EQ(m->sim_result()->outcome, SimOutcome::completed);
  EXPECT_EQ(freed, 5);
}

TEST(SimHooks, SpuriousWakeupsAreInjectedAndHarmless) {
  SimOptions opts;
  opts.spurious_wakeup_p = 0.5;
  auto m = sim_machine(9, opts);
  spinlock_t lock;
  spin_lock_init(&lock, "l");
  completion done;
  init_completion(&done);
  int counter = 0;
  m->run([&] {
    std::vector<task_struct*> ts;
    for (int i = 0; i < 3; i++)
      ts.push_back(m->spawn("inc", [&] {
        for (int k = 0; k < 100; k++) {
          SpinGuard g(&lock);
          int v = counter;
          cond_resched();
          counter = v + 1;
        }
      }));
    task_struct* w = m->spawn("waiter", [&] { wait_for_completion(&done); });
    for (task_struct* t : ts) task_join(t);
    complete(&done);
    task_join(w);
  });
  EXPECT_EQ(m->sim_result()->outcome, SimOutcome::completed);
  EXPECT_EQ(counter, 300);
  EXPECT_GT(m->sim_result()->spurious_wakeups, 0u);
}

int buggify_hits(uint64_t seed, bool on) {
  SimOptions opts;
  opts.buggify = on;
  auto m = sim_machine(seed, opts);
  int hits = 0;
  m->run([&] {
    for (int i = 0; i < 200; i++) {
      if (sim_buggify("site_a")) hits += 1;
      if (sim_buggify("site_b")) hits += 1000;
      if (sim_buggify("site_c")) hits += 1000000;
    }
  });
  EXPECT_EQ(static_cast<int>(m->sim_result()->buggify_fired),
            hits % 1000 + hits / 1000 % 1000 + hits / 1000000);
  return hits;
}

TEST(SimHooks, BuggifyIsSeededAndOffByDefault) {
  EXPECT_FALSE(sim_buggify("native"));  // not in a sim run
  int enabled = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    EXPECT_EQ(buggify_hits(seed, false), 0);
    const int h = buggify_hits(seed, true);
    EXPECT_EQ(h, buggify_hits(seed, true)) << "same seed, same faults";
    // An enabled site fires about a quarter of its 200 calls; a disabled one never.
    for (int site = 0; site < 3; site++) {
      int n = h / (site == 0 ? 1 : site == 1 ? 1000 : 1000000) % 1000;
      EXPECT_TRUE(n == 0 || (n > 20 && n < 90)) << n;
      enabled += n != 0;
    }
  }
  // About a quarter of the 60 (seed, site) pairs are enabled (binomial: 15 +- 3.4).
  EXPECT_GE(enabled, 5);
  EXPECT_LE(enabled, 27);
}

struct RecordingSink : SimEventSink {
  std::vector<std::string> lines;
  void on_event(const SimEvent& e) override {
    lines.push_back(std::to_string(e.time_ns) + " " + std::to_string(e.pid) + " " + to_string(e.kind) +
                    (e.name ? std::string(" ") + e.name : ""));
  }
};

TEST(SimHooks, EventSinkSeesADeterministicStream) {
  auto record = [](uint64_t seed) {
    RecordingSink sink;
    SimOptions opts;
    opts.sink = &sink;
    auto m = sim_machine(seed, opts);
    spinlock_t lock;
    spin_lock_init(&lock, "ev_lock");
    m->run([&] {
      auto body = [&] {
        for (int i = 0; i < 3; i++) {
          SpinGuard g(&lock);
          cond_resched();
        }
        sim_hooks()->sync_point("done");
      };
      task_struct* a = m->spawn("a", body);
      task_struct* b = m->spawn("b", body);
      task_join(a);
      task_join(b);
    });
    return sink.lines;
  };
  std::vector<std::string> l1 = record(3), l2 = record(3);
  EXPECT_EQ(l1, l2);
  auto count = [&](const std::string& what) {
    return std::count_if(l1.begin(), l1.end(), [&](const std::string& s) { return s.find(what) != std::string::npos; });
  };
  EXPECT_EQ(count(" task_start"), 3);
  EXPECT_EQ(count(" task_end"), 3);
  EXPECT_EQ(count(" sync_point done"), 2);
  EXPECT_GT(count(" switch_to"), 3);
}

}  // namespace
}  // namespace guplab
