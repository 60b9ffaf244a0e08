// fio_runner_test.cc - fio job files run on the model: pins balance under every design,
// written data reads back through the device, read/write mixes, time limits, errors from
// the device, synchronous engines, the status line, the JSON report, refused jobs, and a
// real file through io_uring.
#include "lab/fio/runner.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "block/ramdisk.h"
#include "fs/direct-io.h"
#include "lab/fio/json_report.h"
#include "mm/uaccess.h"
#include "tests/block/block_test_util.h"

namespace guplab::fio {
namespace {

JobFile parse(const std::string& text) {
  auto f = parse_job_text(text, "test.fio");
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error());
  return f.ok() ? f.value() : JobFile{};
}

RunOutcome run_ok(const std::string& text, const RunConfig& cfg = {}) {
  auto r = run_fio(parse(text), cfg);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  if (!r.ok()) return RunOutcome{};
  EXPECT_TRUE(r->ok()) << (r->problems.empty() ? "a job failed" : r->problems[0]);
  return std::move(r.value());
}

std::string run_error(const std::string& text, const RunConfig& cfg = {}) {
  auto r = run_fio(parse(text), cfg);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error();
}

const DirStats& rd(const RunOutcome& o, size_t job = 0) { return o.result.stats[job].at(Ddir::read); }
const DirStats& wr(const RunOutcome& o, size_t job = 0) { return o.result.stats[job].at(Ddir::write); }

class FioPerDesign : public ::testing::TestWithParam<PinDesign> {};

TEST_P(FioPerDesign, PinsBalanceAfterAMixedRun) {
  RunConfig cfg;
  cfg.design = GetParam();
  const RunOutcome o = run_ok(
      "[mix]\ndirect=1\nioengine=libaio\nbs=4k\nsize=2m\nrw=randrw\niodepth=16\nnumjobs=2\n", cfg);
  ASSERT_EQ(o.result.stats.size(), 2u);
  for (size_t j = 0; j < 2; j++) {
    EXPECT_EQ(rd(o, j).total_ios + wr(o, j).total_ios, 512u) << "every block once";
    EXPECT_EQ(o.result.stats[j].error, 0);
  }
  EXPECT_EQ(o.pins_acquired, o.pins_released);
  EXPECT_GE(o.pins_acquired, 1024) << "one pin per 4 KiB I/O at least";
  EXPECT_TRUE(o.problems.empty());
}

INSTANTIATE_TEST_SUITE_P(Designs, FioPerDesign, ::testing::ValuesIn(kAllPinDesigns),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(FioRunner, DirectionsFollowRwAndRwmixread) {
  const std::string common = "[j]\ndirect=1\nioengine=io_uring\nbs=4k\nsize=4m\niodepth=8\n";
  {
    const RunOutcome o = run_ok(common + "rw=read\n");
    EXPECT_EQ(rd(o).total_ios, 1024u);
    EXPECT_EQ(rd(o).io_bytes, 4u << 20);
    EXPECT_EQ(wr(o).total_ios, 0u);
  }
  {
    const RunOutcome o = run_ok(common + "rw=randwrite\n");
    EXPECT_EQ(wr(o).total_ios, 1024u);
    EXPECT_EQ(rd(o).total_ios, 0u);
  }
  {
    const RunOutcome o = run_ok(common + "rw=randrw\nrwmixread=70\n");
    EXPECT_EQ(rd(o).total_ios + wr(o).total_ios, 1024u);
    EXPECT_NEAR(static_cast<double>(rd(o).total_ios) / 1024.0, 0.70, 0.06);
  }
  {
    const RunOutcome o = run_ok(common + "rw=rw\nrwmixwrite=80\n");
    EXPECT_EQ(rd(o).total_ios + wr(o).total_ios, 1024u);
    EXPECT_NEAR(static_cast<double>(wr(o).total_ios) / 1024.0, 0.80, 0.06);
  }
  {
    const RunOutcome o = run_ok(common + "rw=read\nloops=3\n");
    EXPECT_EQ(rd(o).total_ios, 3u * 1024);
  }
}

TEST(FioRunner, RandomMapVisitsEveryBlockOnceAndSequentialInOrder) {
  for (const char* rw : {"randread", "read"}) {
    std::vector<uint64_t> offsets;
    RunConfig cfg;
    cfg.on_io = [&](const IoEvent& ev) { offsets.push_back(ev.offset); };
    run_ok(std::string("[j]\ndirect=1\nioengine=psync\nbs=8k\nsize=1m\noffset=64k\nrw=") + rw + "\n", cfg);
    ASSERT_EQ(offsets.size(), 128u) << rw;
    const std::set<uint64_t> distinct(offsets.begin(), offsets.end());
    EXPECT_EQ(distinct.size(), 128u) << rw;
    EXPECT_EQ(*distinct.begin(), 64u << 10) << rw;
    EXPECT_EQ(*distinct.rbegin(), (64u << 10) + (1u << 20) - 8192) << rw;
    if (std::string(rw) == "read") EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
    if (std::string(rw) == "randread") EXPECT_FALSE(std::is_sorted(offsets.begin(), offsets.end()));
  }
}

TEST(FioRunner, TimeBasedRunsForItsRuntimeThenStops) {
  const RunOutcome o = run_ok("[t]\ndirect=1\nioengine=libaio\nbs=4k\nsize=256k\nrw=randread\niodepth=4\n"
                              "runtime=600ms\ntime_based\n");
  const JobStats& s = o.result.stats[0];
  EXPECT_GE(s.total_run_time_ms, 600u);
  EXPECT_LT(s.total_run_time_ms, 3000u) << "it stops";
  EXPECT_GT(rd(o).total_ios, 64u) << "wrapped around its 64 blocks";
  EXPECT_GE(rd(o).bw_kib.samples(), 1u) << "interval samples taken";
}

TEST(FioRunner, RuntimeCutsASizeBasedJobShort) {
  const RunOutcome o = run_ok("[t]\ndirect=1\nioengine=libaio\nbs=4k\nsize=1g\nrw=read\niodepth=4\n"
                              "runtime=200ms\n");
  EXPECT_LT(rd(o).io_bytes, 1ull << 30) << "(a ramdisk moving 1 GiB in 200 ms is not expected)";
  EXPECT_LT(o.result.stats[0].total_run_time_ms, 3000u);
}

TEST(FioRunner, SyncEnginesRunOneAtATimeWithoutSlat) {
  const RunOutcome o = run_ok("[s]\ndirect=1\nioengine=psync\nbs=4k\nsize=512k\nrw=write\niodepth=32\n");
  const JobStats& s = o.result.stats[0];
  EXPECT_EQ(wr(o).total_ios, 128u);
  EXPECT_EQ(wr(o).slat_ns.samples(), 0u) << "fio records no slat for synchronous engines";
  EXPECT_EQ(s.depth_map[0], 128u) << "depth 1 throughout";
}

TEST(FioRunner, AsyncEnginesKeepIodepthInFlight) {
  const RunOutcome o = run_ok("[a]\ndirect=1\nioengine=libaio\nbs=4k\nsize=4m\nrw=read\niodepth=32\n");
  const JobStats& s = o.result.stats[0];
  EXPECT_EQ(rd(o).slat_ns.samples(), 1024u);
  uint64_t deep = 0;
  for (size_t b = 4; b < kDepthBuckets; b++) deep += s.depth_map[b];
  EXPECT_GT(deep, 0u) << "some I/Os were submitted with 16 or more in flight";
  EXPECT_EQ(s.dir[0].clat_hist.total(), 1024u);
}

TEST(FioRunner, JsonReportParsesAndCarriesFiosFields) {
  const RunOutcome o = run_ok("[reader]\ndirect=1\nioengine=libaio\nbs=4k\nsize=2m\nrw=read\niodepth=16\n");
  const nlohmann::json j = nlohmann::json::parse(format_json(o.result));
  ASSERT_EQ(j["jobs"].size(), 1u);
  const auto& r = j["jobs"][0]["read"];
  EXPECT_EQ(j["jobs"][0]["jobname"], "reader");
  EXPECT_EQ(r["total_ios"], 512);
  EXPECT_EQ(r["io_bytes"], 2 << 20);
  EXPECT_GT(r["iops"].get<double>(), 0.0);
  EXPECT_GT(r["bw"].get<uint64_t>(), 0u);
  EXPECT_GT(r["clat_ns"]["percentile"]["50.000000"].get<uint64_t>(), 0u);
  EXPECT_GE(r["clat_ns"]["percentile"]["99.000000"].get<uint64_t>(),
            r["clat_ns"]["percentile"]["50.000000"].get<uint64_t>());
  EXPECT_EQ(r["slat_ns"]["N"], 512);
  EXPECT_EQ(j["jobs"][0]["error"], 0);
}

TEST(FioRunner, TextReportHasFiosLines) {
  const RunOutcome o = run_ok("[reader]\ndirect=1\nioengine=libaio\nbs=4k\nsize=1m\nrw=read\niodepth=4\n");
  const std::string text = format_text(o.result);
  EXPECT_NE(text.find("reader: (groupid=0, jobs=1): err= 0: pid="), std::string::npos) << text;
  EXPECT_NE(text.find("  read: IOPS="), std::string::npos) << text;
  EXPECT_NE(text.find("clat percentiles"), std::string::npos) << text;
  EXPECT_NE(text.find("Run status group 0 (all jobs):"), std::string::npos) << text;
}

TEST(FioRunner, StatusLineWhenAsked) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  RunConfig cfg;
  cfg.progress.out = f;
  cfg.progress.interval_ms = 50;
  run_ok("[p]\ndirect=1\nioengine=libaio\nbs=4k\nsize=256k\nrw=randread\niodepth=2\nruntime=300ms\ntime_based\n",
         cfg);
  std::rewind(f);
  std::string got(4096, '\0');
  got.resize(std::fread(got.data(), 1, got.size(), f));
  std::fclose(f);
  EXPECT_NE(got.find("\rJobs: 1 (f=1)"), std::string::npos) << got;
}

TEST(FioRunner, RefusedJobsNameTheFileAndLine) {
  EXPECT_NE(run_error("[b]\nsize=1m\nrw=read\n").find("test.fio:1: job 'b': direct=0"), std::string::npos);
  EXPECT_NE(run_error("[b]\ndirect=1\nsize=1m\ntime_based\n").find("time_based needs a runtime"), std::string::npos);
  RunConfig lbs4k;
  lbs4k.device = "ram3,size=8m,lbs=4096";
  EXPECT_NE(run_error("[b]\ndirect=1\nsize=1m\nbs=512\n", lbs4k).find("bs=512 is not a multiple"),
            std::string::npos);
  EXPECT_NE(run_error("[b]\ndirect=1\nsize=1m\noffset=2k\n", lbs4k).find("offset=2048 is not a multiple"),
            std::string::npos);
  RunConfig small;
  small.device = "ram1,size=1m";
  EXPECT_NE(run_error("[b]\ndirect=1\nsize=2m\n", small).find("past the end of ram1"), std::string::npos);
  RunConfig bad;
  bad.device = "floppy0";
  EXPECT_NE(run_error("[b]\ndirect=1\nsize=1m\n", bad).find("no such device"), std::string::npos);
  bad.device = "ram0,colour=blue";
  EXPECT_NE(run_error("[b]\ndirect=1\nsize=1m\n", bad).find("unknown option 'colour'"), std::string::npos);
}

// ---- on a machine and ramdisk of the test's own ------------------------------------

class FioOnRamdisk : public testing::BlockTest {
 protected:
  void SetUp() override {
    boot(testing::small_config(PinDesign::folio_pincount));
    ramdisk_config cfg;
    cfg.size_bytes = 4 << 20;
    rd_ = ram("ram0", cfg);
    file_ = blkdev_dio_file(rd_);
  }
  void TearDown() override {
    EXPECT_EQ(m().vmstat().read(NR_FOLL_PIN_ACQUIRED), m().vmstat().read(NR_FOLL_PIN_RELEASED));
    BlockTest::TearDown();
  }
  JobSpec job(const std::string& text) {
    auto jobs = resolve_jobs(parse(text));
    EXPECT_TRUE(jobs.ok());
    return jobs.ok() ? jobs.value()[0] : JobSpec{};
  }
  std::vector<JobStats> run(const JobSpec& j, const IoHook& hook) {
    const JobTarget t{{JobFileTarget{&file_, j.size, "ram0"}}};
    return run_jobs(std::span<const JobSpec>(&j, 1), std::span<const JobTarget>(&t, 1), hook);
  }
  std::vector<char> disk(uint64_t pos, size_t len) {
    std::vector<char> v(len);
    EXPECT_EQ(rd_->read_sectors(pos / SECTOR_SIZE, static_cast<unsigned>(len / SECTOR_SIZE), v.data()), 0);
    return v;
  }

  ramdisk* rd_ = nullptr;
  dio_file file_;
};

TEST_F(FioOnRamdisk, WrittenDataReadsBackThroughTheDevice) {
  constexpr size_t kBs = 16384;
  // What each write carried, from the job's own buffer when it completed.
  std::map<uint64_t, std::vector<char>> written;
  const JobSpec w = job("[w]\ndirect=1\nioengine=libaio\nbs=16k\nsize=2m\noffset=1m\nrw=randwrite\niodepth=8\n");
  auto ws = run(w, [&](const IoEvent& ev) {
    ASSERT_EQ(ev.result, static_cast<long>(kBs));
    std::vector<char> buf(kBs);
    ASSERT_EQ(uaccess_read(ev.mm, ev.ubuf, buf.data(), kBs), 0);
    written[ev.offset] = std::move(buf);
  });
  EXPECT_EQ(ws[0].at(Ddir::write).total_ios, 128u);
  ASSERT_EQ(written.size(), 128u);
  std::set<std::vector<char>> contents;
  for (const auto& [off, data] : written) {
    EXPECT_EQ(disk(off, kBs), data) << "the device holds what the job wrote at " << off;
    contents.insert(data);
  }
  EXPECT_EQ(contents.size(), 8u) << "one buffer per slot, each with its own random contents";
  EXPECT_EQ(disk(0, 1 << 20), std::vector<char>(1 << 20, 0)) << "nothing before the offset";

  // Read it back in another order, into other buffers: each read sees the device's data.
  size_t checked = 0;
  const JobSpec r = job("[r]\ndirect=1\nioengine=io_uring\nbs=16k\nsize=2m\noffset=1m\nrw=randread\niodepth=4\n");
  auto rs = run(r, [&](const IoEvent& ev) {
    ASSERT_EQ(ev.result, static_cast<long>(kBs));
    std::vector<char> buf(kBs);
    ASSERT_EQ(uaccess_read(ev.mm, ev.ubuf, buf.data(), kBs), 0);
    EXPECT_EQ(buf, written[ev.offset]) << "read back at " << ev.offset;
    checked++;
  });
  EXPECT_EQ(checked, 128u);
  EXPECT_EQ(rs[0].at(Ddir::read).io_bytes, 2u << 20);
}

TEST_F(FioOnRamdisk, ADeviceErrorStopsTheJobWithItsErrnoAndReleasesEveryPin) {
  blk_fault_inject fi;
  fi.fail_nth = 40;
  rd_->set_fault_inject(fi);
  const JobSpec r = job("[r]\ndirect=1\nioengine=libaio\nbs=4k\nsize=1m\nrw=read\niodepth=8\n");
  long failures = 0;
  auto rs = run(r, [&](const IoEvent& ev) { failures += ev.result < 0; });
  EXPECT_EQ(rs[0].error, EIO);
  EXPECT_EQ(failures, 1);
  EXPECT_LT(rs[0].at(Ddir::read).total_ios, 256u) << "the job stopped issuing";
  EXPECT_GE(rs[0].at(Ddir::read).total_ios, 39u - 8u);
}

// ---- a real file through io_uring ----------------------------------------------------

/** A directory on a real filesystem (tmpfs has no O_DIRECT): the test binary's own. */
std::filesystem::path scratch_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : exe.parent_path();
}

std::string skip_reason(const std::string& err) {
  for (const char* why : {"O_DIRECT", "io_uring", "EPERM", "ENOSYS"})
    if (err.find(why) != std::string::npos) return err;
  return {};
}

TEST(FioUring, ARealFileIsCreatedLaidOutAndRead) {
  const auto path = scratch_dir() / fmt::format("guplab-fio-test-{}.dat", getpid());
  std::filesystem::remove(path);
  RunConfig cfg;
  cfg.device = "uring:" + path.string();
  cfg.design = PinDesign::bias;
  auto r = run_fio(parse("[reader]\ndirect=1\nioengine=io_uring\nbs=4k\nsize=2m\nrw=randread\niodepth=16\n"), cfg);
  if (!r.ok()) {
    std::filesystem::remove(path);
    if (std::string why = skip_reason(r.error()); !why.empty()) GTEST_SKIP() << "no O_DIRECT io_uring here: " << why;
    FAIL() << r.error();
  }
  EXPECT_TRUE(r->ok()) << (r->problems.empty() ? "job error" : r->problems[0]);
  EXPECT_EQ(rd(*r).total_ios, 512u);
  EXPECT_EQ(r->pins_acquired, r->pins_released);
  ASSERT_EQ(r->devices.size(), 1u);
  EXPECT_NE(r->devices[0].find("uring O_DIRECT"), std::string::npos) << r->devices[0];
  EXPECT_EQ(std::filesystem::file_size(path), 2u << 20) << "created at the job's size";

  // Write, then read back what was written, through the same file.
  std::map<uint64_t, std::vector<char>> written;
  RunConfig wcfg = cfg;
  wcfg.on_io = [&](const IoEvent& ev) {
    std::vector<char> buf(ev.bytes);
    ASSERT_EQ(uaccess_read(ev.mm, ev.ubuf, buf.data(), buf.size()), 0);
    written[ev.offset] = std::move(buf);
  };
  auto w = run_fio(parse("[w]\ndirect=1\nioengine=io_uring\nbs=8k\nsize=1m\nrw=write\niodepth=4\n"), wcfg);
  ASSERT_TRUE(w.ok()) << w.error();
  EXPECT_TRUE(w->ok());
  EXPECT_EQ(written.size(), 128u);
  size_t same = 0;
  RunConfig rcfg = cfg;
  rcfg.on_io = [&](const IoEvent& ev) {
    std::vector<char> buf(ev.bytes);
    ASSERT_EQ(uaccess_read(ev.mm, ev.ubuf, buf.data(), buf.size()), 0);
    same += buf == written[ev.offset];
  };
  auto rb = run_fio(parse("[r]\ndirect=1\nioengine=io_uring\nbs=8k\nsize=1m\nrw=randread\niodepth=4\n"), rcfg);
  ASSERT_TRUE(rb.ok()) << rb.error();
  EXPECT_EQ(same, 128u) << "the host file holds what the model's pages carried";
  std::filesystem::remove(path);
}

TEST(FioUring, AFailedStartLeavesNoFileBehind) {
  const auto path = scratch_dir() / fmt::format("guplab-fio-test-nf-{}.dat", getpid());
  std::filesystem::remove(path);
  RunConfig cfg;
  cfg.device = "uring:" + path.string();
  const std::string err = run_error("[r]\ndirect=1\nbs=4k\nsize=1m\noffset=100\nrw=read\n", cfg);
  if (!skip_reason(err).empty()) GTEST_SKIP() << "no O_DIRECT io_uring here: " << err;
  EXPECT_NE(err.find("offset=100 is not a multiple"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(path)) << "the file this run created is gone again";
  cfg.device = "uring:/nonexistent-dir/x.dat";
  EXPECT_NE(run_error("[r]\ndirect=1\nbs=4k\nsize=1m\n", cfg).find("/nonexistent-dir/x.dat"), std::string::npos);
}

}  // namespace
}  // namespace guplab::fio
