// uring.h - a block device backed by a real host file or block device, opened with
// O_DIRECT and driven through io_uring (liburing): the host kernel DMAs straight into
// and out of the machine's page frames (the iovecs point at page_address()).
//
// Submission: queue_rq() turns a request into one SQE (READ/READV, WRITE/WRITEV with
// RWF_DSYNC for REQ_FUA/REQ_PREFLUSH, FSYNC for REQ_OP_FLUSH, NOP for a request that
// must fail untouched). Outside a plug each request is submitted at once; inside a plug
// SQEs accumulate and commit_rqs() submits them with one io_uring_submit().
// Completion: the device's completion task reaps CQEs in batches and ends the requests;
// a negative result maps to a status (errno_to_blk_status()), a short one to
// BLK_STS_IOERR.
//
// Polled requests (REQ_POLLED, block/blkdev.h): the submitting task takes one of
// kPollQueues poll queues - a ring of its own on the same file, the kernel's poll hctx -
// for as long as it has polled requests outstanding. queue_rq() prepares their SQEs
// there; each goes to the host when the task prepares the next one, or at the task's
// next poll(), which submits and waits in one io_uring_submit_and_wait() and ends what
// it reaps in the task itself: the host wakes the waiting thread once, as for its own
// pread(), and a batch reaches the device as it is made, as fio's submissions do.
// poll(spin) never spins: the host rings are not IOPOLL, so the host completes from its
// interrupt whatever the poller does, and IOCB_HIPRI waits as any polled I/O (the kernel
// drops REQ_POLLED on a queue that cannot poll, and its waiter sleeps).
// With no poll queue free (or none can be set up) a request goes through the main ring.
//
// Host alignment: the logical block size and buffer alignment come from the host
// (statx STATX_DIOALIGN for files, BLKSSZGET for block devices), at least 512.
//
// Threading: as block_device. The SQ side of the ring is guarded by sq_lock_; the CQ
// side belongs to the completion task. A poll queue belongs to its owner task (claimed
// and given back with acquire/release on its owner). Native backend only in practice:
// completions are real host events, so under sim they arrive in real, not virtual, time.
#pragma once
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/wait.h"
#include "block/blkdev.h"

struct io_uring;
struct io_uring_sqe;

namespace guplab {

struct uring_config {
  std::string path;
  unsigned queue_depth = 64;
  uint64_t create_size = 0;  // non-zero: create the file if missing and grow it to this size
  bool read_only = false;    // open O_RDONLY (a file the user may only read): a write fails
                             // (EBADF from the host); excludes create_size
  unsigned max_sectors = 2560;
  unsigned max_segments = 128;
};

class uring_disk final : public block_device {
 public:
  /**
   * uring_disk::create() - open @cfg.path with O_DIRECT, read-write (read-only with
   * @cfg.read_only), set up a ring of @cfg.queue_depth entries and start the device as
   * @name on @m (not registered: see add_disk()). Returns 0 or -errno with a message in
   * *@err: -ENOENT (no such file; give create_size), -EINVAL (O_DIRECT refused by the
   * host filesystem, e.g. tmpfs; empty file; not a file or block device; read_only with
   * create_size), -EACCES, -ENOSYS/-EPERM (io_uring unavailable), ...
   */
  static int create(Machine* m, std::string name, const uring_config& cfg, std::unique_ptr<uring_disk>* out,
                    std::string* err);
  ~uring_disk() override;

  std::string describe() const override;
  const std::string& path() const { return cfg_.path; }
  /** nr_ring_submits() - io_uring_submit() calls that started SQEs (batching shows here). */
  uint64_t nr_ring_submits() const { return ring_submits_.load(std::memory_order_relaxed); }
  /** nr_polled() - requests ended by their submitter's poll(), not by the completion task. */
  uint64_t nr_polled() const { return polled_.load(std::memory_order_relaxed); }

  bool can_poll() const override { return true; }
  int poll(bool spin) override;

  /** kPollQueues - tasks that can have polled requests outstanding at once. */
  static constexpr unsigned kPollQueues = 8;

 private:
  uring_disk(Machine* m, std::string name, const uring_config& cfg, int fd, sector_t nr_sectors,
             const queue_limits& lim, std::unique_ptr<io_uring> ring);

  /** poll_queue - a task's own ring for its polled requests (fields: the owner's only). */
  struct poll_queue {
    std::atomic<task_struct*> owner{nullptr};
    std::unique_ptr<io_uring> ring;  // set up by its first owner
    bool broken = false;             // could not be set up: never used
    unsigned pending = 0;            // SQEs prepared, not yet submitted
    unsigned inflight = 0;           // requests queued here and not yet ended
  };
  /** poll_queue_of() - @t's poll queue; with @claim, take a free one if it has none (nullptr if none free). */
  poll_queue* poll_queue_of(task_struct* t, bool claim);
  /** submit_polled() - hand @q's pending SQEs to the host now (the owner task only). */
  void submit_polled(poll_queue* q);
  /** build_iovecs() - @rq's segments into its tag's iovecs; returns how many (0: no data to move). */
  unsigned build_iovecs(request* rq);
  /** prep_sqe() - fill @sqe for @rq, whose @n iovecs build_iovecs() made. */
  void prep_sqe(io_uring_sqe* sqe, request* rq, unsigned n);
  void queue_rq(request* rq, bool last) override;
  void commit_rqs() override;
  void completion_loop() override;
  void wake_completion_task() override;
  void submit_locked() REQUIRES(sq_lock_);
  /** reap() - take up to a batch of CQEs and end their requests; returns how many. */
  unsigned reap(bool end_requests);

  const uring_config cfg_;
  const int fd_;
  std::unique_ptr<io_uring> ring_;
  std::vector<iovec> iovs_;  // max_segments per tag; a request's iovecs stay put until it ends

  spinlock_t sq_lock_;
  unsigned sq_pending_ GUARDED_BY(sq_lock_) = 0;  // SQEs prepared, not yet submitted
  std::atomic<int> ring_inflight_{0};  // submitted to the host, CQE not yet reaped
  std::atomic<uint64_t> ring_submits_{0};
  wait_queue_head_t ring_wait_;
  std::array<poll_queue, kPollQueues> pq_;
  std::atomic<uint64_t> polled_{0};
};

}  // namespace guplab
