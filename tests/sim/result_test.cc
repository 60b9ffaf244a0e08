// result_test.cc - the printed form of a run's result.
#include "sim/result.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace guplab {
namespace {

TEST(SimRunResult, FormatShowsOutcomeAndWaitForPicture) {
  SimRunResult r;
  r.outcome = SimOutcome::deadlock;
  r.seed = 42;
  r.strategy = "random";
  r.steps = 10;
  r.blocked.push_back({2, "ab", "futex", "lock_b", 0x1000});
  r.blocked.push_back({3, "ba", "futex", "lock_a", 0x2000});
  const std::string s = r.format();
  EXPECT_NE(s.find("deadlock seed=42"), std::string::npos) << s;
  EXPECT_NE(s.find("pid 2 (ab) blocked in futex on lock_b [key 0x1000]"), std::string::npos) << s;
  EXPECT_NE(s.find("pid 3 (ba) blocked in futex on lock_a"), std::string::npos) << s;
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(SimRunResult{}.ok());
  EXPECT_STREQ(to_string(SimOutcome::step_limit), "step_limit");
}

TEST(SimRunResult, EverySchedPointKindHasItsOwnName) {
  std::set<std::string> names;
  for (size_t k = 0; k < kSchedPointKinds; k++) {
    const std::string n = to_string(static_cast<SchedPoint>(k));
    EXPECT_NE(n, "?") << k;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), kSchedPointKinds);
  EXPECT_STREQ(to_string(SchedPoint::kSyncPoint), "sync_point");
  EXPECT_STREQ(to_string(SchedPoint::kLock), "lock");
}

}  // namespace
}  // namespace guplab
