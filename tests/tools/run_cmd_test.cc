// run_cmd_test.cc - `guplab run` of one cell: its exit status and its verdict line agree.
// An unscripted run that does not reach the predicted failure is accepted (exit 0) and
// says so, instead of printing DIFFERS; a scripted run that misses its prediction is
// DIFFERS with exit 1 (not testable without a broken scenario, so the accepted side and
// the as-predicted side are checked).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tools/tool_runner.h"

namespace guplab::testing {
namespace {

TEST(RunCmd, AnUnscriptedRunThatMissesThePredictedFailureIsAcceptedAndSaysSo) {
  const auto dir = std::filesystem::temp_directory_path();
  // torn-writeback under get/ignore is predicted torn; unscripted seed 2 does not reach it.
  Ran r = run_guplab("run torn-writeback --design get --policy ignore --unscripted --seed 2 --backend sim", dir);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("DIFFERS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("outcome:  ok (expected torn; this schedule did not reach it)"), std::string::npos) << r.out;
}

TEST(RunCmd, AScriptedRunAsPredictedExitsZeroWithoutAVerdictNote) {
  const auto dir = std::filesystem::temp_directory_path();
  Ran r = run_guplab("run torn-writeback --design get --policy ignore", dir);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("outcome:  torn (expected torn)\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace guplab::testing
