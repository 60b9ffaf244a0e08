// mmap_lock_bench_test.cc - `guplab mmap-lock-bench` as a user runs it, with small
// parameters: the JSON has both runs with the writer's wait and the GUP throughput (the
// figures themselves are timings, not checked), and bad options exit 2 with a message.
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
  const fs::path dir = fs::temp_directory_path() / ("mmap-lock-bench-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  Ran r = run_guplab("mmap-lock-bench " + args, dir);
  fs::remove_all(dir);
  return r;
}

TEST(MmapLockBenchCmd, JsonHasBothRunsWithWaitAndThroughput) {
  const Ran r = run("--latency-us 20 --pages 32 --gup-tasks 1 --writer-gap-us 0 --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j.at("latency_us"), 20);
  for (const char* k : {"retry_on", "retry_off"}) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(j.contains(k)) << r.out;
    const auto& row = j.at(k);
    for (const char* q : {"p50", "p99", "max"}) {
      ASSERT_TRUE(row.at("writer_wait_us").contains(q)) << r.out;
      EXPECT_TRUE(row.at("writer_wait_us").at(q).is_number());
      EXPECT_GE(row.at("writer_wait_us").at(q).get<double>(), 0.0);
    }
    EXPECT_LE(row.at("writer_wait_us").at("p50").get<double>(), row.at("writer_wait_us").at("max").get<double>());
    EXPECT_TRUE(row.at("gup_pages_per_s").is_number());
    EXPECT_GT(row.at("gup_pages_per_s").get<double>(), 0.0);
    EXPECT_EQ(row.at("gup_pages"), 32) << "every page of the file was got";
  }
}

TEST(MmapLockBenchCmd, TextHasARowPerMode) {
  const Ran r = run("--latency-us 10 --pages 16 --gup-tasks 2 --writer-gap-us 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\non "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\noff "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wait p99 us"), std::string::npos) << r.out;
}

TEST(MmapLockBenchCmd, BadOptionsExit2WithAMessage) {
  for (const char* bad : {"--latency-us -1", "--latency-us abc", "--pages 0", "--gup-tasks 0", "--format xml",
                          "--no-such-option"}) {
    const Ran r = run(bad);
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_FALSE(r.err.empty()) << bad;
  }
}

}  // namespace
