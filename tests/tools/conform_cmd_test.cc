// conform_cmd_test.cc - `guplab conform` as a user runs it: TAP and JSON of one side,
// the side-by-side table with its agreement line, the mapcount rule's disagreement
// naming CVE-2020-29374, and bad usage refused with exit status 2.
#include <gtest/gtest.h>
#include <sys/wait.h>
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
  const fs::path dir = fs::temp_directory_path() / ("conform-cmd-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  Ran r = run_guplab("conform " + args, dir);
  fs::remove_all(dir);
  return r;
}

const char* kBase = "--filter '^vmsplice\\(\\) \\+ unmap in child \\.\\.\\. with base page$|^Basic COW \\.\\.\\. with huge zeropage$'";

TEST(ConformCmd, TapOfOneDesign) {
  const Ran r = run(std::string("--design folio_pincount ") + kBase);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("TAP version 13\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1..2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok 1 vmsplice() + unmap in child ... with base page\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok 2 Basic COW ... with huge zeropage # SKIP"), std::string::npos) << r.out;
}

TEST(ConformCmd, JsonOfTheHost) {
  const Ran r = run(std::string("--host --format json ") + kBase);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["side"], "host");
  ASSERT_EQ(j["cases"].size(), 2u);
  for (const auto& c : j["cases"]) {
    EXPECT_TRUE(c.contains("name") && c.contains("result") && c.contains("reason")) << c.dump();
    EXPECT_NE(c["result"], "fail") << c.dump();
  }
}

TEST(ConformCmd, MapcountReuseDisagreesWithTheHostAndNamesTheCve) {
  const Ran r = run(std::string("--host --design folio_pincount --cow-reuse mapcount ") + kBase);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("design folio_pincount+cow-reuse=mapcount agrees with the host on 0 of 1 cases run on both"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("CVE-2020-29374"), std::string::npos) << r.out;
}

TEST(ConformCmd, FolioPincountAgreesWithTheHost) {
  const Ran r = run(std::string("--host --design folio_pincount ") + kBase);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("design folio_pincount agrees with the host on 1 of 1 cases run on both"), std::string::npos)
      << r.out;
}

TEST(ConformCmd, BadUsageExitsTwo) {
  EXPECT_EQ(run("--design nosuch").status, 2);
  EXPECT_EQ(run("--cow-reuse pagecount").status, 2);
  EXPECT_EQ(run("--filter '('").status, 2);
  EXPECT_EQ(run("--filter 'no case has this name'").status, 2);
}

}  // namespace
