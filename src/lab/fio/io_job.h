// io_job.h - one fio job process on the model: a task with its own address space
// holding iodepth buffers of bs bytes (page aligned, faulted in), and the loop that
// drives the model's O_DIRECT path (fs/direct-io.h) the way fio's engines drive the
// kernel's.
//
// Asynchronous engines (libaio, io_uring and anything not listed below) keep iodepth
// kiocbs in flight: free slots are filled and submitted under one plug (one batch; a
// uring device sees one io_uring_submit() per 32 requests at most), then the loop sleeps
// until at least one completion arrives and reaps everything that completed. Each
// kiocb's ki_complete runs in the device's completion task and only queues the slot
// for the job; on a device that polls (fs/direct-io.h), a single-file job at any
// depth sends its kiocbs IOCB_HIPRI and reaps them itself with bdev_poll() (blocked in
// the host; nothing spins: see block/uring.h), sleeping for the rest only once none of
// its own is outstanding.
// Synchronous engines (sync, psync, vsync, pvsync, pvsync2) issue one
// synchronous kiocb at a time, as fio does whatever iodepth says.
//
// Latencies, as fio defines them for its engines: slat from queueing an I/O to the end
// of the commit that carried it (async only; a commit every iodepth_batch_submit I/Os,
// by default each by itself), clat from there to the reap that saw it complete, lat the
// sum. An asynchronous job reads base/'s clock (ktime_get_ns()) once per commit (the next
// I/O is queued at that time) and once per reap (so is the I/O queued after it); a
// synchronous one before and after each I/O.
//
// A job of several files (filename=a:b, nrfiles) has one plan per file (io_plan.h) and
// takes its files in turn, one I/O each (fio's file_service_type=roundrobin), skipping a
// file whose share is done. Block sizes come from bs or bssplit.
//
// A job ends when it has issued size x loops bytes, or once ramp_time + runtime has
// passed (with time_based it runs until then, wrapping over its region). startdelay
// sleeps before the job starts; ramp_time I/O counts toward size but not in the stats
// (they restart when it has passed, as fio's do); rate_iops spaces I/Os by 1/rate from
// the job's start; fsync=N drains the queue after every N writes and sends the file's
// device a REQ_OP_FLUSH, timed into the sync statistics. Asynchronous engines submit
// once iodepth_batch_submit slots are free (or nothing is in flight), in plugs of
// iodepth_batch_submit I/Os (fio commits each such batch; its default, 1, sends every
// I/O to the device by itself), and reap at least
// iodepth_batch_complete_min completions (0: keep submitting while nothing has completed;
// a reap that must wait waits for one), at most iodepth_batch_complete_max (as fio: unset
// or below the min, the min; so by default one at a time, the rest left for the next).
//
// verify= (verify.h): every write carries verify headers; with do_verify, once the
// writes are done every write is read back in the order it was issued and checked (those
// reads are the job's read statistics, as in fio); a job that only reads checks every
// read. A bad block ends the job with EILSEQ (fio's err=84) and its message in
// JobStats::verify_error, with or without verify_fatal (fio stops a synchronous job at
// the first bad block either way). An I/O that fails ends the
// job with that errno (fio's default without continue_on_error); what is in flight is
// always reaped first, so every pin is released before the job's task returns.
//
// Threading: run_io_job() runs in the job's own model task. JobLive is written by that
// task and read by anyone (the progress line). The IoHook runs in the job's task.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/atomic.h"
#include "lab/fio/job_file.h"
#include "lab/fio/progress.h"
#include "lab/fio/stats.h"

namespace guplab {
struct dio_file;
struct mm_struct;
class block_device;
}  // namespace guplab

namespace guplab::fio {

/** One completed I/O, as an IoHook sees it (in the job's task, before the buffer is reused). */
struct IoEvent {
  size_t job = 0;            // index of the job in the run
  Ddir ddir = Ddir::read;
  uint64_t offset = 0;       // device byte offset
  uint64_t bytes = 0;        // asked for
  unsigned file = 0;         // which of the job's files
  block_device* bdev = nullptr;  // that file's device
  bool verifying = false;    // a read of the verify phase
  long result = 0;           // bytes transferred or -errno
  mm_struct* mm = nullptr;   // the job's address space
  unsigned long ubuf = 0;    // the buffer in @mm (still holding the data read or written)
};
using IoHook = std::function<void(const IoEvent&)>;

/** What a running job shows to others: state and progress counters. */
struct JobLive {
  atomic_t state;                             // a JobState
  std::array<atomic64_t, kNumDdirs> bytes{};  // completed so far
  std::array<atomic64_t, kNumDdirs> ios{};
  atomic64_t start_ns;                        // ktime_get_ns() when I/O began; 0 before

  /** snapshot() - the progress line's view at @now_ns. */
  JobProgress snapshot(uint64_t now_ns) const;
};

/** One of a job's files: the opened target and the bytes from spec->offset worked over. */
struct JobFileTarget {
  dio_file* file = nullptr;
  uint64_t region_bytes = 0;
  std::string name;  // as verify messages print it
};

/** Everything one job's task needs. */
struct JobContext {
  const JobSpec* spec = nullptr;
  size_t index = 0;             // the job's place in the run (IoEvent::job)
  std::vector<JobFileTarget> files;  // one or more
  uint64_t seed = 0;            // offsets, directions and write-buffer contents
  const IoHook* hook = nullptr; // optional
};

/** is_sync_engine() - does fio run @ioengine one synchronous I/O at a time? */
bool is_sync_engine(const std::string& ioengine);

/**
 * run_io_job() - the body of job @ctx's task: make an address space, run the job's I/O,
 * reap everything, tear the address space down. Fills @stats (pid, counts, latencies,
 * depths, samples, runtime, CPU, error) and keeps @live up to date.
 * REQUIRES: a model task with no mm of its own; ctx.spec, every ctx.files[].file and its
 * device valid for the call; each region_bytes >= spec->max_bs().
 */
void run_io_job(const JobContext& ctx, JobStats* stats, JobLive* live);

}  // namespace guplab::fio
