// progress.h - fio's terminal status line:
//   Jobs: 1 (f=1): [R(1)][45.0%][r=700MiB/s][r=179k IOPS][eta 00m:02s]
// one letter per job (fio's run_str, condensed to "R(2),w(1)"), percent done and ETA estimated
// as fio does (by bytes, or by time for time_based jobs; unknown for the first 3 seconds),
// and the rates since the previous update. The caller prints "\r" + update() only when stdout
// is a terminal (isatty), as fio does, and a final "\n" before the report.
//
// Threading: not thread-safe; one ProgressLine per run, updated from one thread.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lab/fio/job_file.h"
#include "lab/fio/stats.h"

namespace guplab::fio {

enum class JobState : uint8_t { pending, setting_up, running, finishing, done, failed };

/** One job's progress at an update. */
struct JobProgress {
  JobState state = JobState::pending;
  std::array<uint64_t, kNumDdirs> io_bytes{};  // done so far
  std::array<uint64_t, kNumDdirs> ios{};       // done so far
  uint64_t elapsed_ms = 0;                     // since the job started running
};

/** state_char() - fio's letter for a job: R/r/W/w/M/m running (upper case sequential, lower
 *  case random; rw mixes with rwmixread 100 or 0 show as reads or writes), P pending,
 *  I setting up, f finishing, _ done, X failed. */
char state_char(const JobSpec& job, JobState state);
/** condense_run_str() - "RRw" -> "R(2),w(1)". */
std::string condense_run_str(std::string_view run_str);
/** eta_to_str() - "00m:02s", "01h:00m:00s", "02d:00h:00m:00s". */
std::string eta_to_str(uint64_t sec);
/** job_eta_sec() - fio's estimate of a job's remaining seconds. */
uint64_t job_eta_sec(const JobSpec& job, const JobProgress& p);

class ProgressLine {
 public:
  /** REQUIRES: !jobs.empty(). */
  explicit ProgressLine(std::span<const JobSpec> jobs);

  /** update() - the status line at @now_ms (a monotonic clock, 0 = the run began); @progress[i]
   *  is jobs[i]'s. No "\r" or "\n"; padded with spaces to cover a longer previous line.
   *  REQUIRES: progress.size() == jobs.size(); now_ms does not go backwards. */
  std::string update(uint64_t now_ms, std::span<const JobProgress> progress);

 private:
  std::vector<JobSpec> jobs_;
  uint64_t prev_ms_ = 0;
  std::array<uint64_t, kNumDdirs> prev_bytes_{};
  std::array<uint64_t, kNumDdirs> prev_ios_{};
  bool eta_good_ = false;
  size_t last_len_ = 0;
};

}  // namespace guplab::fio
