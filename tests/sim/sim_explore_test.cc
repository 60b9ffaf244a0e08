// sim_explore_test.cc - the test harness of seeded sim explorations (tests/sim_run.h,
// tests/sim_explore.h): a failing seed is reported with the command that replays it, a
// deadlock fails at once with its wait-for picture (not a hang until a timeout), and the
// GUPLAB_SIM_SEED / GUPLAB_SIM_SEEDS variables select what runs.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "base/rwsem.h"
#include "base/task.h"
#include "sim_explore.h"
#include "sim_run.h"

namespace guplab::testing {
namespace {

MachineConfig tiny() {
  MachineConfig c;
  c.ram_bytes = 4ull << 20;
  return c;
}

/** Sets an environment variable for one scope, then restores what was there. */
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old, had_ = true;
    setenv(name, value, 1);
  }
  ~EnvVar() {
    if (had_) setenv(name_, old_.c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// A task that takes a lock its parent holds while the parent waits for it: every task
// blocked, no timer pending. The harness reports it from the first seed, with the
// picture naming both waits, instead of hanging.
void abba_with_join(Machine& m) {
  rw_semaphore sem;
  init_rwsem(&sem, "test_sem");
  down_write(&sem);
  task_struct* t = m.spawn("stuck_reader", [&] {
    down_read(&sem);
    up_read(&sem);
  });
  task_join(t);
  up_write(&sem);
}

TEST(SimExplore, DeadlockIsReportedAtOnceWithItsWaitForPicture) {
  const std::string r = sim_run(tiny(), 1, abba_with_join);
  EXPECT_NE(r.find("deadlock"), std::string::npos) << r;
  EXPECT_NE(r.find("stuck_reader"), std::string::npos) << "the blocked task is named: " << r;
  EXPECT_NE(r.find("test_sem"), std::string::npos) << "and the lock it waits for: " << r;
  EXPECT_NE(r.find("join"), std::string::npos) << "and its parent's wait for it: " << r;
}

TEST(SimExplore, DeadlockFailsTheExplorationWithPictureAndReplayCommand) {
  EXPECT_NONFATAL_FAILURE(explore_seeds(5, [](uint64_t seed) { return sim_run(tiny(), seed, abba_with_join); }),
                          "stuck_reader");
  EXPECT_NONFATAL_FAILURE(explore_seeds(5, [](uint64_t seed) { return sim_run(tiny(), seed, abba_with_join); }),
                          "GUPLAB_SIM_SEED=1 ");
}

TEST(SimExplore, ExpectEverySeedReportsADeadlockWithItsReplayCommand) {
  EXPECT_NONFATAL_FAILURE(expect_every_seed(tiny(), 3, abba_with_join), "GUPLAB_SIM_SEED=1 ");
  EXPECT_NONFATAL_FAILURE(expect_every_seed(tiny(), 3, abba_with_join), "wait-for picture");
}

TEST(SimExplore, FirstFailingSeedIsNamedWithItsReplayCommandAndEndsTheRun) {
  std::vector<uint64_t> ran;
  auto fails_at_3 = [&](uint64_t seed) -> std::string {
    ran.push_back(seed);
    return seed == 3 ? "boom" : "";
  };
  EXPECT_NONFATAL_FAILURE(explore_seeds(10, fails_at_3),
                          "GUPLAB_SIM_SEED=3 ");
  EXPECT_EQ(ran, (std::vector<uint64_t>{1, 2, 3}));
  ran.clear();
  EXPECT_NONFATAL_FAILURE(explore_seeds(10, fails_at_3),
                          "--gtest_filter='SimExplore.FirstFailingSeedIsNamedWithItsReplayCommandAndEndsTheRun'");
}

TEST(SimExplore, EnvironmentSelectsOneSeedOrACount) {
  std::vector<uint64_t> ran;
  auto record = [&](uint64_t seed) -> std::string {
    ran.push_back(seed);
    return "";
  };
  {
    EnvVar only("GUPLAB_SIM_SEED", "7");
    EXPECT_EQ(explore_seeds(3, record), 1u);
  }
  EXPECT_EQ(ran, (std::vector<uint64_t>{7}));
  ran.clear();
  {
    EnvVar count("GUPLAB_SIM_SEEDS", "5");
    EXPECT_EQ(explore_seeds(3, record), 5u);
  }
  EXPECT_EQ(ran, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ran.clear();
  {
    EnvVar bad("GUPLAB_SIM_SEEDS", "-2");
    EXPECT_NONFATAL_FAILURE(explore_seeds(2, record), "GUPLAB_SIM_SEEDS=-2: not a non-negative whole number");
  }
  EXPECT_EQ(ran.size(), 2u) << "a bad value runs the test's own count";
}

TEST(SimExplore, SanitizerBuildsRunAQuarterOfTheSeedsOneAtLeast) {
#if defined(GUPLAB_ASAN) || defined(GUPLAB_TSAN)
  EXPECT_EQ(sanitizer_scaled(64), 16u);
  EXPECT_EQ(sanitizer_scaled(3), 1u);
#else
  EXPECT_EQ(sanitizer_scaled(64), 64u);
  EXPECT_EQ(sanitizer_scaled(3), 3u);
#endif
}

TEST(SimExplore, SeedsAlternateRandomWalkAndPct) {
  EXPECT_EQ(sim_options_for(1, 100).strategy, SimStrategy::random);
  EXPECT_EQ(sim_options_for(2, 100).strategy, SimStrategy::pct);
  EXPECT_EQ(sim_options_for(2, 100).pct_steps, 100u);
}

}  // namespace
}  // namespace guplab::testing
