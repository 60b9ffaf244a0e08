// fio_vs_real_test.cc - guplab fio against the real fio on the same job file (skipped when
// fio is not installed or cannot do O_DIRECT where the test runs): with
// --output-format=json both reports must have the same fields, the same job options and
// groups, and the counts fio's semantics fix (bytes moved, I/Os of fixed-size jobs, the
// verify phase's reads, fsyncs, errors), never timings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tools/tool_runner.h"

namespace {

namespace fs = std::filesystem;
using guplab::testing::run_guplab;
using guplab::testing::slurp;
using nlohmann::json;

// verify=crc32c, ramp_time, bssplit and two files; then, after a stonewall, a fixed-size job
// whose every count is fixed: verify=md5, fsync and percentile_list.
constexpr const char* kJobs =
    "[global]\nioengine=psync\ndirect=1\ndirectory={dir}\n"
    "[mixed]\nfilename=a.dat:b.dat\nsize=1m\nrw=write\nbssplit=4k/50:8k/50\nverify=crc32c\nramp_time=30\n"
    "[fixed]\nstonewall\nfilename=c.dat\nsize=256k\nbs=4k\nrw=randwrite\nverify=md5\nfsync=4\n"
    "percentile_list=50:99\n";

std::set<std::string> keys(const json& o, std::set<std::string> drop = {}) {
  std::set<std::string> k;
  for (auto it = o.begin(); it != o.end(); ++it)
    if (!drop.count(it.key())) k.insert(it.key());
  return k;
}

class FioVsReal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v fio >/dev/null 2>&1") != 0) GTEST_SKIP() << "fio is not installed";
    dir_ = fs::read_symlink("/proc/self/exe").parent_path() / ("fio-vs-real-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::string text = kJobs;
    text.replace(text.find("{dir}"), 5, dir_.string());
    std::ofstream(dir_ / "both.fio") << text;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(FioVsReal, SameFieldsAndCountsAsRealFio) {
  const std::string cmd = "cd '" + dir_.string() + "' && fio --output-format=json both.fio >fio.json 2>fio.err";
  if (std::system(cmd.c_str()) != 0)
    GTEST_SKIP() << "real fio could not run the job here (O_DIRECT?): " << slurp(dir_ / "fio.err");
  const json fio = json::parse(slurp(dir_ / "fio.json"));
  const auto ran = run_guplab("fio --output-format=json both.fio", dir_);
  ASSERT_EQ(ran.status, 0) << ran.err;
  const json gup = json::parse(ran.out);

  EXPECT_EQ(keys(fio, {"disk_util"}), keys(gup, {"guplab"})) << "top-level fields (disk_util is the host's)";
  ASSERT_EQ(fio["jobs"].size(), 2u);
  ASSERT_EQ(gup["jobs"].size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    const json& f = fio["jobs"][i];
    const json& g = gup["jobs"][i];
    SCOPED_TRACE(f["jobname"].get<std::string>());
    EXPECT_EQ(keys(f), keys(g));
    EXPECT_EQ(f["jobname"], g["jobname"]);
    EXPECT_EQ(f["groupid"], g["groupid"]);
    EXPECT_EQ(f["error"], g["error"]);
    EXPECT_EQ(f["job options"], g["job options"]);
    for (const char* d : {"read", "write", "trim", "sync"}) {
      EXPECT_EQ(keys(f[d]), keys(g[d])) << d;
      EXPECT_EQ(f[d]["total_ios"].is_number(), g[d]["total_ios"].is_number()) << d;
    }
    for (const char* d : {"read", "write"}) {
      EXPECT_EQ(f[d]["io_bytes"], g[d]["io_bytes"]) << d;
      EXPECT_EQ(keys(f[d]["clat_ns"]), keys(g[d]["clat_ns"])) << d << " (a job inside its ramp has no percentiles)";
      if (f[d]["clat_ns"].contains("percentile"))
        EXPECT_EQ(keys(f[d]["clat_ns"]["percentile"]), keys(g[d]["clat_ns"]["percentile"])) << d;
      EXPECT_EQ(f[d]["clat_ns"]["N"] == 0, g[d]["clat_ns"]["N"] == 0) << d;
    }
    // The verify phase reads back every write, in both.
    EXPECT_EQ(f["read"]["total_ios"], f["write"]["total_ios"]);
    EXPECT_EQ(g["read"]["total_ios"], g["write"]["total_ios"]);
    EXPECT_EQ(f["sync"]["total_ios"], g["sync"]["total_ios"]);
  }
  // The fixed-size job's I/O counts are fio's semantics, not chance.
  for (const char* d : {"read", "write"})
    EXPECT_EQ(fio["jobs"][1][d]["total_ios"], gup["jobs"][1][d]["total_ios"]) << d;
  EXPECT_EQ(gup["jobs"][1]["sync"]["total_ios"], 15) << "fsync=4 over 64 writes: none after the last";
}

}  // namespace
