// merge_cmd_test.cc - `guplab merge`: three shards of an exploration merge into exactly
// the histogram, failure count and first failing seed of the unsharded run; inputs of
// different explorations, a shard given twice, a missing file, a non-JSON file, fields of
// the wrong type, counts that do not add up and a shard count past the seeds are refused
// with exit status 2 and a message naming the file; a merge with shards missing is not a
// pass.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/tool_runner.h"

namespace guplab::testing {
namespace {

class MergeCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("guplab-merge-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // explore ext4-bug under get/ignore (it fails), 24 seeds, shard @shard, to @file.
  void explore_to(const std::string& file, const std::string& shard, const std::string& policy = "ignore") {
    Ran r = run_guplab("explore ext4-bug --design get --policy " + policy + " --seeds 24 --format json -q --shard " + shard,
                       dir_);
    ASSERT_NE(r.status, 2) << r.err;
    std::ofstream(dir_ / file) << r.out;
  }
  nlohmann::json json_of(const std::string& text) { return nlohmann::json::parse(text); }

  std::filesystem::path dir_;
};

TEST_F(MergeCmdTest, ShardsMergeIntoTheUnshardedResult) {
  explore_to("all.json", "1/1");
  explore_to("s1.json", "1/3");
  explore_to("s2.json", "2/3");
  explore_to("s3.json", "3/3");
  const nlohmann::json whole = json_of(slurp(dir_ / "all.json"));
  Ran r = run_guplab("merge --format json s2.json s3.json s1.json", dir_);
  ASSERT_EQ(r.status, 1) << "failures, unexplained: as explore's exit status\n" << r.err;
  const nlohmann::json merged = json_of(r.out);
  EXPECT_EQ(merged["runs"], whole["runs"]);
  EXPECT_EQ(merged["failed"], whole["failed"]);
  EXPECT_EQ(merged["outcomes"], whole["outcomes"]);
  ASSERT_TRUE(whole.contains("first_failure"));
  EXPECT_EQ(merged["first_failure"]["run"], whole["first_failure"]["run"]);
  EXPECT_EQ(merged["first_failure"]["seed"], whole["first_failure"]["seed"]);
  EXPECT_EQ(merged["as_predicted"], whole["as_predicted"]);
  EXPECT_TRUE(merged["missing_shards"].empty());
  Ran checked = run_guplab("merge --check s1.json s2.json s3.json", dir_);
  EXPECT_EQ(checked.status, 0) << "get/ignore is predicted to fail: --check accepts it\n" << checked.out;
  EXPECT_NE(checked.out.find("as predicted"), std::string::npos) << checked.out;
}

TEST_F(MergeCmdTest, AMissingShardIsReported) {
  explore_to("s1.json", "1/3");
  explore_to("s3.json", "3/3");
  Ran r = run_guplab("merge --format json s1.json s3.json", dir_);
  ASSERT_NE(r.status, 2) << r.err;
  const nlohmann::json merged = json_of(r.out);
  EXPECT_EQ(merged["missing_shards"], nlohmann::json::array({2}));
  EXPECT_EQ(merged["nr_missing_shards"], 1);
  EXPECT_EQ(merged["complete"], false);
  EXPECT_EQ(merged["shards"], "2 of 3");
  Ran checked = run_guplab("merge --check s1.json s3.json", dir_);
  EXPECT_EQ(checked.status, 1) << "a third of the seeds never ran: not a pass\n" << checked.out;
  EXPECT_NE(checked.out.find("over 2 of 3 shards: incomplete"), std::string::npos) << checked.out;
}

TEST_F(MergeCmdTest, FieldsOfTheWrongTypeAndCountsThatDoNotAddUpAreRefused) {
  explore_to("s1.json", "1/3");
  const nlohmann::json good = json_of(slurp(dir_ / "s1.json"));
  struct Case {
    const char* what;
    void (*edit)(nlohmann::json&);
    const char* message;
  };
  const Case cases[] = {
      {"scenario a number", [](nlohmann::json& j) { j["scenario"] = 5; }, "\"scenario\" is not a string"},
      {"scripted a string", [](nlohmann::json& j) { j["scripted"] = "no"; }, "\"scripted\" is not true or false"},
      {"design null", [](nlohmann::json& j) { j["design"] = nullptr; }, "\"design\" is not a string"},
      {"first_failure without reason", [](nlohmann::json& j) { j["first_failure"] = {{"run", 1}, {"seed", 2}, {"outcome", "bug"}}; },
       "\"first_failure\" lacks"},
      {"first_failure run a string", [](nlohmann::json& j) { j["first_failure"]["run"] = "1"; }, "\"first_failure\" lacks"},
      {"explained above failed", [](nlohmann::json& j) { j["explained_by_faults"] = j["failed"].get<uint64_t>() + 1; },
       "counts do not add up"},
      {"runs above seeds", [](nlohmann::json& j) { j["runs"] = 25; }, "\"runs\" missing or not a count of at most \"seeds\" (24)"},
      {"a huge shard count", [](nlohmann::json& j) { j["shard"] = "1/4294967295"; }, "\"shard\" missing or not K/N"},
      {"seeds past explore's limit", [](nlohmann::json& j) { j["seeds"] = 18446744073709551615ull; }, "\"seeds\" is not a count"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(j);
    std::ofstream(dir_ / "bad.json") << j.dump();
    Ran r = run_guplab("merge bad.json", dir_);
    EXPECT_EQ(r.status, 2) << c.what << ": " << r.err;
    EXPECT_NE(r.err.find("bad.json: "), std::string::npos) << c.what << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.what << ": " << r.err;
  }
}

TEST_F(MergeCmdTest, ExploreRefusesAShardCountThatIsNotKOverNWithinTheSeeds) {
  for (const char* shard : {"1/3/5", "1/3junk", "+1/3", "1/-1", "1/4294967297", "01/3", "1/25", "0/3", "4/3"}) {
    Ran r = run_guplab(std::string("explore ext4-bug --design get --policy ignore --seeds 24 -q --shard '") + shard + "'",
                       dir_);
    EXPECT_EQ(r.status, 2) << shard << ": " << r.out;
    EXPECT_NE(r.err.find("is not K/N with 1 <= K <= N <= --seeds (24)"), std::string::npos) << shard << ": " << r.err;
  }
}

TEST_F(MergeCmdTest, BadInputIsRefusedNamingTheFile) {
  explore_to("s1.json", "1/2");
  explore_to("other.json", "2/2", "skip");
  Ran mixed = run_guplab("merge s1.json other.json", dir_);
  EXPECT_EQ(mixed.status, 2);
  EXPECT_NE(mixed.err.find("other.json: \"policy\""), std::string::npos) << mixed.err;
  Ran twice = run_guplab("merge s1.json s1.json", dir_);
  EXPECT_EQ(twice.status, 2);
  EXPECT_NE(twice.err.find("given twice"), std::string::npos) << twice.err;
  Ran missing = run_guplab("merge s1.json nonexistent.json", dir_);
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("nonexistent.json: cannot read it"), std::string::npos) << missing.err;
  std::ofstream(dir_ / "junk.json") << "not json";
  Ran junk = run_guplab("merge junk.json", dir_);
  EXPECT_EQ(junk.status, 2);
  EXPECT_NE(junk.err.find("junk.json: not a JSON object"), std::string::npos) << junk.err;
  Ran none = run_guplab("merge", dir_);
  EXPECT_EQ(none.status, 2);
}

}  // namespace
}  // namespace guplab::testing
