// strategy_test.cc - random walk, PCT and replay pick as specified, deterministically.
#include "sim/strategy.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace guplab {
namespace {

TEST(RandomWalk, PicksOnlyRunnableTasksRoughlyUniformly) {
  RandomWalk w(1);
  const std::vector<SimChoice> runnable = {1, 4, 7};
  std::map<SimChoice, int> n;
  for (int i = 0; i < 3000; i++) n[w.pick(runnable)]++;
  ASSERT_EQ(n.size(), 3u);
  for (auto [id, c] : n) {
    EXPECT_TRUE(id == 1 || id == 4 || id == 7);
    EXPECT_GT(c, 850);
    EXPECT_LT(c, 1150);
  }
}

TEST(RandomWalk, SameSeedSamePicks) {
  RandomWalk a(9), b(9), c(10);
  const std::vector<SimChoice> r = {0, 1, 2, 3};
  std::vector<SimChoice> pa, pb, pc;
  for (int i = 0; i < 100; i++) {
    pa.push_back(a.pick(r));
    pb.push_back(b.pick(r));
    pc.push_back(c.pick(r));
  }
  EXPECT_EQ(pa, pb);
  EXPECT_NE(pa, pc);
}

TEST(Pct, RunsTheHighestPriorityTask) {
  Pct p(3, 1, 100);
  for (SimChoice id = 0; id < 4; id++) p.on_task_created(id);
  const std::vector<SimChoice> all = {0, 1, 2, 3};
  SimChoice best = p.pick(all);
  for (SimChoice id : all) EXPECT_LE(p.priority(id), p.priority(best));
  // Without the best one, the next best; with depth 1 nothing ever changes.
  for (uint64_t step = 1; step <= 200; step++) p.on_step(best, step, SchedPoint::kLock);
  EXPECT_EQ(p.pick(all), best);
  EXPECT_TRUE(p.change_points().empty());
}

TEST(Pct, ChangePointsLowerTheRunningTask) {
  const unsigned d = 4;
  Pct p(5, d, 50);
  ASSERT_EQ(p.change_points().size(), d - 1);
  for (uint64_t k : p.change_points()) {
    EXPECT_GE(k, 1u);
    EXPECT_LE(k, 50u);
  }
  for (SimChoice id = 0; id < 3; id++) p.on_task_created(id);
  const std::vector<SimChoice> all = {0, 1, 2};
  SimChoice first = p.pick(all);
  const uint64_t k1 = p.change_points()[0];
  for (uint64_t step = 1; step < k1; step++) p.on_step(first, step, SchedPoint::kAtomicRead);
  EXPECT_EQ(p.pick(all), first);
  p.on_step(first, k1, SchedPoint::kAtomicRead);
  // Lowered below every other task: some other task runs now.
  for (SimChoice id : all)
    if (id != first) EXPECT_LT(p.priority(first), p.priority(id));
  EXPECT_NE(p.pick(all), first);
}

TEST(Pct, EachChangePointDropsBelowEveryDropBefore) {
  Pct p(11, 5, 1000);
  std::vector<uint64_t> got;
  p.on_task_created(0);
  for (uint64_t step = 1; step <= 1000; step++) {
    uint64_t before = p.priority(0);
    p.on_step(0, step, SchedPoint::kLock);
    if (p.priority(0) != before) got.push_back(p.priority(0));
  }
  // Up to four drops (two points on one step count once here), each below the last and
  // below every initial priority.
  ASSERT_FALSE(got.empty());
  EXPECT_LE(got.size(), 4u);
  EXPECT_LT(got[0], Pct::kInitialBand);
  for (size_t i = 1; i < got.size(); i++) EXPECT_LT(got[i], got[i - 1]);
}

TEST(Pct, AYieldGoesBelowEveryOtherTask) {
  // Depth 2: one change point, which task 1 passes before anyone yields.
  Pct p(7, 2, 10);
  for (SimChoice id = 0; id < 3; id++) p.on_task_created(id);
  const std::vector<SimChoice> all = {0, 1, 2};
  p.on_step(1, 10, SchedPoint::kLock);  // past the change point: 1 is lowered
  const SimChoice first = p.pick(all);
  EXPECT_NE(first, 1);
  // The running task polls with cond_resched(): it drops below the lowered task too,
  // so the task it may be waiting for runs.
  p.on_step(first, 11, SchedPoint::kYield);
  for (SimChoice id : all)
    if (id != first) EXPECT_LT(p.priority(first), p.priority(id));
  const SimChoice second = p.pick(all);
  EXPECT_NE(second, first);
  EXPECT_NE(second, 1);
  // A later yielder goes lower still; the lowered task 1 now runs before both.
  p.on_step(second, 12, SchedPoint::kYield);
  EXPECT_LT(p.priority(second), p.priority(first));
  EXPECT_EQ(p.pick(all), 1);
}

TEST(Replay, FollowsTheRecordAndReportsDivergence) {
  Replay r({2, 0, 1});
  EXPECT_EQ(r.pick(std::vector<SimChoice>{0, 1, 2}), 2);
  EXPECT_EQ(r.pick(std::vector<SimChoice>{0, 1}), 0);
  EXPECT_FALSE(r.diverged());
  EXPECT_EQ(r.pick(std::vector<SimChoice>{0, 2}), 0);  // 1 is not runnable
  EXPECT_TRUE(r.diverged());
  EXPECT_EQ(r.pick(std::vector<SimChoice>{3, 4}), 3);  // past the end
  EXPECT_EQ(r.consumed(), 3u);
}

TEST(MakeStrategy, SeedsFromTheRunSeed) {
  SimOptions o;
  auto a = make_strategy(o, 1), b = make_strategy(o, 1), c = make_strategy(o, 2);
  const std::vector<SimChoice> r = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<SimChoice> pa, pb, pc;
  for (int i = 0; i < 50; i++) {
    pa.push_back(a->pick(r));
    pb.push_back(b->pick(r));
    pc.push_back(c->pick(r));
  }
  EXPECT_EQ(pa, pb);
  EXPECT_NE(pa, pc);
  o.strategy = SimStrategy::pct;
  EXPECT_NE(dynamic_cast<Pct*>(make_strategy(o, 1).get()), nullptr);
  o.strategy = SimStrategy::replay;
  EXPECT_NE(dynamic_cast<Replay*>(make_strategy(o, 1).get()), nullptr);
}

}  // namespace
}  // namespace guplab
