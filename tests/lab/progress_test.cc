// progress_test.cc - fio's "Jobs:" status line.
#include "lab/fio/progress.h"

#include <gtest/gtest.h>

namespace guplab::fio {
namespace {

JobSpec job(RwMode rw, uint64_t size, uint64_t runtime_s, bool time_based, unsigned rwmixread = 50) {
  JobSpec j;
  j.name = "x";
  j.rw = rw;
  j.size = size;
  j.runtime = std::chrono::seconds(runtime_s);
  j.time_based = time_based;
  j.rwmixread = rwmixread;
  return j;
}

TEST(FioProgress, Pieces) {
  EXPECT_EQ(condense_run_str(""), "");
  EXPECT_EQ(condense_run_str("R"), "R(1)");
  EXPECT_EQ(condense_run_str("RRw_R"), "R(2),w(1),_(1),R(1)");
  EXPECT_EQ(eta_to_str(2), "00m:02s");
  EXPECT_EQ(eta_to_str(125), "02m:05s");
  EXPECT_EQ(eta_to_str(3600), "01h:00m:00s");
  EXPECT_EQ(eta_to_str(2 * 86400 + 61), "02d:00h:01m:01s");
  EXPECT_EQ(state_char(job(RwMode::read, 1, 0, false), JobState::running), 'R');
  EXPECT_EQ(state_char(job(RwMode::randread, 1, 0, false), JobState::running), 'r');
  EXPECT_EQ(state_char(job(RwMode::write, 1, 0, false), JobState::running), 'W');
  EXPECT_EQ(state_char(job(RwMode::randwrite, 1, 0, false), JobState::running), 'w');
  EXPECT_EQ(state_char(job(RwMode::rw, 1, 0, false), JobState::running), 'M');
  EXPECT_EQ(state_char(job(RwMode::randrw, 1, 0, false), JobState::running), 'm');
  EXPECT_EQ(state_char(job(RwMode::randrw, 1, 0, false, 100), JobState::running), 'r');
  EXPECT_EQ(state_char(job(RwMode::rw, 1, 0, false, 0), JobState::running), 'W');
  EXPECT_EQ(state_char(job(RwMode::read, 1, 0, false), JobState::pending), 'P');
  EXPECT_EQ(state_char(job(RwMode::read, 1, 0, false), JobState::done), '_');
  EXPECT_EQ(state_char(job(RwMode::read, 1, 0, false), JobState::failed), 'X');
}

TEST(FioProgress, EtaByBytesOrTime) {
  JobProgress p;
  p.state = JobState::running;
  p.elapsed_ms = 4000;
  p.io_bytes[0] = 1 << 20;  // a quarter of 4 MiB in 4 s: 12 s to go
  EXPECT_EQ(job_eta_sec(job(RwMode::read, 4 << 20, 0, false), p), 12u);
  EXPECT_EQ(job_eta_sec(job(RwMode::read, 4 << 20, 10, false), p), 6u);  // capped by runtime
  EXPECT_EQ(job_eta_sec(job(RwMode::read, 4 << 20, 10, true), p), 6u);   // time_based: by time
  p.elapsed_ms = 2500;                                                    // rounds up to 3 s
  EXPECT_EQ(job_eta_sec(job(RwMode::read, 0, 4, true), p), 1u);
  p.state = JobState::pending;
  EXPECT_EQ(job_eta_sec(job(RwMode::read, 0, 4, true), p), 4u);
  p.state = JobState::done;
  EXPECT_EQ(job_eta_sec(job(RwMode::read, 0, 4, true), p), 0u);
}

TEST(FioProgress, LineLikeFio) {
  const std::vector<JobSpec> jobs = {job(RwMode::read, 64 << 20, 4, true)};
  ProgressLine line(jobs);
  std::vector<JobProgress> p(1);
  p[0].state = JobState::running;
  p[0].elapsed_ms = 1000;
  EXPECT_EQ(line.update(1000, p), "Jobs: 1 (f=1)");  // no estimate before 3 s
  // 1400 MiB and 358400 I/Os in the next 2 s: 700 MiB/s, 179.2k IOPS; 3 of 4 s done.
  p[0].elapsed_ms = 3000;
  p[0].io_bytes[0] = 1400ull << 20;
  p[0].ios[0] = 358400;
  EXPECT_EQ(line.update(3000, p), "Jobs: 1 (f=1): [R(1)][75.0%][r=700MiB/s][r=179k IOPS][eta 00m:01s]");
  p[0].elapsed_ms = 4000;
  EXPECT_EQ(line.update(4000, p), "Jobs: 1 (f=1): [R(1)][100.0%][eta 00m:00s]" + std::string(24, ' '));
}

TEST(FioProgress, MixedJobsAndUnknownPercent) {
  const std::vector<JobSpec> jobs = {job(RwMode::randrw, 64 << 20, 3, true), job(RwMode::randrw, 64 << 20, 3, true)};
  ProgressLine line(jobs);
  std::vector<JobProgress> p(2);
  for (JobProgress& j : p) {
    j.state = JobState::running;
    j.elapsed_ms = 3000;
    j.io_bytes = {(89ull << 20) * 3 / 2 + (700ull << 10) * 3 / 2, (88ull << 20) * 3 / 2 + (600ull << 10) * 3 / 2, 0};
    j.ios = {34500, 34050, 0};
  }
  EXPECT_EQ(line.update(3000, p),
            "Jobs: 2 (f=2): [m(2)][-.-%][r=89.7MiB/s,w=88.6MiB/s][r=23.0k,w=22.7k IOPS][eta 00m:00s]");
  p[1].state = JobState::done;
  EXPECT_EQ(line.update(3000, p).substr(0, 28), "Jobs: 1 (f=1): [m(1),_(1)][-");
}

}  // namespace
}  // namespace guplab::fio
