// rdma_cost_cmd_test.cc - `guplab rdma-cost` as a user runs it: a row per mode with its
// guarantee, the JSON document, one mode alone, and bad options refused with exit 2.
// Only counts and structure are checked, never a time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/tool_runner.h"

namespace {

namespace fs = std::filesystem;
using guplab::testing::Ran;
using guplab::testing::run_guplab;

Ran run(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("rdma-cost-cmd-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  Ran r = run_guplab("rdma-cost " + args, dir);
  fs::remove_all(dir);
  return r;
}

constexpr const char* kSmall = "--pages 16 --rounds 2 --invalidations 32 --runs 1";

TEST(RdmaCostCmd, TableHasEveryModeWithItsGuaranteeAndCoherence) {
  const Ran r = run(kSmall);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("no device: MADV_DONTNEED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ns/inval"), std::string::npos) << r.out;
  // pin: every page pinned, no write after an invalidation reaches the process;
  // odp: nothing pinned, every one does.
  EXPECT_NE(r.out.find("0/16    16  frames stay put"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("16/16     0  always coherent"), std::string::npos) << r.out;
}

TEST(RdmaCostCmd, JsonOfOneMode) {
  const Ran r = run(std::string(kSmall) + " --mode odp --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["pages"], 16);
  ASSERT_EQ(j["modes"].size(), 1u);
  const auto& m = j["modes"][0];
  EXPECT_EQ(m["mode"], "odp");
  EXPECT_EQ(m["pins_held"], 0);
  EXPECT_EQ(m["coherent"], 16);
  EXPECT_EQ(m["checked"], 16);
  EXPECT_EQ(m["error"], "");
  EXPECT_TRUE(m["ns_per_invalidation"].is_number());
}

TEST(RdmaCostCmd, BadOptionsExitTwo) {
  for (const char* bad : {"--mode nosuch", "--pages 0", "--runs 0", "--format xml", "--bogus"}) {
    const Ran r = run(bad);
    EXPECT_EQ(r.status, 2) << bad << "\n" << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << bad;
  }
}

}  // namespace
