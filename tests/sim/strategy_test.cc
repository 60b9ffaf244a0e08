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
  for (uint64_t step = 1; step <= 200; step++) p.on_step(best, step);
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
  for (uint64_t step = 1; step < k1; step++) p.on_step(first, step);
  EXPECT_EQ(p.pick(all), first);
  p.on_step(first, k1);
  // Lowered below every initial priority: some other task runs now.
  EXPECT_LT(p.priority(first), d);
  EXPECT_NE(p.pick(all), first);
}

TEST(Pct, ChangePointValuesArePriorities1ToDMinus1) {
  Pct p(11, 5, 1000);
  std::vector<uint64_t> got;
  p.on_task_created(0);
  for (uint64_t step = 1; step <= 1000; step++) {
    uint64_t before = p.priority(0);
    p.on_step(0, step);
    if (p.priority(0) != before) got.push_back(p.priority(0));
  }
  std::sort(got.begin(), got.end());
  got.erase(std::unique(got.begin(), got.end()), got.end());
  // Values 1..4, each applied once (two points on one step apply both; the last wins).
  for (uint64_t v : got) {
    EXPECT_GE(v, 1u);
    EXPECT_LE(v, 4u);
  }
  EXPECT_FALSE(got.empty());
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
