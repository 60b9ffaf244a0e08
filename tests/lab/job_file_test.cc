// job_file_test.cc - fio job files: parsing, inheritance, overrides, numjobs and errors.
#include "lab/fio/job_file.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace guplab::fio {
namespace {

// A copy of /work/shared/bench/seed000.fio (the job file of seed 000's fio run).
constexpr const char* kSeed000 =
    "; The job from seed 000 (the fio run reported with the GUP_PIN_COUNTING_BIAS patch),\n"
    "; with a filename added so that it runs as it is.\n"
    "[reader]\n"
    "direct=1\n"
    "ioengine=libaio\n"
    "blocksize=4096\n"
    "size=1g\n"
    "numjobs=1\n"
    "rw=read\n"
    "iodepth=64\n"
    "filename=guplab-fio.dat\n";

std::vector<JobSpec> resolve_text(const std::string& text, std::vector<std::string> args = {}) {
  auto file = parse_job_text(text, "t.fio");
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error());
  if (!file) return {};
  auto with = with_overrides(std::move(file.value()), args);
  EXPECT_TRUE(with.ok()) << (with.ok() ? "" : with.error());
  if (!with) return {};
  auto jobs = resolve_jobs(with.value());
  EXPECT_TRUE(jobs.ok()) << (jobs.ok() ? "" : jobs.error());
  return jobs ? jobs.value() : std::vector<JobSpec>{};
}

/** The error parsing and resolving @text gives, or "" if none. */
std::string error_of(const std::string& text, std::vector<std::string> args = {}) {
  auto file = parse_job_text(text, "seed000.fio");
  if (!file) return file.error();
  auto with = with_overrides(std::move(file.value()), args);
  if (!with) return with.error();
  auto jobs = resolve_jobs(with.value());
  return jobs ? "" : jobs.error();
}

void expect_seed000(const std::vector<JobSpec>& jobs) {
  ASSERT_EQ(jobs.size(), 1u);
  const JobSpec& j = jobs[0];
  EXPECT_EQ(j.name, "reader");
  EXPECT_TRUE(j.direct);
  EXPECT_EQ(j.ioengine, "libaio");
  EXPECT_EQ(j.bs, 4096u);
  EXPECT_EQ(j.size, 1ull << 30);
  EXPECT_EQ(j.numjobs, 1u);
  EXPECT_EQ(j.rw, RwMode::read);
  EXPECT_EQ(j.iodepth, 64u);
  EXPECT_EQ(j.filename, "guplab-fio.dat");
  EXPECT_EQ(j.line, 3);
  ASSERT_EQ(j.options.size(), 8u);
  EXPECT_EQ(j.options[2].key, "bs");  // canonical, as fio's JSON prints it
  EXPECT_EQ(j.options[2].value, "4096");
  EXPECT_EQ(j.options[2].line, 6);
}

TEST(FioJobFile, Seed000Embedded) { expect_seed000(resolve_text(kSeed000)); }

TEST(FioJobFile, Seed000FromSharedBench) {
  // Look for shared/bench/seed000.fio above the source tree (the work tree or CI clone):
  // $GUPLAB_SOURCE_DIR under ctest, else this file's path (relative under a compiler cache).
  const char* src = std::getenv("GUPLAB_SOURCE_DIR");
  std::filesystem::path dir = std::filesystem::absolute(src ? std::filesystem::path(src) : std::filesystem::path(__FILE__).parent_path());
  std::filesystem::path found;
  for (; !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "shared/bench/seed000.fio")) {
      found = dir / "shared/bench/seed000.fio";
      break;
    }
  }
  if (found.empty()) GTEST_SKIP() << "shared/bench/seed000.fio not found above " << __FILE__;
  auto file = load_job_file(found.string());
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(file->source, found.string());
  auto jobs = resolve_jobs(file.value());
  ASSERT_TRUE(jobs.ok()) << jobs.error();
  expect_seed000(jobs.value());
}

TEST(FioJobFile, GlobalInheritanceAndJobOverride) {
  const auto jobs = resolve_text(
      "[global]\n"
      "bs=8k\n"
      "size=64m\n"
      "direct=1\n"
      "ioengine=io_uring\n"
      "[a]\n"
      "rw=randread\n"
      "[b]\n"
      "rw=write\n"
      "bs=64k\n"
      "direct=0\n"
      "[global]\n"
      "iodepth=16\n"
      "[c]\n"
      "rw=randrw\n"
      "rwmixread=70\n");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].bs, 8192u);
  EXPECT_EQ(jobs[0].size, 64u << 20);
  EXPECT_TRUE(jobs[0].direct);
  EXPECT_EQ(jobs[0].ioengine, "io_uring");
  EXPECT_EQ(jobs[0].iodepth, 1u);  // the second [global] comes after a and b
  EXPECT_EQ(jobs[1].bs, 65536u);
  EXPECT_FALSE(jobs[1].direct);
  EXPECT_EQ(jobs[1].rw, RwMode::write);
  EXPECT_EQ(jobs[2].iodepth, 16u);
  EXPECT_EQ(jobs[2].rwmixread, 70u);
  EXPECT_EQ(jobs[2].rw, RwMode::randrw);
  EXPECT_EQ(jobs[0].options.size(), 1u);  // its own options only; globals are global options
}

TEST(FioJobFile, NumjobsExpands) {
  const auto jobs = resolve_text("[w]\nsize=1m\nnumjobs=3\nrw=randwrite\n[r]\nsize=1m\n");
  ASSERT_EQ(jobs.size(), 4u);
  for (unsigned i = 0; i < 3; i++) {
    EXPECT_EQ(jobs[i].name, "w");
    EXPECT_EQ(jobs[i].clone, i);
    EXPECT_EQ(jobs[i].numjobs, 3u);
  }
  EXPECT_EQ(jobs[3].name, "r");
  EXPECT_EQ(jobs[3].clone, 0u);
}

TEST(FioJobFile, ValuesUnitsAndBooleans) {
  const auto jobs = resolve_text(
      "[x]\n"
      "name=renamed\n"
      "readwrite=readwrite\n"
      "rwmixwrite=30\n"
      "size=2g\n"
      "offset=1MiB\n"
      "bs=1536\n"
      "runtime=500ms\n"
      "time_based\n"
      "group_reporting\n"
      "thread=1\n"
      "norandommap\n"
      "randrepeat=0\n"
      "loops=3\n"
      "hipri\n"
      "[y]\n"
      "size=0\n"
      "time_based=1\n"
      "runtime=1m\n");
  ASSERT_EQ(jobs.size(), 2u);
  const JobSpec& x = jobs[0];
  EXPECT_EQ(x.name, "renamed");
  EXPECT_EQ(x.rw, RwMode::rw);
  EXPECT_STREQ(to_string(x.rw), "rw");
  EXPECT_EQ(x.rwmixread, 70u);
  EXPECT_EQ(x.size, 2ull << 30);
  EXPECT_EQ(x.offset, 1000000u);  // fio: KiB/MiB spellings are powers of ten
  EXPECT_EQ(x.bs, 1536u);
  EXPECT_EQ(x.runtime, std::chrono::milliseconds(500));
  EXPECT_TRUE(x.time_based);
  EXPECT_TRUE(x.group_reporting);
  EXPECT_TRUE(x.thread);
  EXPECT_TRUE(x.norandommap);
  EXPECT_FALSE(x.randrepeat);
  EXPECT_EQ(x.loops, 3u);
  EXPECT_TRUE(x.hipri);
  EXPECT_FALSE(jobs[1].hipri);
  EXPECT_EQ(jobs[1].runtime, std::chrono::seconds(60));
  EXPECT_EQ(jobs[1].size, 0u);  // allowed: time_based with a runtime
  EXPECT_EQ(jobs[1].ioengine, "psync");
  EXPECT_TRUE(jobs[1].randrepeat);
}

TEST(FioJobFile, CommentsAndWhitespace) {
  const auto jobs = resolve_text(
      "# leading comment\r\n"
      "\r\n"
      "  [ spaced ]  \r\n"
      "   size = 4m   ; trailing comment\r\n"
      "bs=4k # another\r\n"
      "filename=/tmp/a#b\r\n"
      ";size=1g\n");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].name, "spaced");
  EXPECT_EQ(jobs[0].size, 4u << 20);
  EXPECT_EQ(jobs[0].filename, "/tmp/a#b");  // '#' inside a word is not a comment
}

TEST(FioJobFile, OverridesApplyToAllJobsAndWin) {
  const auto jobs = resolve_text("[global]\nsize=16m\n[a]\nbs=4k\n[b]\nnumjobs=2\n",
                                 {"--bs=8k", "--direct", "--iodepth=32"});
  ASSERT_EQ(jobs.size(), 3u);
  for (const JobSpec& j : jobs) {
    EXPECT_EQ(j.bs, 8192u);
    EXPECT_TRUE(j.direct);
    EXPECT_EQ(j.iodepth, 32u);
  }
  ASSERT_EQ(jobs[0].options.size(), 3u);  // the job's bs=4k replaced by the override
  EXPECT_EQ(jobs[0].options[0].key, "bs");
  EXPECT_EQ(jobs[0].options[0].value, "8k");
  EXPECT_EQ(jobs[0].options[0].line, 0);
  EXPECT_EQ(jobs[0].options[1].key, "direct");
  EXPECT_EQ(jobs[0].options[2].key, "iodepth");
  // numjobs from the command line expands too.
  EXPECT_EQ(resolve_text("[a]\nsize=1m\n", {"--numjobs=4"}).size(), 4u);
}

TEST(FioJobFile, ErrorsNameFileLineAndOption) {
  const std::string head = "; c\n; c\n[reader]\ndirect=1\nsize=1g\nrw=read\n";
  EXPECT_EQ(error_of(head + "blocksise=4096\n"), "seed000.fio:7: unknown option 'blocksise': fio has no such option; did you mean 'blocksize'?");
  EXPECT_EQ(error_of(head + "bs=4q\n"),
            "seed000.fio:7: bad value '4q' for option 'bs': expected a size such as 4096, 4k, 1m or 1g (no sign, below 16 EiB)");
  EXPECT_EQ(error_of(head + "bs=1000\n"),
            "seed000.fio:7: bad value '1000' for option 'bs': must be a multiple of 512");
  EXPECT_EQ(error_of(head + "blocksize=0\n"),
            "seed000.fio:7: bad value '0' for option 'bs': must be greater than 0");
  EXPECT_EQ(error_of(head + "rw=reed\n"),
            "seed000.fio:7: bad value 'reed' for option 'rw': expected read, write, randread, "
            "randwrite, rw, readwrite or randrw");
  EXPECT_EQ(error_of(head + "rwmixread=101\n"),
            "seed000.fio:7: bad value '101' for option 'rwmixread': out of range; allowed: from 0 to 100");
  EXPECT_EQ(error_of(head + "iodepth=0\n"),
            "seed000.fio:7: bad value '0' for option 'iodepth': out of range; allowed: from 1 to 65536");
  EXPECT_EQ(error_of(head + "iodepth=many\n"),
            "seed000.fio:7: bad value 'many' for option 'iodepth': expected a whole number; allowed: from 1 to 65536");
  EXPECT_EQ(error_of(head + "direct=2\n"),
            "seed000.fio:7: bad value '2' for option 'direct': expected 0 or 1");
  EXPECT_EQ(error_of(head + "runtime=10sec\n"),
            "seed000.fio:7: bad value '10sec' for option 'runtime': expected a time such as 10, "
            "10s, 500ms or 1m");
  EXPECT_EQ(error_of(head + "loops=0\n"),
            "seed000.fio:7: bad value '0' for option 'loops': out of range; allowed: from 1 to 4294967295");
  EXPECT_EQ(error_of(head + "bs=\n"), "seed000.fio:7: option 'bs' needs a value");
  EXPECT_EQ(error_of(head + "filename\n"), "seed000.fio:7: option 'filename' needs a value");
  EXPECT_EQ(error_of(head + "=4k\n"), "seed000.fio:7: missing option name in '=4k'");
}

TEST(FioJobFile, StructuralErrors) {
  EXPECT_EQ(error_of("; no section yet\nbs=4k\n[x]\n"),
            "seed000.fio:2: option 'bs' outside of any [section]");
  EXPECT_EQ(error_of("[reader\nsize=1m\n"), "seed000.fio:1: malformed section header '[reader'");
  EXPECT_EQ(error_of("[]\n"), "seed000.fio:1: empty section name");
  EXPECT_EQ(error_of("[global]\nsize=1m\n"), "seed000.fio: no jobs defined");
  EXPECT_EQ(error_of(""), "seed000.fio: no jobs defined");
  EXPECT_EQ(error_of("[x]\nrw=read\n"),
            "seed000.fio:1: job 'x': size must be set and greater than 0 (or time_based=1 with a runtime)");
  EXPECT_EQ(error_of("[x]\ntime_based\n"),
            "seed000.fio:1: job 'x': size must be set and greater than 0 (or time_based=1 with a runtime)");
  EXPECT_EQ(error_of("\n[x]\nsize=1k\nbs=4k\n"), "seed000.fio:2: job 'x': size (1024) is smaller than bs (4096)");
}

TEST(FioJobFile, OverrideErrors) {
  const std::string ok = "[x]\nsize=1m\n";
  EXPECT_EQ(error_of(ok, {"--blocksise=4k"}), "command line: unknown option 'blocksise': fio has no such option; did you mean 'blocksize'?");
  EXPECT_EQ(error_of(ok, {"--bs=513"}), "command line: bad value '513' for option 'bs': must be a multiple of 512");
  EXPECT_EQ(error_of(ok, {"bs=4k"}), "command line: 'bs=4k' is not of the form --option=value");
  EXPECT_EQ(error_of(ok, {"--size=0"}),
            "seed000.fio:1: job 'x': size must be set and greater than 0 (or time_based=1 with a runtime)");
  EXPECT_EQ(error_of(ok, {"--name="}), "command line: option 'name' needs a value");
}

TEST(FioJobFile, OnlyTheEnginesGuplabRunsAreAccepted) {
  for (const char* e : {"sync", "psync", "vsync", "pvsync", "pvsync2", "libaio", "io_uring"}) {
    const auto jobs = resolve_text(std::string("[x]\nsize=1m\nioengine=") + e + "\n");
    ASSERT_EQ(jobs.size(), 1u) << e;
    EXPECT_EQ(jobs[0].ioengine, e);
  }
  const std::string head = "[x]\nsize=1m\n";
  const std::string list = "sync, psync, vsync, pvsync, pvsync2, libaio or io_uring";
  for (const char* typo : {"libaoi", "psnyc", "nope", "LIBAIO"})
    EXPECT_EQ(error_of(head + "ioengine=" + typo + "\n"),
              std::string("seed000.fio:3: bad value '") + typo + "' for option 'ioengine': fio has no such engine; expected " + list);
  EXPECT_EQ(error_of(head + "ioengine=posixaio\n"),
            "seed000.fio:3: bad value 'posixaio' for option 'ioengine': fio has this engine, but guplab runs only " + list);
  EXPECT_EQ(error_of(head, {"--ioengine=mmap"}),
            "command line: bad value 'mmap' for option 'ioengine': fio has this engine, but guplab runs only " + list);
  EXPECT_EQ(error_of(head + "ioengine=\n"), "seed000.fio:3: option 'ioengine' needs a value");
}

TEST(FioJobFile, TooLargeIsSaidSoNotMisread) {
  // filesize x nrfiles wrapped to 0 and read as "size must be set".
  EXPECT_EQ(error_of("[x]\nfilesize=4611686018427387904\nnrfiles=4\n"),
            "seed000.fio:1: job 'x': filesize=4611686018427387904 x nrfiles=4 is too large (16 EiB or more)");
  // A time past 64 bits of microseconds is well-formed, only too large; so is one whose
  // nanoseconds would not fit.
  for (const char* t : {"99999999999d", "18446744073709551616", "106752d"})
    EXPECT_EQ(error_of(std::string("[x]\nsize=1m\nruntime=") + t + "\n"),
              std::string("seed000.fio:3: bad value '") + t + "' for option 'runtime': too large; at most 106751d")
        << t;
  EXPECT_EQ(error_of("[x]\nsize=1m\nramp_time=99999999999d\n"),
            "seed000.fio:3: bad value '99999999999d' for option 'ramp_time': too large; at most 106751d");
  EXPECT_EQ(resolve_text("[x]\nsize=1m\nruntime=106751d\n")[0].runtime.count(), 106751ll * 86400 * 1000000);
  EXPECT_EQ(error_of("[x]\nsize=1m\nruntime=99999999999x\n"),
            "seed000.fio:3: bad value '99999999999x' for option 'runtime': expected a time such as 10, 10s, 500ms or 1m");
}

TEST(FioJobFile, LoadMissingFile) {
  auto f = load_job_file("/nonexistent/dir/job.fio");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), "/nonexistent/dir/job.fio: cannot open: No such file or directory");
}

/** A scratch directory of this test process, removed at the end. */
class FioJobFileLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("guplab-job-file-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string put(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(FioJobFileLoad, OnlyARegularFileIsRead) {
  auto f = load_job_file(dir_.string());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), dir_.string() + ": cannot open: Is a directory");
  // A device is refused before it is read (/dev/zero would never end).
  f = load_job_file("/dev/null");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), "/dev/null: not a regular file (a device, FIFO or socket is not read as a job file)");
  f = load_job_file(put("ok.fio", "[j]\nsize=1m\n"));
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(f->read_from.size(), 1u) << "the file's identity, for the run to refuse writing it";
}

TEST_F(FioJobFileLoad, AJobFileIsAtMostOneMiB) {
  const std::string head = "[j]\nsize=1m\n";
  std::string text = head + std::string((1u << 20) - head.size() - 1, ';') + "\n";  // 1 MiB exactly
  ASSERT_EQ(text.size(), 1u << 20);
  auto f = load_job_file(put("max.fio", text));
  EXPECT_TRUE(f.ok()) << f.error();
  text += ";\n";
  const std::string big = put("big.fio", text);
  f = load_job_file(big);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), big + ": larger than a job file may be (1048576 bytes, 1 MiB)");
}

TEST(FioJobFile, ErrorsQuoteBinaryAndLongTextShortAndEscaped) {
  EXPECT_EQ(error_of("[j]\nsize=1m\n\x01\x7f\xff\\=3\n"),
            "seed000.fio:3: unknown option '\\x01\\x7f\\xff\\x5c': fio has no such option");
  const std::string key(1 << 20, 'k');
  const std::string err = error_of("[j]\nsize=1m\n" + key + "=1\n");
  EXPECT_EQ(err, "seed000.fio:3: unknown option '" + std::string(64, 'k') + "... (1048576 bytes)': fio has no such option");
  const std::string value(100000, '\x02');
  EXPECT_LT(error_of("[j]\nsize=1m\nrw=" + value + "\n").size(), 400u);
  EXPECT_LT(error_of("[j]\nsize=1m\nbssplit=4k/" + std::string(100000, '9') + "\n").size(), 600u);
  EXPECT_LT(error_of("[" + std::string(100000, 'x') + "\nsize=1m\n").size(), 200u);
  EXPECT_EQ(error_of("[a\tb]\n"), "seed000.fio:1: job 'a\\x09b': size must be set and greater than 0 (or time_based=1 with a runtime)");
}

}  // namespace
}  // namespace guplab::fio
