// sim_explore.h - seeded sim explorations whose failures replay from one printed line.
//
// explore_seeds() runs a test's race once per seed (each run a fresh sim machine: the seed
// fixes the data the tasks draw and every scheduling choice, so a seed is a schedule).
// The first failing seed is reported with the exact command that reruns only that seed:
//   GUPLAB_SIM_SEED=<seed> <test binary> --gtest_filter=<this test>
// GUPLAB_SIM_SEED=<n> runs seed n alone; GUPLAB_SIM_SEEDS=<n> runs seeds 1..n instead of
// the test's count (a longer soak). A deadlock fails at once with its wait-for picture
// (sim_run() returns SimRunResult::format()); a livelock ends at SimOptions::max_steps.
//
// Threading: call from the test thread; each run is on fibers of that thread.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>

#include "sim/options.h"

namespace guplab::testing {

/**
 * sim_env_u64() - the value of the environment variable @name as a decimal or 0x number,
 * or @dflt when unset. A value that is not a whole number fails the test (a typo must not
 * silently run the default).
 */
inline uint64_t sim_env_u64(const char* name, uint64_t dflt) {
  const char* s = std::getenv(name);
  if (!s || !*s) return dflt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 0);
  if (*end != '\0' || *s == '-') {
    ADD_FAILURE() << name << "=" << s << ": not a non-negative whole number";
    return dflt;
  }
  return v;
}

/**
 * sim_options_for() - the options a seed runs with: odd seeds a random walk, even seeds
 * PCT (depth 3, @pct_steps estimated run length). Derived from the seed alone, so the
 * seed is all a replay needs.
 */
inline SimOptions sim_options_for(uint64_t seed, uint64_t pct_steps) {
  SimOptions o;
  o.strategy = seed % 2 ? SimStrategy::random : SimStrategy::pct;
  o.pct_steps = pct_steps;
  return o;
}

/**
 * sanitizer_scaled() - @nseeds, or a quarter of it (one at least) in ASan and TSan builds,
 * where a seed costs ten times more: the exploration of a big race stays seconds there.
 * The seeds kept are the first ones, so a seed that fails there fails in release too.
 */
inline uint64_t sanitizer_scaled(uint64_t nseeds) {
#if defined(GUPLAB_ASAN) || defined(GUPLAB_TSAN)
  return nseeds / 4 ? nseeds / 4 : 1;
#else
  return nseeds;
#endif
}

/** replay_command() - the shell command that reruns @seed of the running test alone. */
inline std::string replay_command(uint64_t seed) {
  std::string exe = "<test binary>";
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) exe.assign(buf, static_cast<size_t>(n));
  std::string filter = "*";
  if (const ::testing::TestInfo* ti = ::testing::UnitTest::GetInstance()->current_test_info())
    filter = std::string(ti->test_suite_name()) + "." + ti->name();
  return "GUPLAB_SIM_SEED=" + std::to_string(seed) + " " + exe + " --gtest_filter='" + filter + "'";
}

/**
 * explore_seeds() - @run(seed) for seeds 1..@nseeds (GUPLAB_SIM_SEEDS overrides the
 * count; GUPLAB_SIM_SEED=<n> runs n alone). @run returns "" or what went wrong; a seed
 * also fails if it raised a gtest failure. The first failing seed is reported with its
 * replay command and ends the exploration. Returns the number of seeds run.
 */
inline uint64_t explore_seeds(uint64_t nseeds, const std::function<std::string(uint64_t)>& run) {
  uint64_t first = 1, last = sim_env_u64("GUPLAB_SIM_SEEDS", nseeds);
  if (const uint64_t only = sim_env_u64("GUPLAB_SIM_SEED", 0)) first = last = only;
  uint64_t ran = 0;
  for (uint64_t seed = first; seed <= last; seed++) {
    const bool failed_before = ::testing::Test::HasFailure();
    const std::string problem = run(seed);
    ran++;
    if (!problem.empty() || (!failed_before && ::testing::Test::HasFailure())) {
      ADD_FAILURE() << "seed " << seed << " failed" << (problem.empty() ? "" : ": ") << problem
                    << "\nreplay this schedule exactly: " << replay_command(seed);
      break;
    }
  }
  return ran;
}

}  // namespace guplab::testing
