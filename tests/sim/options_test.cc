// options_test.cc - strategy names, descriptions, replay options.
#include "sim/options.h"

#include <gtest/gtest.h>

#include "sim/result.h"

namespace guplab {
namespace {

TEST(SimOptions, NamesRoundTrip) {
  for (SimStrategy s : {SimStrategy::random, SimStrategy::pct, SimStrategy::replay})
    EXPECT_EQ(parse_sim_strategy(to_string(s)), s);
  EXPECT_FALSE(parse_sim_strategy("dfs").has_value());
}

TEST(SimOptions, DescribeAndReplayOf) {
  SimOptions o;
  o.strategy = SimStrategy::pct;
  o.pct_depth = 2;
  o.pct_steps = 77;
  o.max_steps = 123;
  EXPECT_EQ(o.describe(), "pct(d=2,k=77)");
  SimRunResult r;
  r.choices = {1, 0, 2};
  SimOptions rp = o.replay_of(r);
  EXPECT_EQ(rp.strategy, SimStrategy::replay);
  EXPECT_EQ(rp.replay, r.choices);
  EXPECT_EQ(rp.max_steps, 123u);  // everything else is kept
  EXPECT_EQ(rp.describe(), "replay(n=3)");
}

}  // namespace
}  // namespace guplab
