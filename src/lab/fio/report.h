// report.h - fio's normal text output for a guplab fio run: the job header lines, the version
// line (guplab's, not fio's: the numbers come from the model, not from fio), "Starting N
// processes", then per job (or group_reporting group) the IOPS/BW line, slat/clat/lat with
// fio's unit selection, clat percentiles, bw/iops samples, latency distribution, cpu, IO depths,
// issued counts, and the "Run status group 0 (all jobs):" summary. Layouts and number formats
// are fio 3.33's.
//
// How a runner drives the whole of src/lab/fio:
//   auto file = load_job_file(path);                        // Result: print .error() and stop
//   file = with_overrides(std::move(file.value()), args);   // "--bs=8k" ...
//   auto jobs = resolve_jobs(file.value());
//   fputs(format_preamble(jobs.value()))
//   per job i: JobStats& js = stats[i]; js.pid = ...; IntervalSampler smp; smp.start(now_ms, js);
//     per submit: js.add_submit(nr, depth_in_flight);  per reap: js.add_complete(nr);
//     per I/O: js.add_io(ddir, bytes, clat_ns, lat_ns, slat_ns /* none for sync */);
//     now and then: smp.tick(now_ms, js);
//     at the end: js.set_runtime_ms(ms); js.add_cpu(rusage_delta(ru_start, ru_end));
//   meanwhile, if isatty(1): fputs("\r" + ProgressLine::update(now_ms, progress))  (progress.h)
//   RunResult r{file->global_options, jobs.value(), stats, system_clock::now(), elapsed_s};
//   fputs(format_text(r)) or fputs(format_json(r)) (json_report.h)
//
// Not printed (nothing here measures them): "Laying out IO file", "Disk stats", steady state.
// Groups: a stonewall job starts a new group (JobStats::groupid); each gets its own
// "Run status group N (all jobs):" block, and group_reporting merges only within a group.
//
// Threading: stateless functions over values; safe from any thread.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lab/fio/job_file.h"
#include "lab/fio/stats.h"

namespace guplab::fio {

/** Printed where fio prints "fio-3.33" (text) and as "fio version" (JSON). */
inline constexpr const char* kVersionString = "guplab-fio-0.1";

/** What a finished run hands to the printers. */
struct RunResult {
  std::vector<Option> global_options;  // JobFile::global_options (JSON "global options")
  std::vector<JobSpec> jobs;           // resolve_jobs(), one per job process
  std::vector<JobStats> stats;         // stats[i] was measured running jobs[i]
  std::chrono::system_clock::time_point end_time;  // wall clock when the run ended
  uint64_t elapsed_sec = 0;                        // wall time of the whole run
};

/** One reported block: a job, or consecutive jobs merged by group_reporting. */
struct ReportedJob {
  const JobSpec* first = nullptr;  // names the block
  const JobSpec* last = nullptr;   // gives options and depth, as fio takes them
  JobStats stats;                  // merged over the members
  unsigned members = 0;
};

/** A group's "Run status" numbers, per direction (bandwidths in bytes/s). */
struct GroupRun {
  std::array<uint64_t, kNumDdirs> io_bytes{};
  std::array<uint64_t, kNumDdirs> agg_bw{};  // io_bytes over the longest runtime
  std::array<uint64_t, kNumDdirs> min_bw{};
  std::array<uint64_t, kNumDdirs> max_bw{};
  std::array<uint64_t, kNumDdirs> min_run{};  // ms
  std::array<uint64_t, kNumDdirs> max_run{};  // ms
};

struct Summary {
  std::vector<ReportedJob> jobs;
  std::vector<GroupRun> groups;  // by groupid: groups[rj.stats.groupid] is rj's group
};

/** summarize() - merge by group_reporting as fio does (a job with group_reporting joins the
 *  block before it if that block is of the same stonewall group) and compute each group's
 *  numbers. Pointers refer into @r.
 *  REQUIRES: r.jobs.size() == r.stats.size(). */
Summary summarize(const RunResult& r);

/** format_job_header() - "reader: (g=0): rw=read, bs=(R) 4096B-4096B, ..., iodepth=64\n"
 *  (the smallest and largest block size; @group is the job's stonewall group). */
std::string format_job_header(const JobSpec& job, unsigned group = 0);
/** format_preamble() - what fio prints before running: a header per job ("..." for further
 *  numjobs copies), the version line and "Starting N processes". */
std::string format_preamble(std::span<const JobSpec> jobs);
/** format_text() - what fio prints after running (normal output format). */
std::string format_text(const RunResult& r);

/** format_lat_line() - "    clat (usec): min=..., max=..., avg=..., stdev=...\n" for @name
 *  ("slat", "clat", " lat"), choosing nsec/usec/msec as fio does. Empty if no samples. */
std::string format_lat_line(const char* name, const RunningStat& s);
/** format_percentiles() - fio's "    clat percentiles (usec):" block. Empty if no samples. */
std::string format_percentiles(const char* name, const LatencyHistogram& h,
                               std::span<const double> list = kDefaultPercentiles);

}  // namespace guplab::fio
