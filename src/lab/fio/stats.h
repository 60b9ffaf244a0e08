// stats.h - what one fio job measured, recorded the way fio records it: per direction
// (read/write/trim) I/O and byte counts, runtime, slat/clat/lat running statistics and the clat
// histogram (histogram.h), per-interval bandwidth and IOPS samples, CPU use from getrusage
// deltas, the IO depth / submit / complete distributions and the "lat (nsec/usec/msec)"
// distribution. merge() adds one job's stats into another's as fio's group_reporting does.
//
// All latencies are nanoseconds. The runner owns one JobStats per job and calls the add_*()
// functions as its I/Os go; the reports (report.h, json_report.h) only read.
//
// Threading: not thread-safe; one JobStats per job thread, merged or reported afterwards.
#pragma once
#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "lab/fio/histogram.h"

namespace guplab::fio {

enum class Ddir : uint8_t { read = 0, write = 1, trim = 2 };
inline constexpr size_t kNumDdirs = 3;
inline constexpr std::array<Ddir, kNumDdirs> kAllDdirs = {Ddir::read, Ddir::write, Ddir::trim};
/** "read", "write", "trim" - the names fio's reports use. */
const char* ddir_name(Ddir d);

/** RunningStat - fio's io_stat: min, max, mean and sum of squared deviations (Welford). */
class RunningStat {
 public:
  /** from_summary() - a RunningStat with these numbers, e.g. read back from a fio JSON report.
   *  REQUIRES: min <= max when samples > 0. */
  static RunningStat from_summary(uint64_t samples, uint64_t min, uint64_t max, double mean, double stddev);

  void add(uint64_t v);
  /** merge() - become the statistics of both sample sets together (fio's __sum_stat). */
  void merge(const RunningStat& o);
  /** sum() - add @o's min, max, mean and deviation sums to ours (fio's "pure sum", used for
   *  bandwidth and IOPS under group_reporting: a group's bandwidth is the sum of its jobs'). */
  void sum(const RunningStat& o);

  uint64_t samples() const { return samples_; }
  uint64_t min() const { return samples_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return mean_; }
  /** stddev() - sample standard deviation, sqrt(S/(n-1)); 0 for fewer than two samples. */
  double stddev() const;

 private:
  uint64_t samples_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double mean_ = 0.0;
  double s_ = 0.0;  // sum of squared deviations from the mean
};

/** One direction's counters. */
struct DirStats {
  uint64_t io_bytes = 0;
  uint64_t total_ios = 0;  // completed I/Os ("issued rwts: total=")
  uint64_t short_ios = 0;
  uint64_t drop_ios = 0;
  uint64_t runtime_ms = 0;  // 0 means "did no I/O this way": the reports skip the direction
  RunningStat slat_ns;      // submission latency; empty for synchronous engines, as in fio
  RunningStat clat_ns;      // completion latency
  RunningStat lat_ns;       // total latency, slat + clat
  LatencyHistogram clat_hist;
  RunningStat bw_kib;  // one sample per interval, KiB/s
  RunningStat iops;    // one sample per interval, I/Os per second
};

/** CPU use over a job's run: the difference of two getrusage() snapshots. */
struct CpuUsage {
  uint64_t usr_ms = 0;
  uint64_t sys_ms = 0;
  uint64_t ctx = 0;   // voluntary + involuntary context switches
  uint64_t majf = 0;  // major page faults
  uint64_t minf = 0;  // minor page faults
};
/** rusage_delta() - @end minus @start. REQUIRES: @end was taken after @start. */
CpuUsage rusage_delta(const struct rusage& start, const struct rusage& end);

/** Distribution buckets, as fio keeps them. */
inline constexpr size_t kDepthBuckets = 7;     // 1, 2, 4, 8, 16, 32, >=64
inline constexpr size_t kLatNsBuckets = 10;    // <2, <4, <10, <20, <50, <100, <250, <500, <750, <1000
inline constexpr size_t kLatUsBuckets = 10;    // the same, in microseconds
inline constexpr size_t kLatMsBuckets = 12;    // the same in milliseconds, then <2000, >=2000

struct JobStats {
  int pid = 0;    // printed in the job's header line
  int error = 0;  // errno the job ended with, 0 if none
  std::string verify_error;  // fio's message for the first bad block (error is EILSEQ then)
  unsigned groupid = 0;      // the stonewall group the job ran in
  uint64_t sync_ios = 0;     // fsync calls ("sync" in fio's JSON)
  RunningStat sync_lat_ns;
  LatencyHistogram sync_hist;
  std::array<DirStats, kNumDdirs> dir;
  uint64_t total_run_time_ms = 0;  // wall time of the job (the base of usr/sys %)
  CpuUsage cpu;
  std::array<uint64_t, kDepthBuckets> depth_map{};     // I/Os by queue depth when submitted
  std::array<uint64_t, kDepthBuckets> submit_map{};    // submit calls by batch size
  std::array<uint64_t, kDepthBuckets> complete_map{};  // reap calls by completions reaped
  uint64_t total_submit = 0;
  uint64_t total_complete = 0;
  std::array<uint64_t, kLatNsBuckets> lat_ns_map{};  // clat distribution below 1 us
  std::array<uint64_t, kLatUsBuckets> lat_us_map{};  // ... 1 us to 1 ms
  std::array<uint64_t, kLatMsBuckets> lat_ms_map{};  // ... 1 ms and up

  DirStats& at(Ddir d) { return dir[static_cast<size_t>(d)]; }
  const DirStats& at(Ddir d) const { return dir[static_cast<size_t>(d)]; }

  /** add_io() - one completed I/O of @bytes. fio's three latencies: slat from queueing to
   *  issue (only engines with a separate submission step record it: pass none for a
   *  synchronous engine, as fio does), clat from issue to completion, lat from queueing to
   *  completion. Counts, the clat histogram and the lat distribution (by clat) follow.
   *  REQUIRES: lat_ns >= clat_ns. */
  void add_io(Ddir d, uint64_t bytes, uint64_t clat_ns, uint64_t lat_ns,
              std::optional<uint64_t> slat_ns = std::nullopt);
  /** add_ramp_io() - an I/O completed during ramp_time: counted, its latencies not recorded
   *  (what fio reports of a job that ends before its ramp_time has passed). */
  void add_ramp_io(Ddir d, uint64_t bytes) {
    at(d).io_bytes += bytes;
    at(d).total_ios++;
  }
  void add_short_io(Ddir d) { at(d).short_ios++; }
  void add_dropped_io(Ddir d) { at(d).drop_ios++; }
  /** add_submit() - one submit call of @nr I/Os that left @depth I/Os in flight.
   *  REQUIRES: nr >= 1, depth >= 1. */
  void add_submit(unsigned nr, unsigned depth);
  /** add_complete() - one reap call that returned @nr completions. */
  void add_complete(unsigned nr);
  void add_bw_sample(Ddir d, uint64_t kib_per_sec) { at(d).bw_kib.add(kib_per_sec); }
  void add_iops_sample(Ddir d, uint64_t iops) { at(d).iops.add(iops); }
  void add_cpu(const CpuUsage& u);
  /** add_sync() - one fsync that took @lat_ns. */
  void add_sync(uint64_t lat_ns) {
    sync_ios++;
    sync_lat_ns.add(lat_ns);
    sync_hist.add(lat_ns);
  }
  /** set_runtime_ms() - the job ran @ms: its run time, and the runtime of each direction
   *  that moved bytes. Call once the job has finished. */
  void set_runtime_ms(uint64_t ms);

  /** merge() - fold @o in as fio's group_reporting does: latencies combine as one sample set,
   *  bandwidth/IOPS samples and CPU add up, runtime is the longer one. */
  void merge(const JobStats& o);

  /** Total I/Os over all directions (the base of the IO depth and latency percentages). */
  uint64_t total_ios() const;
};

/**
 * IntervalSampler - fio's bandwidth and IOPS sampling: every interval (bw_avg_time, 500 ms by
 * default) one KiB/s sample and one IOPS sample per direction that moved, computed from the
 * job's running io_bytes and total_ios. The runner calls tick() with a monotonic clock in ms
 * whenever convenient (after each reap is fine); samples are taken once a full interval passed.
 */
class IntervalSampler {
 public:
  explicit IntervalSampler(uint64_t interval_ms = 500);
  /** start() - the job begins at @now_ms with @stats' current counters as the baseline. */
  void start(uint64_t now_ms, const JobStats& stats);
  void tick(uint64_t now_ms, JobStats& stats);

 private:
  uint64_t interval_ms_;
  uint64_t last_ms_ = 0;
  std::array<uint64_t, kNumDdirs> last_bytes_{};
  std::array<uint64_t, kNumDdirs> last_ios_{};
};

}  // namespace guplab::fio
