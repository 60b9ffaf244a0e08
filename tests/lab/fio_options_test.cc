// fio_options_test.cc - the fio options people write that guplab runs: verify catching a
// block a device corrupted (EILSEQ, fio's message, a nonzero outcome), bssplit sizes,
// several files per job in round robin, filesize/nrfiles/directory, fsync's sync
// statistics, percentile_list, stonewall groups, iodepth_batch, rate_iops, ramp_time,
// and the errors for what guplab still lacks.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "block/ramdisk.h"
#include "lab/fio/json_report.h"
#include "lab/fio/runner.h"

namespace guplab::fio {
namespace {

JobFile parse(const std::string& text) {
  auto f = parse_job_text(text, "t.fio");
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error());
  return f.ok() ? f.value() : JobFile{};
}

RunOutcome run(const std::string& text, const RunConfig& cfg = {}) {
  auto r = run_fio(parse(text), cfg);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  return r.ok() ? std::move(r.value()) : RunOutcome{};
}

std::string parse_error(const std::string& text) {
  auto f = parse_job_text(text, "t.fio");
  if (!f.ok()) return f.error();
  auto j = resolve_jobs(f.value());
  return j.ok() ? std::string() : j.error();
}

const DirStats& rd(const RunOutcome& o, size_t j = 0) { return o.result.stats[j].at(Ddir::read); }
const DirStats& wr(const RunOutcome& o, size_t j = 0) { return o.result.stats[j].at(Ddir::write); }

constexpr const char* kVerifyJob = "[v]\ndirect=1\nioengine={}\niodepth=8\nsize=256k\nbs=4k\nrw={}\nverify={}\n";

std::string job(const char* engine, const char* rw, const char* verify, const std::string& more = "") {
  std::string s = kVerifyJob;
  for (const char* v : {engine, rw, verify}) s.replace(s.find("{}"), 2, v);
  return s + more;
}

TEST(FioVerifyRun, AWriteVerifyJobReadsEveryBlockBackAndPasses) {
  for (const char* engine : {"psync", "libaio"})
    for (const char* v : {"crc32c", "md5", "meta"}) {
      const RunOutcome o = run(job(engine, "randwrite", v));
      EXPECT_TRUE(o.ok()) << engine << " " << v;
      EXPECT_EQ(wr(o).total_ios, 64u);
      EXPECT_EQ(rd(o).total_ios, 64u) << "the verify phase reads every write back";
      EXPECT_EQ(rd(o).io_bytes, 256u << 10);
      EXPECT_EQ(o.pins_acquired, o.pins_released);
    }
  const RunOutcome off = run(job("psync", "write", "crc32c", "do_verify=0\n"));
  EXPECT_EQ(rd(off).total_ios, 0u) << "do_verify=0 writes headers, reads nothing back";
}

/** A device that corrupts one block: the write at @offset lands, then a byte of it changes. */
RunConfig corrupting(uint64_t offset, std::set<uint64_t>* seen) {
  RunConfig cfg;
  cfg.on_io = [offset, seen](const IoEvent& ev) {
    if (ev.ddir != Ddir::write || ev.offset != offset || ev.result <= 0) return;
    auto* rd = dynamic_cast<ramdisk*>(ev.bdev);
    ASSERT_NE(rd, nullptr);
    std::vector<uint8_t> sector(512);
    ASSERT_EQ(rd->read_sectors((offset + 1024) >> 9, 1, sector.data()), 0);
    sector[100] ^= 0x5a;  // a data byte, past the header
    ASSERT_EQ(rd->write_sectors((offset + 1024) >> 9, 1, sector.data()), 0);
    seen->insert(offset);
  };
  return cfg;
}

TEST(FioVerifyRun, ABlockTheDeviceCorruptedIsCaughtAsFioReportsIt) {
  for (const char* engine : {"psync", "libaio"})
    for (const char* v : {"crc32c", "md5"}) {
      std::set<uint64_t> seen;
      const RunOutcome o = run(job(engine, "write", v, "verify_fatal=1\n"), corrupting(8192, &seen));
      ASSERT_EQ(seen.size(), 1u);
      const JobStats& st = o.result.stats[0];
      EXPECT_FALSE(o.ok()) << "the outcome fails, so guplab fio exits nonzero";
      EXPECT_EQ(st.error, EILSEQ) << "fio's err=84";
      EXPECT_NE(st.verify_error.find(std::string(v) + ": verify failed at file v.0.0 offset 8192, length 4096"),
                std::string::npos)
          << st.verify_error;
      EXPECT_EQ(o.pins_acquired, o.pins_released);
      const auto j = to_json(o.result);
      EXPECT_EQ(j["jobs"][0]["error"], EILSEQ);
    }
  std::set<uint64_t> seen;
  const RunOutcome meta = run(job("psync", "write", "meta"), corrupting(8192, &seen));
  EXPECT_TRUE(meta.ok()) << "meta checks headers only, as fio's does";
}

TEST(FioOptionsRun, BssplitDrawsItsSizesAndMovesExactlyTheSize) {
  std::map<uint64_t, unsigned> sizes;
  RunConfig cfg;
  cfg.on_io = [&](const IoEvent& ev) { sizes[ev.bytes]++; };
  const RunOutcome o = run("[b]\ndirect=1\nsize=4m\nrw=write\nbssplit=4k/50:16k/50\n", cfg);
  EXPECT_EQ(wr(o).io_bytes, 4u << 20);
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_GT(sizes[4096], 100u);
  EXPECT_GT(sizes[16384], 100u);
  EXPECT_NE(format_job_header(o.result.jobs[0]).find("bs=(R) 4096B-16.0KiB"), std::string::npos)
      << format_job_header(o.result.jobs[0]);
}

TEST(FioOptionsRun, SeveralFilesTakeTurnsAndShareTheSize) {
  std::vector<unsigned> files;
  RunConfig cfg;
  cfg.on_io = [&](const IoEvent& ev) { files.push_back(ev.file); };
  const RunOutcome o = run("[m]\ndirect=1\nsize=64k\nbs=4k\nrw=write\ndirectory=/d\nfilename=a:b\n", cfg);
  EXPECT_EQ(wr(o).io_bytes, 64u << 10);
  ASSERT_EQ(files.size(), 16u);
  for (size_t i = 0; i < files.size(); i++) EXPECT_EQ(files[i], i % 2) << "round robin, one I/O each";
  EXPECT_EQ(o.devices.size(), 2u);
  EXPECT_EQ(o.result.jobs[0].files(), (std::vector<std::string>{"/d/a", "/d/b"}));

  const RunOutcome n = run("[n]\ndirect=1\nfilesize=32k\nnrfiles=3\nbs=4k\nrw=read\n");
  EXPECT_EQ(n.devices.size(), 3u);
  EXPECT_EQ(rd(n).io_bytes, 96u << 10) << "filesize per file, size = filesize x nrfiles";
}

TEST(FioOptionsRun, FsyncCountsSyncsAndPercentileListChoosesTheKeys) {
  const RunOutcome o = run("[f]\ndirect=1\nsize=64k\nbs=4k\nrw=write\nfsync=4\npercentile_list=50:99.5\n");
  EXPECT_EQ(o.result.stats[0].sync_ios, 3u) << "16 writes, a sync after every 4 but the last (as fio)";
  const auto j = to_json(o.result);
  EXPECT_EQ(j["jobs"][0]["sync"]["total_ios"], 3);
  const auto& pct = j["jobs"][0]["write"]["clat_ns"]["percentile"];
  EXPECT_EQ(pct.size(), 2u);
  EXPECT_TRUE(pct.contains("50.000000") && pct.contains("99.500000")) << pct.dump();
}

TEST(FioOptionsRun, StonewallRunsGroupsInTurn) {
  std::vector<size_t> order;
  RunConfig cfg;
  cfg.on_io = [&](const IoEvent& ev) { order.push_back(ev.job); };
  const RunOutcome o = run(
      "[global]\ndirect=1\nsize=64k\nbs=4k\nfilename=x\nverify=crc32c\n[w]\nrw=write\ndo_verify=0\n"
      "[r]\nstonewall\nrw=read\n",
      cfg);
  ASSERT_EQ(order.size(), 32u);
  for (size_t i = 0; i < 32; i++) EXPECT_EQ(order[i], i < 16 ? 0u : 1u);
  EXPECT_EQ(o.result.stats[0].groupid, 0u);
  EXPECT_EQ(o.result.stats[1].groupid, 1u);
  EXPECT_TRUE(o.ok()) << "the reader checks every block the writer left";
  const RunOutcome bad = run("[r]\ndirect=1\nsize=64k\nbs=4k\nrw=read\nverify=crc32c\n");
  EXPECT_EQ(bad.result.stats[0].error, EILSEQ) << "blocks never written with headers fail (a zeroed disk)";
  EXPECT_NE(bad.result.stats[0].verify_error.find("verify: bad magic header 0, wanted acca"), std::string::npos)
      << bad.result.stats[0].verify_error;
}

TEST(FioOptionsRun, BatchesRatesAndRampRun) {
  const RunOutcome b = run(
      "[b]\ndirect=1\nioengine=libaio\niodepth=16\nsize=1m\nbs=4k\nrw=randread\niodepth_batch_submit=8\n"
      "iodepth_batch_complete_min=4\niodepth_batch_complete_max=8\n");
  EXPECT_EQ(rd(b).total_ios, 256u);
  const auto& sm = b.result.stats[0].submit_map;
  EXPECT_GE(sm[2], 2u) << "the first 16 go out in two commits of 8";
  for (size_t i = 3; i < sm.size(); i++) EXPECT_EQ(sm[i], 0u) << "no commit of more than 8";
  const RunOutcome r = run("[r]\ndirect=1\nsize=64k\nbs=4k\nrw=read\nrate_iops=1000\nstartdelay=10ms\n");
  EXPECT_EQ(rd(r).total_ios, 16u);
  EXPECT_GE(r.result.stats[0].total_run_time_ms, 14u) << "16 I/Os at 1000/s take 15 ms";
  const RunOutcome ramp = run("[r]\ndirect=1\nsize=64k\nbs=4k\nrw=read\nramp_time=1h\n");
  EXPECT_EQ(rd(ramp).total_ios, 16u) << "a job that ends inside its ramp keeps its stats, as fio's does";
}

// fio reaps at most iodepth_batch_complete_max, which unset (or below the min) is the
// min: by default one completion at a time, however many are done.
TEST(FioOptionsRun, ReapsOneAtATimeByDefaultAsFio) {
  const RunOutcome o = run("[d]\ndirect=1\nioengine=libaio\niodepth=16\nsize=1m\nbs=4k\nrw=randread\n");
  EXPECT_EQ(rd(o).total_ios, 256u);
  const auto& c = o.result.stats[0].complete_map;
  EXPECT_EQ(c[1], 256u) << "256 reaps of one each (the 1..4 bucket)";
  for (size_t i = 2; i < c.size(); i++) EXPECT_EQ(c[i], 0u) << i;
  const RunOutcome low = run(
      "[d]\ndirect=1\nioengine=libaio\niodepth=16\nsize=1m\nbs=4k\nrw=randread\n"
      "iodepth_batch_complete_min=8\niodepth_batch_complete_max=2\n");
  const auto& l = low.result.stats[0].complete_map;
  EXPECT_EQ(l[1], 0u) << "a max below the min is the min: no reap of 1..4";
  EXPECT_EQ(l[2], 32u) << "32 reaps of 8";
}

TEST(FioOptionsParse, ValuesAndErrors) {
  EXPECT_NE(parse_error("[a]\nsize=1m\nbssplit=4k/60:8k/30\n").find("percentages add up to 90, not 100"),
            std::string::npos);
  auto f = resolve_jobs(parse("[a]\nsize=1m\nbssplit=4k/50:8k:16k\n"));
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f.value()[0].bssplit.size(), 3u);
  EXPECT_EQ(f.value()[0].bssplit[1].percent + f.value()[0].bssplit[2].percent, 50u);
  EXPECT_NE(parse_error("[a]\nsize=1m\nverify=sha256\n").find("fio has this checksum, but guplab runs only"),
            std::string::npos);
  EXPECT_NE(parse_error("[a]\nsize=1m\nverify_backlog=8\n")
                .find("unknown option 'verify_backlog': fio has this option, but guplab does not support it"),
            std::string::npos);
  EXPECT_NE(parse_error("[a]\nsize=1m\nfile_service_type=random\n").find("guplab runs only roundrobin"),
            std::string::npos);
  EXPECT_NE(parse_error("[a]\nsize=1m\npercentile_list=50:101\n").find("not a percentage"), std::string::npos);
  EXPECT_NE(parse_error("[a]\nsize=4k\nfilename=a:b\n").find("less than the largest block size"), std::string::npos);
}

TEST(FioOptionsRun, MemoryBudgetCoversFilesAndTheVerifyLog) {
  RunConfig cfg;
  cfg.mem_limit = 256ull << 20;
  auto files = run_fio(parse("[f]\ndirect=1\nfilesize=100m\nnrfiles=3\nrw=read\n"), cfg);
  ASSERT_FALSE(files.ok()) << "three ramdisks of 100 MiB";
  EXPECT_NE(files.error().find("more than the 256MiB of host memory"), std::string::npos) << files.error();
  RunConfig big;
  big.mem_limit = (1ull << 40) + (1ull << 30);  // the 1 TiB ramdisk fits, its 8 GiB verify log does not
  auto vlog = run_fio(parse("[v]\ndirect=1\nsize=1t\nbs=4k\nrw=write\nverify=crc32c\n"), big);
  ASSERT_FALSE(vlog.ok());
  EXPECT_NE(vlog.error().find("verify=crc32c keeps a log of the writes to read back"), std::string::npos)
      << vlog.error();
  auto timed = run_fio(parse("[t]\ndirect=1\nruntime=1\ntime_based\nrw=write\nverify=md5\n"), {});
  ASSERT_FALSE(timed.ok());
  EXPECT_NE(timed.error().find("verify with time_based is not supported"), std::string::npos) << timed.error();
}

TEST(FioOptionsRun, FilesOverAllJobsAreBoundedAndCountedWithoutBuildingTheirNames) {
  // nrfiles x numjobs: 64 x 4096 names (each a ramdisk) are refused at once; found by
  // the job-file fuzzer, whose plan of such a file took longer than its 30 s timeout
  // when each file's size made every name of its job again.
  auto many = run_fio(parse("[m]\ndirect=1\nsize=1g\nnumjobs=64\nnrfiles=4096\nrw=read\n"), {});
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().find("262144 files over all jobs (nrfiles times numjobs); guplab fio runs at most 65536"),
            std::string::npos)
      << many.error();
  JobSpec j;
  j.size = 12 << 20;
  j.nrfiles = 3;
  EXPECT_EQ(j.nr_files(), 3u);
  EXPECT_EQ(j.file_bytes(), 4u << 20);
  j.filename = "a:b:c:d";
  EXPECT_EQ(j.nr_files(), j.files().size());
  EXPECT_EQ(j.file_bytes(), 3u << 20);
}

}  // namespace
}  // namespace guplab::fio
