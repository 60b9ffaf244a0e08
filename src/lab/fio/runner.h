// runner.h - `guplab fio`'s engine: a parsed job file run through the model's direct-I/O
// path, ready for fio's reports (report.h, json_report.h).
//
// run_fio() boots one Machine with the chosen pin design, opens the target devices, runs
// every job process (numjobs copies) at once, each in its own model task with its own
// address space (io_job.h), and collects what fio would report. Targets:
//   - by default the embedded ramdisk: one per distinct filename, sized to the jobs that
//     use it (the largest offset + size), its queue as deep as their iodepths together;
//   - RunConfig::device: one device spec (block/genhd.h) for every job, e.g.
//     "uring:/var/tmp/f" (a real file or block device, O_DIRECT through io_uring) or
//     "ram0,latency=20us". A uring file is created or grown to the jobs' size when it is
//     smaller, and, if a job reads, the new part (past the old size) is written out first
//     through the model (fio's "Laying out IO file"); if the run cannot start, a file this
//     run created is removed again and one it grew is cut back to its old size. A uring
//     file only read, and not grown, is opened read-only.
// Refused before anything runs (an Error naming the job file and line): direct=0 (only
// O_DIRECT is modelled), time_based without a runtime, bs or offset not a multiple of the
// device's logical block size, a region past the end of the device, a device that cannot
// be opened, a uring device that is the job file itself (JobFile::read_from).
//
// After the run: pins acquired must equal pins released (nr_foll_pin_acquired ==
// nr_foll_pin_released), and no oops or WARN may have been recorded; otherwise the
// outcome lists the problem.
//
// Threading: run_fio() is called outside any model task; it runs the machine on the
// calling thread. run_jobs() is called from a model task of the machine the targets
// belong to.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lab/fio/io_job.h"
#include "lab/fio/job_file.h"
#include "lab/fio/report.h"
#include "machine/config.h"

namespace guplab {
class block_device;
}

namespace guplab::fio {

/** Where run_jobs() prints fio's status line. */
struct ProgressOptions {
  FILE* out = nullptr;             // null: no status line
  uint64_t interval_ms = 1000;     // the first line appears after one interval
};

/** What run_jobs() needs to know of each job's targets: one per file of the job. */
struct JobTarget {
  std::vector<JobFileTarget> files;  // each region_bytes >= the job's max_bs()
};

/**
 * run_jobs() - run @jobs, job i on @targets[i], each in a task of its own, and wait for all
 * of them. Jobs run at once, except that a job with stonewall starts a new group that
 * starts once every earlier job has finished (fio's stonewall; JobStats::groupid).
 * @on_io (may be empty) sees every completed I/O.
 * Returns each job's statistics, in the order of @jobs.
 * REQUIRES: a model task of the targets' machine; jobs.size() == targets.size(); each job
 * has a target per file, each region_bytes >= its job's max_bs().
 */
std::vector<JobStats> run_jobs(std::span<const JobSpec> jobs, std::span<const JobTarget> targets,
                               const IoHook& on_io = {}, const ProgressOptions& progress = {});

/** How run_fio() runs. */
struct RunConfig {
  PinDesign design = PinDesign::folio_pincount;
  std::string device;                // empty: the embedded ramdisk
  uint64_t mem_limit = 0;            // host bytes ramdisks + model RAM may take (0: default_mem_limit())
  FILE* preamble_out = nullptr;      // fio's job lines and "Starting N processes" (null: none)
  ProgressOptions progress;
  IoHook on_io;                      // optional: every completed I/O
  /** Optional: called once the jobs are done, before the devices close (in a model task). */
  std::function<void(std::span<block_device* const> devices)> inspect;
};

/** What run_fio() did. */
struct RunOutcome {
  RunResult result;                   // what the reports print
  int64_t pins_acquired = 0;          // nr_foll_pin_acquired at the end
  int64_t pins_released = 0;          // nr_foll_pin_released at the end
  std::vector<std::string> devices;   // describe() of each target
  std::vector<std::string> problems;  // unbalanced pins, oopses, WARNs: each one a failure

  /** ok() - no problem and no job ended with an error. */
  bool ok() const;
};

/**
 * run_fio() - resolve @file's jobs and run them under @cfg.
 * Returns the outcome, or an Error (file:line: what) if the run could not start.
 */
Result<RunOutcome> run_fio(const JobFile& file, const RunConfig& cfg);

}  // namespace guplab::fio
