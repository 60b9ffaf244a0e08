// strict_number_test.cc - issue 15's strict input, tried as a new user would: every class
// of bad number on every subcommand (a sign, overflow, a fraction, units where none go, out
// of range), requests for more memory than the machine can hold, and fio options guplab does
// not run. Each ends at once with exit status 2 and a message naming the option, the value
// and what is allowed; nothing is run and nothing large is allocated.
#include "tools/strict_number.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lab/fio/fio_names.h"
#include "lab/fio/mem_budget.h"
#include "tools/tool_runner.h"

namespace {

namespace fs = std::filesystem;
using guplab::testing::Ran;
using guplab::testing::run_guplab;
using guplab::tools::parse_whole;
using guplab::tools::whole_problem;

class StrictInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::read_symlink("/proc/self/exe").parent_path() / ("strict-input-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void job(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  /** refused() - guplab @args ends with status 2 and a message holding each of @parts. */
  void refused(const std::string& args, std::initializer_list<std::string> parts) {
    const Ran r = run_guplab(args, dir_);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    for (const std::string& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << args << ": wants '" << p << "' in\n" << r.err;
  }
  fs::path dir_;
};

TEST(ParseWhole, AcceptsDigitsOnlyAndRefusesOverflow) {
  EXPECT_EQ(parse_whole("0"), 0u);
  EXPECT_EQ(parse_whole("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_whole("18446744073709551616"));
  EXPECT_FALSE(parse_whole("-5"));
  EXPECT_FALSE(parse_whole("+5"));
  EXPECT_FALSE(parse_whole(" 5"));
  EXPECT_FALSE(parse_whole("5k"));
  EXPECT_FALSE(parse_whole("1e3"));
  EXPECT_FALSE(parse_whole(""));
  EXPECT_FALSE(parse_whole("0x10"));
  EXPECT_EQ(parse_whole("0x10", true), 16u);
  EXPECT_FALSE(parse_whole("0x", true));
  EXPECT_FALSE(parse_whole("0x1g", true));
  EXPECT_EQ(whole_problem("7", 1, 10), "");
  EXPECT_EQ(whole_problem("11", 1, 10), "'11' is out of range; allowed: from 1 to 10");
}

TEST_F(StrictInput, ANegativeNumberIsRefusedNotWrapped) {
  refused("explore ext4-bug --seeds -5", {"--seeds", "'-5'", "from 1 to 1000000000"});
  refused("run ext4-bug --seed -1", {"--seed", "'-1'", "2^64-1"});
  refused("explore ext4-bug --base-seed -1", {"--base-seed", "'-1'"});
  refused("explore ext4-bug --replay -0x1", {"--replay", "'-0x1'"});
  refused("gup_test -m -5", {"-m", "'-5'", "from 1 to 16384"});
  refused("fp-rate --max-refs -1", {"--max-refs", "'-1'"});
  refused("demo --explore-seeds -3", {"--explore-seeds", "'-3'"});
}

TEST_F(StrictInput, AnOverflowingNumberIsRefused) {
  refused("explore ext4-bug --seeds 99999999999999999999999", {"--seeds", "fits in 64 bits"});
  refused("run ext4-bug --seed 0x10000000000000000", {"--seed", "'0x10000000000000000'"});
}

TEST_F(StrictInput, FractionsExponentsAndUnitsAreNotWholeNumbers) {
  refused("explore ext4-bug --seeds 1.5", {"--seeds", "'1.5' is not a whole number"});
  refused("fp-rate --max-forks 1e3", {"--max-forks", "'1e3'"});
  refused("gup_test -n 4k", {"-n", "'4k'"});
  refused("explore ext4-bug --spurious-wakeups nan", {"--spurious-wakeups", "'nan'", "0 to 1"});
}

TEST_F(StrictInput, AnOutOfRangeNumberNamesTheRange) {
  refused("explore ext4-bug --seeds 0", {"--seeds", "'0' is out of range", "from 1 to 1000000000"});
  refused("explore ext4-bug --jobs 0", {"--jobs", "from 1 to 1024"});
  refused("gup_test -j 65", {"-j", "'65'", "from 1 to 64"});
  refused("demo --gup-mb 5000", {"--gup-mb", "from 1 to 4096"});
  refused("explore ext4-bug --spurious-wakeups 1.5", {"--spurious-wakeups", "out of range"});
}

TEST_F(StrictInput, ALeadingZeroIsRefusedNotReadAsOctal) {
  EXPECT_EQ(whole_problem("0", 0, 10), "");
  EXPECT_EQ(whole_problem("0x10", 0, 100, true), "");
  EXPECT_EQ(whole_problem("010", 0, 100), "'010' has a leading zero (it would be read as octal); allowed: from 0 to 100");
  refused("explore ext4-bug --seeds 010", {"--seeds", "'010' has a leading zero"});
  refused("rdma-cost --pages 010", {"--pages", "'010' has a leading zero"});
}

TEST_F(StrictInput, EveryCommandsNumbersAreStrict) {
  refused("rdma-cost --pages 0x10", {"--pages", "'0x10' is not a whole number"});
  refused("rdma-cost --runs +2", {"--runs", "'+2' is not a whole number"});
  refused("rdma-cost --rounds 5x", {"--rounds", "'5x' is not a whole number", "from 1 to 100000"});
  refused("mmap-lock-bench --gup-tasks 1.5", {"--gup-tasks", "'1.5' is not a whole number"});
  refused("mmap-lock-bench --latency-us -1", {"--latency-us", "'-1' is not a whole number"});
  refused("conform --timeout ' 2'", {"--timeout", "is not a whole number"});
  refused("report -o x.html --seed 99999999999999999999", {"--seed", "not a number that fits in 64 bits"});
}

TEST_F(StrictInput, AFioJobNumberIsStrict) {
  job("neg.fio", "[j]\ndirect=1\nsize=1m\niodepth=-5\n");
  refused("fio neg.fio", {"neg.fio:4", "'-5'", "iodepth", "from 1 to 65536"});
  job("big.fio", "[j]\ndirect=1\nsize=99999999999999999999999\n");
  refused("fio big.fio", {"big.fio:3", "'size'"});
  job("ok.fio", "[j]\ndirect=1\nsize=1m\n");
  refused("fio ok.fio --numjobs=0", {"command line", "numjobs", "from 1 to 4096"});
  refused("fio ok.fio --size=-1m", {"command line", "'-1m'", "size"});
}

TEST_F(StrictInput, ARamdiskBeyondTheMemoryLimitIsRefusedBeforeAllocating) {
  job("huge.fio", "[j]\ndirect=1\nsize=1t\n");
  refused("fio huge.fio", {"huge.fio:1: job 'j'", "ramdisk of 1024GiB", "--mem-limit=SIZE raises it"});
  job("ok.fio", "[j]\ndirect=1\nsize=1m\n");
  refused("fio ok.fio --device ram0,size=1t", {"--device ram0,size=1t", "--mem-limit"});
  refused("fio huge.fio --mem-limit=-1", {"--mem-limit", "'-1'"});
  refused("fio huge.fio --mem-limit=16e", {"--mem-limit", "'16e'"});
}

TEST_F(StrictInput, IodepthTimesBsBeyondTheModelsRamIsRefused) {
  job("deep.fio", "[j]\ndirect=1\nsize=64g\nbs=1g\niodepth=65536\nioengine=libaio\n");
  refused("fio deep.fio", {"deep.fio:1: job 'j'", "iodepth=65536", "arena", "lower iodepth, bs or numjobs"});
}

TEST_F(StrictInput, GupTestBeyondTheArenaIsRefused) {
  refused("gup_test -a -m 16384 --ram 64G", {"-m 16384", "RAM"});
}

TEST_F(StrictInput, GupTestRamTooSmallForTheBufferIsRefusedNotABug) {
  refused("gup_test -a -m 64 --ram 2M", {"--ram 2M", "-m 64 needs a machine of at least 132 MiB"});
}

TEST_F(StrictInput, UnknownFioOptionsSayWhetherFioHasThem) {
  job("verify.fio", "[j]\ndirect=1\nsize=1m\nverify=md5\nverify_backlog=8\n");
  refused("fio verify.fio",
          {"verify.fio:5: unknown option 'verify_backlog'", "fio has this option, but guplab does not support it"});
  job("ok.fio", "[j]\ndirect=1\nsize=1m\n");
  refused("fio ok.fio --verify_async=1", {"command line: unknown option 'verify_async'", "guplab does not support it"});
  job("typo.fio", "[j]\ndirect=1\nsize=1m\nblocksise=4k\n");
  refused("fio typo.fio", {"unknown option 'blocksise'", "fio has no such option", "did you mean 'blocksize'"});
  job("nonsense.fio", "[j]\ndirect=1\nsize=1m\nfrobnicate=1\n");
  refused("fio nonsense.fio", {"unknown option 'frobnicate': fio has no such option"});
}

TEST(FioNames, KnowsFiosOptionsAndNotTypos) {
  for (const char* k : {"verify", "ramp_time", "bssplit", "rate_iops", "fsync", "startdelay", "stonewall", "directory",
                        "nrfiles", "filesize", "percentile_list"})
    EXPECT_TRUE(guplab::fio::is_fio_option(k)) << k;
  EXPECT_FALSE(guplab::fio::is_fio_option("blocksise"));
  EXPECT_FALSE(guplab::fio::is_fio_option(""));
}

TEST(MemBudget, SaturatesInsteadOfWrapping) {
  using guplab::fio::sat_add;
  using guplab::fio::sat_mul;
  EXPECT_EQ(sat_add(UINT64_MAX - 1, 5), UINT64_MAX);
  EXPECT_EQ(sat_mul(1ull << 40, 1ull << 40), UINT64_MAX);
  EXPECT_EQ(guplab::fio::ramdisk_bytes("ram0,size=1t"), 1ull << 40);
  EXPECT_EQ(guplab::fio::ramdisk_bytes("ram0,size=1m,generations=on"), (1ull << 20) + (1ull << 20) / 512 * 8);
  EXPECT_EQ(guplab::fio::ramdisk_bytes("uring:/tmp/x,size=1t"), 0u);
}

}  // namespace
