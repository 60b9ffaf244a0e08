// stats_test.cc - recording and merging fio job statistics.
#include "lab/fio/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace guplab::fio {
namespace {

TEST(FioRunningStat, MeanAndSampleStddev) {
  RunningStat s;
  EXPECT_EQ(s.samples(), 0u);
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.stddev(), 0.0);
  for (uint64_t v : {2, 4, 4, 4, 5, 5, 7, 9}) s.add(v);
  EXPECT_EQ(s.samples(), 8u);
  EXPECT_EQ(s.min(), 2u);
  EXPECT_EQ(s.max(), 9u);
  EXPECT_DOUBLE_EQ(s.mean(), 5.0);
  EXPECT_NEAR(s.stddev(), std::sqrt(32.0 / 7.0), 1e-12);
}

TEST(FioRunningStat, MergeEqualsOneSampleSet) {
  RunningStat a, b, all;
  for (uint64_t v = 1; v <= 100; v++) {
    (v % 3 ? a : b).add(v * v);
    all.add(v * v);
  }
  a.merge(b);
  EXPECT_EQ(a.samples(), all.samples());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_NEAR(a.mean(), all.mean(), 1e-9);
  EXPECT_NEAR(a.stddev(), all.stddev(), 1e-6);
  RunningStat empty;
  empty.merge(a);
  EXPECT_EQ(empty.samples(), a.samples());
  a.merge(RunningStat{});
  EXPECT_EQ(a.samples(), all.samples());
}

TEST(FioRunningStat, FromSummary) {
  RunningStat all;
  for (uint64_t v : {10, 20, 60}) all.add(v);
  const RunningStat s = RunningStat::from_summary(3, 10, 60, all.mean(), all.stddev());
  EXPECT_EQ(s.samples(), 3u);
  EXPECT_EQ(s.min(), 10u);
  EXPECT_EQ(s.max(), 60u);
  EXPECT_DOUBLE_EQ(s.mean(), all.mean());
  EXPECT_NEAR(s.stddev(), all.stddev(), 1e-9);
  EXPECT_EQ(RunningStat::from_summary(0, 0, 0, 0, 0).samples(), 0u);
}

TEST(FioRunningStat, SumAddsLikeGroupReporting) {
  // fio 3.33, numjobs=2 group_reporting, one bw sample each: min=max=sum, samples=2.
  RunningStat a, b;
  a.add(38000);
  b.add(38920);
  a.sum(b);
  EXPECT_EQ(a.min(), 76920u);
  EXPECT_EQ(a.max(), 76920u);
  EXPECT_EQ(a.samples(), 2u);
  EXPECT_DOUBLE_EQ(a.mean(), 76920.0);
  EXPECT_EQ(a.stddev(), 0.0);
}

TEST(FioJobStats, AddIoFillsEverything) {
  JobStats js;
  js.add_io(Ddir::read, 4096, 500, 700);                           // no slat (sync engine)
  js.add_io(Ddir::read, 4096, 1500, 3500, 2000);                   // 1.5 us clat, 2 us slat
  js.add_io(Ddir::write, 8192, 3'000'000, 3'001'000, 1000);        // 3 ms
  js.add_io(Ddir::write, 8192, 2'500'000'000, 2'500'001'000, 1000);  // 2.5 s
  const DirStats& r = js.at(Ddir::read);
  EXPECT_EQ(r.io_bytes, 8192u);
  EXPECT_EQ(r.total_ios, 2u);
  EXPECT_EQ(r.clat_ns.samples(), 2u);
  EXPECT_EQ(r.slat_ns.samples(), 1u);
  EXPECT_EQ(r.lat_ns.min(), 700u);
  EXPECT_EQ(r.lat_ns.max(), 3500u);
  EXPECT_EQ(r.clat_hist.total(), 2u);
  EXPECT_EQ(js.lat_ns_map[8], 1u);   // 500..749 ns -> "750="
  EXPECT_EQ(js.lat_us_map[0], 1u);   // 1 us -> "2="
  EXPECT_EQ(js.lat_ms_map[1], 1u);   // 3 ms -> "4="
  EXPECT_EQ(js.lat_ms_map[11], 1u);  // 2500 ms -> ">=2000="
  EXPECT_EQ(js.total_ios(), 4u);
  js.set_runtime_ms(1234);
  EXPECT_EQ(js.at(Ddir::read).runtime_ms, 1234u);
  EXPECT_EQ(js.at(Ddir::write).runtime_ms, 1234u);
  EXPECT_EQ(js.at(Ddir::trim).runtime_ms, 0u);  // did nothing: reports skip it
  EXPECT_EQ(js.total_run_time_ms, 1234u);
}

TEST(FioJobStats, LatencyBucketEdges) {
  JobStats js;
  for (uint64_t ns : {0ull, 1ull, 2ull, 999ull, 1000ull, 1999ull, 2000ull, 999999ull, 1000000ull,
                      1999999ull, 1999999999ull, 2000000000ull})
    js.add_io(Ddir::read, 512, ns, ns);
  EXPECT_EQ(js.lat_ns_map[0], 2u);   // 0, 1
  EXPECT_EQ(js.lat_ns_map[1], 1u);   // 2
  EXPECT_EQ(js.lat_ns_map[9], 1u);   // 999
  EXPECT_EQ(js.lat_us_map[0], 2u);   // 1 us, 1.999 us
  EXPECT_EQ(js.lat_us_map[1], 1u);   // 2 us
  EXPECT_EQ(js.lat_us_map[9], 1u);   // 999.999 us
  EXPECT_EQ(js.lat_ms_map[0], 2u);   // 1 ms, 1.999 ms
  EXPECT_EQ(js.lat_ms_map[10], 1u);  // 1999 ms
  EXPECT_EQ(js.lat_ms_map[11], 1u);  // 2000 ms
}

TEST(FioJobStats, DepthSubmitCompleteMaps) {
  JobStats js;
  js.add_submit(1, 1);
  js.add_submit(4, 8);
  js.add_submit(8, 64);
  js.add_submit(65, 100);
  js.add_complete(0);
  js.add_complete(3);
  EXPECT_EQ(js.depth_map[0], 1u);
  EXPECT_EQ(js.depth_map[3], 4u);   // depth 8 -> "8="
  EXPECT_EQ(js.depth_map[6], 73u);  // >=64
  EXPECT_EQ(js.submit_map[1], 2u);  // batches of 1..4 -> "4="
  EXPECT_EQ(js.submit_map[2], 1u);  // 5..8
  EXPECT_EQ(js.submit_map[6], 1u);  // >64
  EXPECT_EQ(js.total_submit, 4u);
  EXPECT_EQ(js.complete_map[0], 1u);
  EXPECT_EQ(js.complete_map[1], 1u);
  EXPECT_EQ(js.total_complete, 2u);
}

TEST(FioJobStats, MergeLikeGroupReporting) {
  JobStats a, b;
  a.add_io(Ddir::read, 4096, 1000, 1000);
  a.set_runtime_ms(1000);
  a.add_bw_sample(Ddir::read, 100);
  a.add_cpu({10, 20, 3, 0, 5});
  b.add_io(Ddir::read, 4096, 3000, 3000);
  b.add_io(Ddir::read, 4096, 5000, 5000);
  b.set_runtime_ms(1500);
  b.add_bw_sample(Ddir::read, 50);
  b.add_cpu({1, 2, 3, 4, 5});
  b.error = 5;
  a.merge(b);
  const DirStats& r = a.at(Ddir::read);
  EXPECT_EQ(r.io_bytes, 12288u);
  EXPECT_EQ(r.total_ios, 3u);
  EXPECT_EQ(r.runtime_ms, 1500u);
  EXPECT_DOUBLE_EQ(r.clat_ns.mean(), 3000.0);
  EXPECT_EQ(r.clat_hist.total(), 3u);
  EXPECT_EQ(r.bw_kib.min(), 150u);  // summed, not averaged
  EXPECT_EQ(a.total_run_time_ms, 2500u);
  EXPECT_EQ(a.cpu.usr_ms, 11u);
  EXPECT_EQ(a.cpu.ctx, 6u);
  EXPECT_EQ(a.error, 5);
}

TEST(FioJobStats, RusageDelta) {
  struct rusage s = {}, e = {};
  s.ru_utime = {1, 500000};
  e.ru_utime = {3, 250000};
  s.ru_stime = {0, 0};
  e.ru_stime = {0, 999};
  s.ru_nvcsw = 10;
  e.ru_nvcsw = 15;
  e.ru_nivcsw = 2;
  e.ru_minflt = 7;
  const CpuUsage u = rusage_delta(s, e);
  EXPECT_EQ(u.usr_ms, 1750u);
  EXPECT_EQ(u.sys_ms, 0u);
  EXPECT_EQ(u.ctx, 7u);
  EXPECT_EQ(u.minf, 7u);
  EXPECT_EQ(u.majf, 0u);
}

TEST(FioIntervalSampler, OneSamplePerFullInterval) {
  JobStats js;
  IntervalSampler smp(500);
  smp.start(1000, js);
  for (int i = 0; i < 1024; i++) js.add_io(Ddir::read, 1024, 100, 100);  // 1 MiB
  smp.tick(1200, js);  // too early
  EXPECT_EQ(js.at(Ddir::read).bw_kib.samples(), 0u);
  smp.tick(1499, js);  // within fio's 1 ms slack
  EXPECT_EQ(js.at(Ddir::read).bw_kib.samples(), 1u);
  EXPECT_EQ(js.at(Ddir::read).bw_kib.max(), 1024u * 1000 / 499);  // KiB/s
  EXPECT_EQ(js.at(Ddir::read).iops.max(), 1024u * 1000 / 499);
  EXPECT_EQ(js.at(Ddir::write).bw_kib.samples(), 0u);  // nothing moved that way
  smp.tick(2000, js);  // an interval without I/O adds nothing
  EXPECT_EQ(js.at(Ddir::read).bw_kib.samples(), 1u);
}

}  // namespace
}  // namespace guplab::fio
