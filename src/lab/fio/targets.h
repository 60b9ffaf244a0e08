// targets.h - the devices a `guplab fio` run works on: which device each job uses, the
// spec it is opened with (sized to its jobs and as deep as their iodepths together),
// checks of the jobs against the opened device, laying out a uring file that had to be
// created or grown, and undoing that (removing a file this run created, cutting a grown one
// back to its old size) if the run cannot start.
//
// Threading: plan_targets() and undo_target() anywhere; open_target(), check_jobs() and
// lay_out() from a model task of the machine that opens the device.
#pragma once
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "lab/fio/job_file.h"

namespace guplab {
class Machine;
class block_device;
}  // namespace guplab

namespace guplab::fio {

/** One device of the run and the jobs on it. */
struct TargetPlan {
  std::string spec;             // for blkdev_get_by_path()
  std::vector<size_t> jobs;     // indices into the run's jobs (a job with several files on
                                // several targets is listed in each)
  std::vector<size_t> files;    // beside jobs: which of that job's files() this target is
  uint64_t need_bytes = 0;      // the largest offset + file_bytes() of its jobs' files
  bool any_reads = false;       // some job on it reads
  bool any_writes = false;      // some job on it writes
  // A uring target's host file (empty path otherwise).
  std::string host_path;
  bool host_regular = false;    // a regular file (or one to be created), not a block device
  bool host_existed = false;
  uint64_t host_old_size = 0;   // before this run
};

/**
 * plan_targets() - the devices for @jobs: @device for all of them, or (empty) one
 * embedded ramdisk per distinct file name (JobSpec::files(), directory/ included). A job of
 * several files is refused with @device (one device serves one file). @source names the job
 * file in errors. @device must be uring:PATH or ram<N> (a fio run boots no pmem region). More
 * than 65,536 files over all jobs are refused, and so is a uring device
 * whose host file is one of @keep (the job file: JobFile::read_from), before anything is opened.
 * A uring device is opened read-only (ro=on) when no job on it writes and nothing is to be
 * created, grown or laid out, so a file the user may only read can be read.
 */
Result<std::vector<TargetPlan>> plan_targets(const std::vector<JobSpec>& jobs, const std::string& device,
                                             const std::string& source, std::span<const FileId> keep = {});

/** open_target() - open @t on @m. Returns the device, or an Error saying why not. */
Result<block_device*> open_target(Machine* m, const TargetPlan& t);

/**
 * check_jobs() - can @t's jobs run on @bdev: bs and offset in whole logical blocks, the
 * region inside the device. Fills @region_bytes[i][f] for each of its jobs' files (job i, file f).
 * REQUIRES: region_bytes[i] has a slot for each of job i's files.
 */
Result<bool> check_jobs(const std::vector<JobSpec>& jobs, const TargetPlan& t, const block_device* bdev,
                        const std::string& source, std::vector<std::vector<uint64_t>>* region_bytes);

/**
 * lay_out() - if @t's host file was created or grown for jobs that read, write the new
 * part through the model's O_DIRECT path, so that reads find allocated blocks rather than
 * holes (fio does the same), announcing it on @out as fio does. The new part starts at the
 * old size rounded up to a logical block: no byte the file had is ever written.
 * REQUIRES: a model task with no mm of its own.
 */
Result<bool> lay_out(const TargetPlan& t, block_device* bdev, const std::string& job_name, FILE* out);

/**
 * undo_target() - after a run that could not start: remove @t's host file if this run
 * created it, or cut it back to its old size if this run grew it (open_target() grows it,
 * lay_out() writes only past the old size), so the file is as it was. Returns an Error
 * saying what could not be undone.
 */
Result<bool> undo_target(const TargetPlan& t);

}  // namespace guplab::fio
