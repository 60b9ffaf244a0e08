// report_test.cc - fio's normal text output: golden runs of real fio 3.33 reproduced line for
// line, and the pieces (units, percentiles, grouping, summary shape) on their own.
#include "lab/fio/report.h"

#include <gtest/gtest.h>

#include <functional>
#include <regex>

#include "lab/fio/units.h"
#include "lab/fio_golden.h"

namespace guplab::fio {
namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

void expect_same_lines(const std::string& got, const std::string& want) {
  const auto g = lines(got), w = lines(want);
  for (size_t i = 0; i < std::max(g.size(), w.size()); i++)
    EXPECT_EQ(i < g.size() ? g[i] : "<missing>", i < w.size() ? w[i] : "<extra>") << "line " << i + 1;
}

TEST(FioReport, GoldenRandrwMatchesFio) {
  const auto g = golden::randrw();
  expect_same_lines(golden::without_dates(format_text(g.run)), golden::without_dates(g.fio_text));
}

TEST(FioReport, GoldenSeqwriteMatchesFio) {
  const auto g = golden::seqwrite();
  expect_same_lines(golden::without_dates(format_text(g.run)), golden::without_dates(g.fio_text));
}

TEST(FioReport, GoldenPreambleMatchesFioButForVersion) {
  const auto g = golden::randrw();
  std::string want = std::regex_replace(g.fio_preamble, std::regex("fio-3\\.33"), kVersionString);
  want = std::regex_replace(want, std::regex("filename=\\S+"), "");
  expect_same_lines(format_preamble(g.run.jobs), want);
}

TEST(FioReport, JobLineCarriesPidAndCtimeDate) {
  const auto g = golden::randrw();
  const std::string text = format_text(g.run);
  EXPECT_TRUE(std::regex_search(
      text, std::regex(R"(\nrandrw: \(groupid=0, jobs=1\): err= 0: pid=\d+: [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n)")))
      << text;
}

TEST(FioReport, SummaryLinesHaveFioShape) {
  const auto g = golden::randrw();
  const std::string text = format_text(g.run);
  const std::string num = R"([0-9.]+(Ki|Mi|Gi|Ti|k|M|G|T)?)";
  const std::regex read("\n   READ: bw=" + num + "B/s \\(" + num + "B/s\\), " + num + "B/s-" + num + "B/s \\(" + num +
                        "B/s-" + num + "B/s\\), io=" + num + "B \\(" + num + "B\\), run=\\d+-\\d+msec\n");
  const std::regex write("\n  WRITE: bw=" + num + "B/s \\(" + num + "B/s\\), .*, run=\\d+-\\d+msec\n");
  EXPECT_TRUE(std::regex_search(text, std::regex("\n\nRun status group 0 \\(all jobs\\):\n"))) << text;
  EXPECT_TRUE(std::regex_search(text, read)) << text;
  EXPECT_TRUE(std::regex_search(text, write)) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("\n  read: IOPS=" + num + ", BW=" + num + "B/s \\(" + num + "B/s\\)\\(" +
                                                 num + "B/\\d+msec\\)\n")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("\n  write: IOPS=.*; 0 zone resets\n"))) << text;
}

TEST(FioReport, Preamble) {
  auto f = parse_job_text("[a]\nsize=1m\nnumjobs=2\nioengine=libaio\niodepth=64\n[b]\nsize=1m\nbs=1m\nrw=randwrite\n"
                          "thread\n",
                          "x.fio");
  ASSERT_TRUE(f.ok());
  auto jobs = resolve_jobs(f.value());
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(format_preamble(jobs.value()),
            "a: (g=0): rw=read, bs=(R) 4096B-4096B, (W) 4096B-4096B, (T) 4096B-4096B, ioengine=libaio, iodepth=64\n"
            "...\n"
            "b: (g=0): rw=randwrite, bs=(R) 1024KiB-1024KiB, (W) 1024KiB-1024KiB, (T) 1024KiB-1024KiB, "
            "ioengine=psync, iodepth=1\n" +
                std::string(kVersionString) + "\nStarting 1 thread and 2 processes\n");
  EXPECT_EQ(lines(format_preamble(std::span(jobs.value()).first(1))).back(), "Starting 1 process");
  EXPECT_EQ(lines(format_preamble(std::span(jobs.value()).first(2))).back(), "Starting 2 processes");
  EXPECT_EQ(lines(format_preamble(std::span(jobs.value()).last(1))).back(), "Starting 1 thread");
  JobSpec j;
  j.name = "x";
  j.bs = 65536;
  j.rw = RwMode::rw;
  EXPECT_EQ(format_job_header(j),
            "x: (g=0): rw=rw, bs=(R) 64.0KiB-64.0KiB, (W) 64.0KiB-64.0KiB, (T) 64.0KiB-64.0KiB, ioengine=psync, "
            "iodepth=1\n");
}

RunningStat stat_of(std::initializer_list<uint64_t> vs) {
  RunningStat s;
  for (uint64_t v : vs) s.add(v);
  return s;
}

TEST(FioReport, LatencyLineUnits) {
  EXPECT_EQ(format_lat_line("clat", RunningStat{}), "");
  // min 270 ns keeps nsec even with a large max (fio: "clat (nsec): min=270, max=718274").
  EXPECT_EQ(format_lat_line("clat", stat_of({270, 718274})),
            "    clat (nsec): min=270, max=718274, avg=359272.00, stdev=507705.50\n");
  EXPECT_EQ(format_lat_line(" lat", stat_of({18000, 831000, 100000})),
            "     lat (usec): min=18, max=831, avg=316.33, stdev=447.60\n");
  EXPECT_EQ(format_lat_line("slat", stat_of({3000000, 200000000})),
            "    slat (msec): min=3, max=200, avg=101.50, stdev=139.30\n");
  // max >= 1000000 in the unit prints with num2str's 6 digits, e.g. "31251k".
  EXPECT_EQ(format_lat_line("clat", stat_of({451, 31251234})),
            "    clat (nsec): min=451, max=31251k, avg=15625842.50, stdev=22097640.58\n");
  // The stdev must pass the threshold too: a tight distribution stays in nsec.
  EXPECT_EQ(format_lat_line("clat", stat_of({200000, 200100})),
            "    clat (nsec): min=200000, max=200100, avg=200050.00, stdev=70.71\n");
}

TEST(FioReport, PercentilesBlock) {
  LatencyHistogram h;
  EXPECT_EQ(format_percentiles("clat", h), "");
  for (uint64_t v = 1; v <= 1000; v++) h.add(v * 10000);  // 10 us .. 10 ms
  // E.g. the 30th percentile is the 300th sample, 3 ms, in the bucket [2981888, 3014656) whose
  // midpoint 2998272 ns prints rounded up as 2999 us; five digits widen the column past 5.
  EXPECT_EQ(format_percentiles("clat", h),
            "    clat percentiles (usec):\n"
            "     |  1.00th=[  100],  5.00th=[  502], 10.00th=[ 1004], 20.00th=[ 2008],\n"
            "     | 30.00th=[ 2999], 40.00th=[ 4015], 50.00th=[ 5014], 60.00th=[ 5997],\n"
            "     | 70.00th=[ 6980], 80.00th=[ 8029], 90.00th=[ 8979], 95.00th=[ 9503],\n"
            "     | 99.00th=[ 9896], 99.50th=[ 9896], 99.90th=[10028], 99.95th=[10028],\n"
            "     | 99.99th=[10028]\n");
  LatencyHistogram ms;
  for (uint64_t v = 1; v <= 100; v++) ms.add(v * 3000000);  // 3 .. 300 ms
  EXPECT_EQ(lines(format_percentiles("clat", ms))[0], "    clat percentiles (msec):");
  EXPECT_EQ(lines(format_percentiles("clat", ms))[1],
            "     |  1.00th=[    3],  5.00th=[   16], 10.00th=[   31], 20.00th=[   61],");
}

/**
 * run_of() - a RunResult for the jobs of job file @text, job i having done 1,000 4 KiB
 * I/Os in the direction its rw= says (pid 100 + i), for @runtime_ms(i); @group(i) is its
 * stonewall group. Empty (with a test failure) if the text does not parse.
 */
RunResult run_of(const char* text, const std::function<uint64_t(size_t)>& runtime_ms,
                 const std::function<unsigned(size_t)>& group = [](size_t) { return 0u; }) {
  RunResult r;
  auto f = parse_job_text(text, "g.fio");
  EXPECT_TRUE(f.ok());
  if (!f.ok()) return r;
  auto jobs = resolve_jobs(f.value());
  EXPECT_TRUE(jobs.ok());
  if (!jobs.ok()) return r;
  r.jobs = jobs.value();
  for (size_t i = 0; i < r.jobs.size(); i++) {
    JobStats js;
    js.pid = 100 + static_cast<int>(i);
    js.groupid = group(i);
    const Ddir d = does_write(r.jobs[i].rw) ? Ddir::write : Ddir::read;
    for (int k = 0; k < 1000; k++) js.add_io(d, 4096, 50000, 60000, 10000);
    js.set_runtime_ms(runtime_ms(i));
    r.stats.push_back(js);
  }
  return r;
}

TEST(FioReport, GroupReportingMergesAndSums) {
  RunResult r = run_of("[global]\nsize=16m\ngroup_reporting\n[seqr]\nnumjobs=2\n[other]\nrw=write\n",
                       [](size_t i) { return 1000 + 100 * i; });
  ASSERT_EQ(r.jobs.size(), 3u);
  for (size_t i = 0; i < r.jobs.size(); i++)
    r.stats[i].add_bw_sample(does_write(r.jobs[i].rw) ? Ddir::write : Ddir::read, 4000);
  const Summary s = summarize(r);
  // group_reporting in [global]: every job joins the first block, as fio does.
  ASSERT_EQ(s.jobs.size(), 1u);
  EXPECT_EQ(s.jobs[0].members, 3u);
  EXPECT_EQ(s.jobs[0].first->name, "seqr");
  EXPECT_EQ(s.jobs[0].stats.pid, 100);
  EXPECT_EQ(s.jobs[0].stats.at(Ddir::read).io_bytes, 2u * 4096000);
  EXPECT_EQ(s.jobs[0].stats.at(Ddir::read).runtime_ms, 1100u);
  EXPECT_EQ(s.jobs[0].stats.at(Ddir::read).bw_kib.min(), 8000u);
  EXPECT_EQ(s.groups[0].max_run[0], 1100u);
  EXPECT_EQ(s.groups[0].agg_bw[0], 2ull * 4096000 * 1000 / 1100);
  const std::string text = format_text(r);
  EXPECT_NE(text.find("seqr: (groupid=0, jobs=3): err= 0: pid=100: "), std::string::npos) << text;
  EXPECT_NE(text.find("   bw (  KiB/s): min= 8000, max= 8000, per=100.00%, avg=8000.00, stdev= 0.00, samples=2\n"),
            std::string::npos)
      << text;

  // Without group_reporting every job is its own block; the group line spans them.
  for (JobSpec& j : r.jobs) j.group_reporting = false;
  const Summary s2 = summarize(r);
  ASSERT_EQ(s2.jobs.size(), 3u);
  EXPECT_EQ(s2.groups[0].min_run[0], 1000u);
  EXPECT_EQ(s2.groups[0].max_run[0], 1100u);
  EXPECT_EQ(s2.groups[0].min_bw[0], 4096000u * 1000 / 1100);
  EXPECT_EQ(s2.groups[0].max_bw[0], 4096000u);
  const std::string text2 = format_text(r);
  EXPECT_NE(text2.find("   READ: bw=7273KiB/s (7447kB/s), 3636KiB/s-4000KiB/s (3724kB/s-4096kB/s), io=8000KiB "
                       "(8192kB), run=1000-1100msec\n"),
            std::string::npos)
      << text2;
  // per= is the job's share of the group's bandwidth: 4000 KiB/s of 7272.7 KiB/s.
  EXPECT_NE(text2.find("per=55.00%"), std::string::npos) << text2;
}

// A stonewall starts a group of its own: group_reporting merges only within a group, and
// each group has its own "Run status" block and bandwidth shares, as fio prints them.
TEST(FioReport, StonewallGroupsReportApart) {
  const RunResult r = run_of("[global]\nsize=16m\ngroup_reporting\n[a]\nnumjobs=2\n[b]\nstonewall\nrw=write\n",
                             [](size_t) { return 1000u; }, [](size_t i) { return i < 2 ? 0u : 1u; });
  ASSERT_EQ(r.jobs.size(), 3u);
  const Summary s = summarize(r);
  ASSERT_EQ(s.jobs.size(), 2u) << "b does not join a's block";
  EXPECT_EQ(s.jobs[0].members, 2u);
  EXPECT_EQ(s.jobs[1].members, 1u);
  ASSERT_EQ(s.groups.size(), 2u);
  EXPECT_EQ(s.groups[0].io_bytes[0], 2u * 4096000);
  EXPECT_EQ(s.groups[0].io_bytes[1], 0u);
  EXPECT_EQ(s.groups[1].io_bytes[1], 4096000u);
  const std::string text = format_text(r);
  EXPECT_NE(text.find("b: (groupid=1, jobs=1): err= 0: pid=102: "), std::string::npos) << text;
  const size_t g0 = text.find("\nRun status group 0 (all jobs):\n   READ: bw=8000KiB/s");
  const size_t g1 = text.find("\nRun status group 1 (all jobs):\n  WRITE: bw=4000KiB/s");
  ASSERT_NE(g0, std::string::npos) << text;
  ASSERT_NE(g1, std::string::npos) << text;
  EXPECT_LT(g0, g1);
}

TEST(FioReport, ErrorAndIdleJobs) {
  RunResult r;
  JobSpec j;
  j.name = "bad";
  j.size = 4096;
  r.jobs = {j, j};
  JobStats js;
  js.error = 5;
  js.add_io(Ddir::read, 4096, 1000, 1000);
  js.set_runtime_ms(1);
  r.stats = {js, JobStats{}};  // the second did nothing: fio prints no block for it
  const std::string text = format_text(r);
  EXPECT_NE(text.find("bad: (groupid=0, jobs=1): err= 5 (Input/output error): pid=0: "), std::string::npos) << text;
  EXPECT_EQ(text.find("bad: (groupid=0, jobs=1): err= 0"), std::string::npos) << text;
}

}  // namespace
}  // namespace guplab::fio
