// fp_rate_cmd_test.cc - `guplab fp-rate` as a user runs it: the table and the JSON rows
// per design and workload, and a bad design or count refused with exit status 2.
#include <gtest/gtest.h>

#include "tools/tool_runner.h"
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using guplab::testing::Ran;
using guplab::testing::run_guplab;

/** run() - guplab fp-rate @args with stdout and stderr apart. */
Ran run(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("fp-rate-cmd-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  Ran r = run_guplab("fp-rate " + args, dir);
  fs::remove_all(dir);
  return r;
}

TEST(FpRateCmd, TablePrintsEveryWorkloadOfTheDesign) {
  const Ran r = run("--design bias --max-refs 1100 --max-forks 1030");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* w : {"refs", "fork", "thp_refs", "mix"})
    EXPECT_NE(r.out.find(std::string("bias            ") + w), std::string::npos) << w << "\n" << r.out;
  EXPECT_NE(r.out.find("ref 1024"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("folio_pincount"), std::string::npos) << "only the design asked for";
}

TEST(FpRateCmd, JsonHasARowPerDesignAndWorkload) {
  const Ran r = run("--format json --max-refs 64 --max-forks 8 --mix-pages 16");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j.size() % 4, 0u);
  EXPECT_GE(j.size(), 20u) << "every design, four workloads each";
  for (const auto& row : j) {
    EXPECT_EQ(row["false_positives"], 0) << row.dump() << ": nothing reaches 1024 references here";
    if (row["tracking"].get<bool>()) EXPECT_EQ(row["false_negatives"], 0) << row.dump();
  }
}

TEST(FpRateCmd, BadDesignOrCountIsAUsageError) {
  Ran r = run("--design nope");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown design 'nope'"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run("--max-refs 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_FALSE(r.err.empty());
}

}  // namespace
