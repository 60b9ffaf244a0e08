// scheduler_test.cc - the sim run loop: exact results, determinism and replay, finding
// races, deadlocks with their wait-for picture, oopses, limits, unwinding (throughput: bench/sim_bench.cc).
#include "sim/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/completion.h"
#include "base/rwsem.h"
#include "base/spinlock.h"
#include "sim/sim_test_util.h"

namespace guplab {
namespace {

using testing::sim_machine;
using testing::UnwindProbe;

// Each of @nr tasks adds 1 to a plain int @iters times under a spinlock, with a
// scheduling point between the read and the write.
int locked_counter(uint64_t seed, int nr, int iters, SimOptions opts = {}) {
  auto m = sim_machine(seed, opts);
  int counter = 0;
  spinlock_t lock;
  spin_lock_init(&lock, "counter_lock");
  m->run([&] {
    std::vector<task_struct*> ts;
    for (int i = 0; i < nr; i++)
      ts.push_back(m->spawn("inc" + std::to_string(i), [&] {
        for (int k = 0; k < iters; k++) {
          SpinGuard g(&lock);
          int v = counter;
          sched_point(SchedPoint::kYield);
          counter = v + 1;
        }
      }));
    for (task_struct* t : ts) task_join(t);
  });
  EXPECT_EQ(m->sim_result()->outcome, SimOutcome::completed) << m->sim_result()->format();
  EXPECT_GT(m->sim_result()->choices.size(), 0u);
  return counter;
}

TEST(SimScheduler, SpinlockCounterIsExact) {
  EXPECT_EQ(locked_counter(1, 2, 500), 1000);
  EXPECT_EQ(locked_counter(2, 4, 200), 800);
  SimOptions pct;
  pct.strategy = SimStrategy::pct;
  EXPECT_EQ(locked_counter(3, 3, 200, pct), 600);
}

// The lost update: read, scheduling point, write, no lock. Returns the final value.
struct RaceRun {
  int value = 0;
  SimRunResult result;
};
RaceRun lost_update(uint64_t seed, const SimOptions& opts) {
  auto m = sim_machine(seed, opts);
  RaceRun r;
  m->run([&] {
    auto body = [&] {
      for (int i = 0; i < 5; i++) cond_resched();  // unrelated work before the window
      int v = r.value;
      sched_point(SchedPoint::kAtomicRead);  // a point, not a yield (PCT demotes a yielder)
      r.value = v + 1;
      for (int i = 0; i < 5; i++) cond_resched();
    };
    task_struct* a = m->spawn("a", body);
    task_struct* b = m->spawn("b", body);
    task_join(a);
    task_join(b);
  });
  r.result = *m->sim_result();
  return r;
}

void expect_race_found_and_replayed(const SimOptions& opts, int max_seeds) {
  int found = -1;
  for (int seed = 1; seed <= max_seeds && found < 0; seed++)
    if (lost_update(seed, opts).value != 2) found = seed;
  ASSERT_GT(found, 0) << opts.describe() << " did not find the lost update in " << max_seeds << " seeds";
  std::printf("[ info ] %s found the lost update at seed %d\n", opts.describe().c_str(), found);
  RaceRun first = lost_update(found, opts);
  RaceRun again = lost_update(found, opts);
  EXPECT_EQ(first.value, 1);
  EXPECT_EQ(again.value, 1);
  EXPECT_EQ(again.result.choices, first.result.choices);
  RaceRun replayed = lost_update(found, opts.replay_of(first.result));
  EXPECT_EQ(replayed.value, 1);
  EXPECT_FALSE(replayed.result.replay_diverged);
  EXPECT_EQ(replayed.result.choices, first.result.choices);
  EXPECT_EQ(replayed.result.steps, first.result.steps);
}

TEST(SimScheduler, RandomWalkFindsLostUpdateAndReplaysIt) {
  expect_race_found_and_replayed(SimOptions{}, 50);
}

TEST(SimScheduler, PctFindsLostUpdateAndReplaysIt) {
  SimOptions pct;
  pct.strategy = SimStrategy::pct;
  pct.pct_depth = 2;
  pct.pct_steps = lost_update(1, pct).result.steps;  // k from a run of the scenario
  expect_race_found_and_replayed(pct, 300);  // ~4% of seeds hit it at d=2
}

TEST(SimScheduler, PctDepthOneNeverPreempts) {
  // With no change point the higher-priority task runs to completion: no lost update.
  SimOptions pct;
  pct.strategy = SimStrategy::pct;
  pct.pct_depth = 1;
  for (int seed = 1; seed <= 30; seed++) EXPECT_EQ(lost_update(seed, pct).value, 2) << seed;
}

// Three tasks log (task, step) pairs: the log is the interleaving. Each step ends with a
// scheduling point of kind @why (a yield: cond_resched()).
std::pair<std::vector<int>, SimRunResult> interleaving(uint64_t seed, const SimOptions& opts,
                                                       SchedPoint why = SchedPoint::kYield) {
  auto m = sim_machine(seed, opts);
  std::vector<int> log;
  m->run([&] {
    std::vector<task_struct*> ts;
    for (int i = 0; i < 3; i++)
      ts.push_back(m->spawn("t" + std::to_string(i), [&, i] {
        for (int k = 0; k < 10; k++) {
          log.push_back(i * 100 + k);
          if (why == SchedPoint::kYield)
            cond_resched();
          else
            sched_point(why);
        }
      }));
    for (task_struct* t : ts) task_join(t);
  });
  return {log, *m->sim_result()};
}

TEST(SimScheduler, SameSeedSameRunDifferentSeedsDiffer) {
  for (SimStrategy s : {SimStrategy::random, SimStrategy::pct}) {
    SimOptions opts;
    opts.strategy = s;
    opts.pct_steps = 40;
    // Not yields: PCT drops a yielding task below the others, so tasks that only yield
    // take turns whatever the seed.
    const SchedPoint why = SchedPoint::kAtomicWrite;
    auto [log1, r1] = interleaving(42, opts, why);
    auto [log2, r2] = interleaving(42, opts, why);
    EXPECT_EQ(log1, log2);
    EXPECT_EQ(r1.choices, r2.choices);
    EXPECT_EQ(r1.steps, r2.steps);
    EXPECT_EQ(r1.switches, r2.switches);
    EXPECT_EQ(log1.size(), 30u);
    std::set<std::vector<int>> distinct;
    for (uint64_t seed = 1; seed <= 20; seed++) distinct.insert(interleaving(seed, opts, why).first);
    EXPECT_GE(distinct.size(), 10u) << to_string(s);
  }
}

TEST(SimScheduler, StepsByKindAddUpToTheSteps) {
  auto [log, r] = interleaving(42, SimOptions{});
  uint64_t sum = 0;
  for (uint64_t n : r.steps_by_kind) sum += n;
  EXPECT_EQ(sum, r.steps);
  // Each of the three tasks yields ten times (cond_resched()).
  EXPECT_GE(r.steps_by_kind[static_cast<size_t>(SchedPoint::kYield)], 30u);
  EXPECT_EQ(r.steps_by_kind[static_cast<size_t>(SchedPoint::kSyncPoint)], 0u);
  EXPECT_LE(r.choices.size(), r.steps + r.switches);
}

// Three phases: a setup where two tasks interleave their log entries with yields and
// atomic reads, then sim_setup_done() and the same again, then sim_teardown_begin()
// and the same again. Returns the logs of the three.
struct PhasedRun {
  std::vector<int> setup_log, log, teardown_log;
  SimRunResult result;
};
PhasedRun phased(uint64_t seed, const SimOptions& opts) {
  auto m = sim_machine(seed, opts);
  PhasedRun r;
  m->run([&] {
    auto phase = [&](std::vector<int>* log) {
      std::vector<task_struct*> ts;
      for (int i = 0; i < 2; i++)
        ts.push_back(m->spawn("t" + std::to_string(i), [&, i, log] {
          for (int k = 0; k < 6; k++) {
            log->push_back(i * 100 + k);
            sched_point(SchedPoint::kAtomicRead);
            if (k % 3 == 2) cond_resched();
          }
        }));
      for (task_struct* t : ts) task_join(t);
    };
    phase(&r.setup_log);
    sim_setup_done();
    phase(&r.log);
    sim_teardown_begin();
    sim_setup_done();  // no effect after the teardown began
    phase(&r.teardown_log);
  });
  r.result = *m->sim_result();
  return r;
}

TEST(SimScheduler, AQuietSetupAndTeardownMakeNoChoicesAndReplay) {
  SimOptions quiet;
  quiet.quiet_harness = true;
  std::set<std::vector<int>> explored;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    const PhasedRun r = phased(seed, quiet);
    // The setup is round robin at the yields, the same in every run: t0 runs three
    // entries, yields to t1, and so on.
    EXPECT_EQ(r.setup_log, (std::vector<int>{0, 1, 2, 100, 101, 102, 3, 4, 5, 103, 104, 105})) << seed;
    EXPECT_GT(r.result.setup_steps, 12u);
    EXPECT_GT(r.result.steps, 12u) << "the points after setup_done() are explored and counted";
    // The teardown is round robin again, and its points are not steps.
    EXPECT_EQ(r.teardown_log, r.setup_log) << seed;
    EXPECT_GT(r.result.teardown_steps, 12u);
    explored.insert(r.log);
    const PhasedRun again = phased(seed, quiet.replay_of(r.result));
    EXPECT_FALSE(again.result.replay_diverged);
    EXPECT_EQ(again.log, r.log);
    EXPECT_EQ(again.result.steps, r.result.steps);
    EXPECT_EQ(again.result.setup_steps, r.result.setup_steps);
    EXPECT_EQ(again.result.teardown_steps, r.result.teardown_steps);
  }
  EXPECT_GE(explored.size(), 10u) << "after the setup, seeds differ";
  // Without quiet_harness the setup is explored too, and no point counts as setup.
  const PhasedRun loud = phased(1, SimOptions{});
  EXPECT_EQ(loud.result.setup_steps, 0u);
  EXPECT_EQ(loud.result.teardown_steps, 0u);
  EXPECT_GT(loud.result.steps, phased(1, quiet).result.steps);
}

TEST(SimScheduler, ReplayOfAnotherScenarioReportsDivergence) {
  auto [log, r] = interleaving(7, SimOptions{});
  SimOptions bogus;
  bogus.strategy = SimStrategy::replay;
  bogus.replay = {2, 2, 2};  // too short, and task 2 is not runnable at the first choice
  auto [log2, r2] = interleaving(7, bogus);
  EXPECT_TRUE(r2.replay_diverged);
  EXPECT_EQ(log2.size(), 30u);  // the run still completes deterministically
}

// ABBA on two locks: run seeds until one deadlocks; check the picture and the unwinding.
template <typename Lock, typename Unlock>
void expect_abba_deadlock(const char* name_a, const char* name_b, Lock lock, Unlock unlock,
                          void* obj_a, void* obj_b) {
  bool found = false;
  for (uint64_t seed = 1; seed <= 50 && !found; seed++) {
    auto m = sim_machine(seed);
    int unwound = 0, pid1 = 0, pid2 = 0;
    m->run([&] {
      auto body = [&](void* first, void* second) {
        UnwindProbe probe{&unwound};
        lock(first);
        cond_resched();
        lock(second);
        unlock(second);
        unlock(first);
      };
      task_struct* t1 = m->spawn("ab", [&] { body(obj_a, obj_b); });
      task_struct* t2 = m->spawn("ba", [&] { body(obj_b, obj_a); });
      pid1 = t1->pid;
      pid2 = t2->pid;
      task_join(t1);
      task_join(t2);
    });
    const SimRunResult& r = *m->sim_result();
    if (r.outcome == SimOutcome::completed) continue;
    found = true;
    ASSERT_EQ(r.outcome, SimOutcome::deadlock) << r.format();
    std::printf("[ info ] ABBA deadlock at seed %llu:\n%s", static_cast<unsigned long long>(seed),
                r.format().c_str());
    auto find = [&](int pid) {
      return std::find_if(r.blocked.begin(), r.blocked.end(), [&](const BlockedTask& b) { return b.pid == pid; });
    };
    ASSERT_NE(find(pid1), r.blocked.end());
    ASSERT_NE(find(pid2), r.blocked.end());
    EXPECT_EQ(find(pid1)->what, name_b);
    EXPECT_EQ(find(pid2)->what, name_a);
    EXPECT_EQ(find(pid1)->kind, "futex");
    EXPECT_EQ(find(pid1)->comm, "ab");
    // The first task waits in task_join; it is in the picture too.
    EXPECT_EQ(r.blocked.size(), 3u);
    EXPECT_NE(r.blocked[0].what.find("task_join"), std::string::npos);
    EXPECT_EQ(unwound, 2);  // both tasks were unwound, their stacks released
    EXPECT_FALSE(m->halted());
    EXPECT_EQ(m->nr_oops(), 0u);
  }
  EXPECT_TRUE(found) << "no ABBA deadlock in 50 seeds";
}

TEST(SimScheduler, AbbaDeadlockOnSpinlocks) {
  spinlock_t a, b;
  spin_lock_init(&a, "lock_a");
  spin_lock_init(&b, "lock_b");
  // Plain lock/unlock calls: on unwinding, the locks stay held (the picture matters here).
  expect_abba_deadlock(
      "lock_a", "lock_b", [](void* l) NO_THREAD_SAFETY_ANALYSIS { spin_lock(static_cast<spinlock_t*>(l)); },
      [](void* l) NO_THREAD_SAFETY_ANALYSIS { spin_unlock(static_cast<spinlock_t*>(l)); }, &a, &b);
}

TEST(SimScheduler, AbbaDeadlockOnRwsems) {
  rw_semaphore a, b;
  init_rwsem(&a, "sem_a");
  init_rwsem(&b, "sem_b");
  expect_abba_deadlock(
      "sem_a", "sem_b", [](void* s) NO_THREAD_SAFETY_ANALYSIS { down_write(static_cast<rw_semaphore*>(s)); },
      [](void* s) NO_THREAD_SAFETY_ANALYSIS { up_write(static_cast<rw_semaphore*>(s)); }, &a, &b);
}

TEST(SimScheduler, BugOnHaltsTheRunAndUnwindsTheOthers) {
  auto m = sim_machine(5);
  int unwound = 0;
  completion never;
  init_completion(&never);
  m->run([&] {
    task_struct* w = m->spawn("waiter", [&] {
      UnwindProbe probe{&unwound};
      wait_for_completion(&never);
    });
    task_struct* s = m->spawn("sleeper", [&] {
      UnwindProbe probe{&unwound};
      msleep(1000);
    });
    task_struct* b = m->spawn("buggy", [&] {
      cond_resched();
      BUG_ON(unwound == 0);
    });
    task_join(w);
    task_join(s);
    task_join(b);
  });
  const SimRunResult& r = *m->sim_result();
  EXPECT_EQ(r.outcome, SimOutcome::halted) << r.format();
  EXPECT_TRUE(m->halted());
  ASSERT_EQ(m->nr_oops(), 1u);
  EXPECT_EQ(m->oopses()[0].task, "buggy");
  EXPECT_EQ(m->oopses()[0].cond, std::string("unwound == 0"));
  EXPECT_EQ(unwound, 2);
  EXPECT_TRUE(r.blocked.empty());
}

TEST(SimScheduler, UnwindingPollersLetTheOthersUnwindThenStop) {
  // A task that polls with cond_resched() for something another task will never do (it
  // oopsed) neither blocks nor ends: while the run unwinds, its yield lets the others
  // unwind first, then it stops (MachineHalted), instead of spinning until the
  // scheduler gives up on the process.
  for (uint64_t seed = 1; seed <= 20; seed++) {
    auto m = sim_machine(seed);
    int unwound = 0;
    atomic_t flag;
    atomic_set(&flag, 0);
    m->run([&] {
      task_struct* p1 = m->spawn("poller1", [&] {
        UnwindProbe probe{&unwound};
        while (!atomic_read(&flag)) cond_resched();
      });
      task_struct* p2 = m->spawn("poller2", [&] {
        UnwindProbe probe{&unwound};
        while (!atomic_read(&flag)) cond_resched();
      });
      task_struct* b = m->spawn("buggy", [&] {
        cond_resched();
        BUG_ON(atomic_read(&flag) == 0);
        atomic_set(&flag, 1);
      });
      task_join(p1);
      task_join(p2);
      task_join(b);
    });
    const SimRunResult& r = *m->sim_result();
    EXPECT_EQ(r.outcome, SimOutcome::halted) << seed << ": " << r.format();
    EXPECT_EQ(unwound, 2) << seed;
  }
}

TEST(SimScheduler, PctLetsAPollerWaitForALowerPriorityTask) {
  // Strict priorities (depth 1: no change point) and a poller that may outrank the task
  // it waits for: the yield in its loop drops it below, so the run completes.
  SimOptions pct;
  pct.strategy = SimStrategy::pct;
  pct.pct_depth = 1;
  pct.max_steps = 20000;
  for (uint64_t seed = 1; seed <= 30; seed++) {
    auto m = sim_machine(seed, pct);
    atomic_t flag;
    atomic_set(&flag, 0);
    m->run([&] {
      task_struct* p = m->spawn("poller", [&] {
        while (!atomic_read(&flag)) cond_resched();
      });
      task_struct* s = m->spawn("setter", [&] {
        for (int i = 0; i < 5; i++) sched_point(SchedPoint::kAtomicRead);
        atomic_set(&flag, 1);
      });
      task_join(p);
      task_join(s);
    });
    EXPECT_EQ(m->sim_result()->outcome, SimOutcome::completed) << seed << ": " << m->sim_result()->format();
  }
}

TEST(SimScheduler, StepLimitEndsARunawayRun) {
  SimOptions opts;
  opts.max_steps = 5000;
  auto m = sim_machine(9, opts);
  int unwound = 0;
  m->run([&] {
    task_struct* t = m->spawn("spinner", [&] {
      UnwindProbe probe{&unwound};
      for (;;) {
        cond_resched();
        sleep_ns(1);  // blocks, so the task can be unwound
      }
    });
    task_join(t);
  });
  EXPECT_EQ(m->sim_result()->outcome, SimOutcome::step_limit);
  EXPECT_GE(m->sim_result()->steps, 5000u);
  EXPECT_EQ(unwound, 1);
}

TEST(SimScheduler, UnjoinedTasksAreWaitedForAndFreed) {
  auto m = sim_machine(11);
  int done = 0;
  m->run([&] {
    for (int i = 0; i < 3; i++)
      m->spawn("orphan", [&] {
        cond_resched();
        done++;
      });
  });
  EXPECT_EQ(done, 3);
  EXPECT_EQ(m->sim_result()->outcome, SimOutcome::completed);
  EXPECT_EQ(m->sim_result()->tasks, 4u);
}

TEST(SimScheduler, RunsAreRepeatableOnOneMachineAndTimeMovesOn) {
  auto m = sim_machine(13);
  m->run([&] { msleep(5); });
  const uint64_t end1 = m->sim_result()->end_ns;
  EXPECT_GE(end1, 5 * NSEC_PER_MSEC);
  m->run([&] { msleep(5); });
  EXPECT_EQ(m->sim_result()->start_ns, end1);
  EXPECT_GE(m->sim_result()->end_ns, end1 + 5 * NSEC_PER_MSEC);
}

TEST(SimScheduler, RunOnTheCallingThreadRestoresTheSeam) {
  auto m = sim_machine(17);
  task_struct* inside = nullptr;
  m->run([&] {
    inside = current();
    EXPECT_NE(sim_hooks(), nullptr);
  });
  EXPECT_NE(inside, nullptr);
  EXPECT_EQ(current(), nullptr);
  EXPECT_EQ(sim_hooks(), nullptr);
}

// The runs-per-second figure of small sim runs is a benchmark: bench/sim_bench.cc.

}  // namespace
}  // namespace guplab

namespace guplab {
namespace {

// A script whose successor waits for a misspelt predecessor deadlocks under sim, and
// the report names both points (the one waiting and the one never reached).
TEST(SimScheduler, AMisspeltSyncPointIsNamedInTheDeadlockReport) {
  auto m = testing::sim_machine(1, SimOptions{});
  m->sync_points().load_dependency({{"writer:dnoe", "reader:start"}});
  m->sync_points().enable();
  m->run([&] {
    task_struct* r = m->spawn("reader", [] { TEST_SYNC_POINT("reader:start"); });
    task_struct* w = m->spawn("writer", [] { TEST_SYNC_POINT("writer:done"); });
    task_join(w);
    task_join(r);
  });
  const SimRunResult& res = *m->sim_result();
  ASSERT_EQ(res.outcome, SimOutcome::deadlock) << res.format();
  bool named = false;
  for (const BlockedTask& b : res.blocked)
    if (b.comm == "reader") {
      named = true;
      EXPECT_EQ(b.what, "sync point 'reader:start' waits for 'writer:dnoe', never reached so far");
    }
  EXPECT_TRUE(named) << res.format();
}

}  // namespace
}  // namespace guplab
