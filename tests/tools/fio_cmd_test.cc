// fio_cmd_test.cc - `guplab fio` as a user runs it: the seed job's report (text and JSON),
// --help, overrides, and the errors for broken job files, bad options, a missing file and
// a bad device, each with a clear message, exit status 2 and nothing printed to stdout.
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
using guplab::testing::guplab_bin;
using guplab::testing::Ran;
using guplab::testing::run_guplab;
using guplab::testing::slurp;


class FioCmd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::read_symlink("/proc/self/exe").parent_path() / ("fio-cmd-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path job(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  /** run() - guplab fio @args, from the test's directory, with stdout and stderr apart. */
  Ran run(const std::string& args) { return run_guplab("fio " + args, dir_); }

  fs::path dir_;
};

constexpr const char* kSeedSmall =
    "[reader]\ndirect=1\nioengine=libaio\nblocksize=4096\nsize=8m\nnumjobs=1\nrw=read\niodepth=64\n"
    "filename=guplab-fio.dat\n";

TEST_F(FioCmd, PrintsFiosTextReportAndThePinCheck) {
  job("seed.fio", kSeedSmall);
  const Ran r = run("seed.fio --design=bias");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("reader: (g=0): rw=read, bs=(R) 4096B-4096B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ioengine=libaio, iodepth=64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Starting 1 process"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  read: IOPS="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Run status group 0 (all jobs):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("guplab: design bias"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nr_foll_pin_acquired 2048 == nr_foll_pin_released 2048"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Jobs: "), std::string::npos) << "no status line when stdout is not a terminal";
}

TEST_F(FioCmd, JsonOutputParsesWithFiosFields) {
  job("seed.fio", kSeedSmall);
  const Ran r = run("--output-format=json seed.fio --bs=8k");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);  // stdout is JSON only
  const auto& rd = j["jobs"][0]["read"];
  EXPECT_EQ(rd["total_ios"], 1024) << "8 MiB in the overridden 8 KiB blocks";
  EXPECT_GT(rd["iops"].get<double>(), 0.0);
  EXPECT_GT(rd["bw"].get<uint64_t>(), 0u);
  for (const char* p : {"1.000000", "50.000000", "99.000000", "99.990000"})
    EXPECT_TRUE(rd["clat_ns"]["percentile"].contains(p)) << p;
  EXPECT_EQ(j["jobs"][0]["job options"]["bs"], "8k");
  EXPECT_EQ(j["guplab"]["design"], "folio_pincount");
  EXPECT_EQ(j["guplab"]["nr_foll_pin_acquired"], j["guplab"]["nr_foll_pin_released"]);
  EXPECT_TRUE(j["guplab"]["pins_balanced"].get<bool>());
}

TEST_F(FioCmd, HelpDocumentsTheOptions) {
  const Ran r = run("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* o : {"--output-format=normal|json", "--design=", "--device=", "uring:PATH", "--eta=", "--bs="})
    EXPECT_NE(r.out.find(o), std::string::npos) << o;
}

TEST_F(FioCmd, BrokenJobFilesNameTheFileAndLine) {
  job("typo.fio", "[reader]\ndirect=1\nblocksise=4k\nsize=1m\n");
  Ran r = run("typo.fio");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("typo.fio:3: unknown option 'blocksise'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "nothing ran";

  job("badval.fio", "[reader]\ndirect=1\nbs=4k\nsize=1m\nrw=sideways\n");
  r = run("badval.fio");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("badval.fio:5: bad value 'sideways' for option 'rw'"), std::string::npos) << r.err;

  job("buffered.fio", "[reader]\nbs=4k\nsize=1m\n");
  r = run("buffered.fio");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("buffered.fio:1: job 'reader': direct=0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("set direct=1"), std::string::npos) << r.err;
}

TEST_F(FioCmd, BadOptionsMissingFilesAndBadDevicesAreClearErrors) {
  job("ok.fio", "[reader]\ndirect=1\nbs=4k\nsize=1m\n");
  struct Case {
    const char* args;
    const char* says;
  };
  fs::create_directories(dir_ / "jobs.d");
  for (const Case& c : {Case{"missing.fio", "missing.fio: cannot open: No such file or directory"},
                        Case{"jobs.d", "jobs.d: cannot open: Is a directory"},
                        Case{"/dev/null", "/dev/null: not a regular file"},
                        Case{"", "no job file given"},
                        Case{"ok.fio --design=magic", "unknown design 'magic'"},
                        Case{"ok.fio --output-format=xml", "'xml' is not normal or json"},
                        Case{"ok.fio --bs=7", "command line: bad value '7' for option 'bs'"},
                        Case{"ok.fio --frobnicate=1", "command line: unknown option 'frobnicate'"},
                        Case{"ok.fio --ioengine=libaoi", "command line: bad value 'libaoi' for option 'ioengine'"},
                        Case{"ok.fio -x", "unknown option '-x'"},
                        Case{"ok.fio --device=tape0", "tape0: no such device"},
                        // genhd's pmem0 needs a pmem region, which a fio run does not boot: not offered.
                        Case{"ok.fio --device=pmem0", "pmem0: no such device for guplab fio (uring:PATH or ram<N>)"},
                        Case{"ok.fio --device=uring:", "'uring:' needs a PATH"},
                        Case{"ok.fio --bs=8k --device=ram0,lbs=8192", "ram0: bad option lbs=8192"},
                        Case{"ok.fio --device=ram0,size=0", "ram0: bad option size=0"},
                        Case{"ok.fio --device=uring:/nonexistent-dir/f.dat", "/nonexistent-dir/f.dat"},
                        Case{"ok.fio --device", "--device needs a value"}}) {
    const Ran r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.out, "") << c.args;
  }
  EXPECT_FALSE(fs::exists(dir_ / "guplab-fio.dat")) << "no file left behind";
}

}  // namespace
