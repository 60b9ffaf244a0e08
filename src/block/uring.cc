// uring.cc - the io_uring-backed O_DIRECT block device.
#include "block/uring.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <liburing.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "base/clock.h"
#include "base/errno.h"
#include "base/wake_batch.h"
#include "machine/machine.h"
#include "base/bug.h"

#if defined(GUPLAB_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace guplab {

namespace {

// The host kernel hands a request from the submitter to the completion task; TSan
// cannot see that, so say it: release at submission, acquire at reaping.
#if defined(GUPLAB_TSAN)
inline void tsan_handoff_release(void* rq) { __tsan_release(rq); }
inline void tsan_handoff_acquire(void* rq) { __tsan_acquire(rq); }
#else
inline void tsan_handoff_release(void*) {}
inline void tsan_handoff_acquire(void*) {}
#endif

constexpr unsigned kReapBatch = 64;

/** cqe_status() - how @rq ended, given its CQE's result @res. */
blk_status_t cqe_status(const request* rq, int res) {
  if (rq->status != BLK_STS_OK) return rq->status;
  if (res < 0) return errno_to_blk_status(res);
  // A short transfer: the range was checked, so the host failed.
  return static_cast<unsigned>(res) != rq->bytes ? BLK_STS_IOERR : BLK_STS_OK;
}

/** A file descriptor closed unless released. */
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

std::string open_error(int e) {
  switch (e) {
    case ENOENT: return "no such file (give a size to create it)";
    case EINVAL:
      return "the host filesystem refuses O_DIRECT (tmpfs, and some FUSE or overlay filesystems, do)";
    default: return std::strerror(e);
  }
}

}  // namespace

int uring_disk::create(Machine* m, std::string name, const uring_config& cfg, std::unique_ptr<uring_disk>* out,
                       std::string* err) {
  auto fail = [&](int e, const std::string& msg) {
    if (err) *err = fmt::format("{}: {}", cfg.path.empty() ? name : cfg.path, msg);
    return e;
  };
  if (!m || name.empty() || cfg.path.empty()) return fail(-EINVAL, "no path");
  if (cfg.queue_depth == 0 || cfg.queue_depth > 4096) return fail(-EINVAL, "queue depth must be 1..4096");
  if (cfg.max_segments == 0 || cfg.max_segments > IOV_MAX) return fail(-EINVAL, "max_segments must be 1..IOV_MAX");

  if (cfg.read_only && cfg.create_size) return fail(-EINVAL, "a read-only device cannot be created or grown (size=)");

  const int flags = (cfg.read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC | (cfg.create_size ? O_CREAT : 0);
  fd_guard fd{::open(cfg.path.c_str(), flags, 0644)};
  if (fd.fd < 0) {
    const int e = errno;
    return fail(-e, fmt::format("open({}|O_DIRECT): {} ({})", cfg.read_only ? "O_RDONLY" : "O_RDWR", open_error(e),
                                errname(e)));
  }
  struct stat st;
  if (fstat(fd.fd, &st) != 0) return fail(-errno, fmt::format("fstat: {}", std::strerror(errno)));
  uint64_t bytes = 0;
  unsigned lbs = SECTOR_SIZE, mem_align = SECTOR_SIZE;
  if (S_ISREG(st.st_mode)) {
    bytes = static_cast<uint64_t>(st.st_size);
    if (cfg.create_size > bytes) {
      if (ftruncate(fd.fd, static_cast<off_t>(cfg.create_size)) != 0)
        return fail(-errno, fmt::format("ftruncate to {} bytes: {}", cfg.create_size, std::strerror(errno)));
      bytes = cfg.create_size;
    }
    struct statx stx;
    if (statx(fd.fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
      if (stx.stx_dio_offset_align == 0) return fail(-EINVAL, open_error(EINVAL));
      lbs = std::max(lbs, stx.stx_dio_offset_align);
      mem_align = std::max(mem_align, stx.stx_dio_mem_align);
    }
  } else if (S_ISBLK(st.st_mode)) {
    int ssz = 0;
    if (ioctl(fd.fd, BLKGETSIZE64, &bytes) != 0 || ioctl(fd.fd, BLKSSZGET, &ssz) != 0)
      return fail(-errno, fmt::format("block device ioctl: {}", std::strerror(errno)));
    lbs = std::max(lbs, static_cast<unsigned>(ssz));
  } else {
    return fail(-EINVAL, "not a regular file or a block device");
  }
  if (lbs > PAGE_SIZE || mem_align > PAGE_SIZE)
    return fail(-EINVAL, fmt::format("host O_DIRECT alignment {}/{} is larger than a page", lbs, mem_align));
  const uint64_t usable = bytes / lbs * lbs;
  if (usable == 0) return fail(-EINVAL, "empty (give a size to grow it)");

  // Some filesystems accept O_DIRECT at open and refuse the I/O: try one read.
  {
    void* buf = std::aligned_alloc(PAGE_SIZE, PAGE_SIZE);
    if (!buf) return fail(-ENOMEM, "out of memory");
    const ssize_t r = pread(fd.fd, buf, lbs, 0);
    const int e = errno;
    std::free(buf);
    if (r < 0) return fail(-e, fmt::format("O_DIRECT read: {} ({})", open_error(e), errname(e)));
  }

  auto ring = std::make_unique<io_uring>();
  if (int ret = io_uring_queue_init(cfg.queue_depth, ring.get(), 0); ret < 0)
    return fail(ret, fmt::format("io_uring_queue_init: {} ({}){}", std::strerror(-ret), errname(ret),
                                 ret == -ENOSYS || ret == -EPERM
                                     ? "; io_uring is disabled here (kernel.io_uring_disabled, seccomp)"
                                     : ""));
  queue_limits lim;
  lim.logical_block_size = lbs;
  lim.physical_block_size = lbs;
  lim.max_sectors = std::max(cfg.max_sectors / (lbs >> SECTOR_SHIFT), 1u) * (lbs >> SECTOR_SHIFT);
  lim.max_segments = cfg.max_segments;
  lim.dma_alignment = std::max(lbs, mem_align) - 1;
  std::unique_ptr<uring_disk> d(
      new uring_disk(m, std::move(name), cfg, fd.release(), usable >> SECTOR_SHIFT, lim, std::move(ring)));
  d->start();
  *out = std::move(d);
  return 0;
}

uring_disk::uring_disk(Machine* m, std::string name, const uring_config& cfg, int fd, sector_t nr_sectors,
                       const queue_limits& lim, std::unique_ptr<io_uring> ring)
    : block_device(m, std::move(name), nr_sectors, lim, cfg.queue_depth),
      cfg_(cfg),
      fd_(fd),
      ring_(std::move(ring)),
      iovs_(static_cast<size_t>(cfg.queue_depth) * cfg.max_segments) {
  spin_lock_init(&sq_lock_, "uring sq");
  init_waitqueue_head(&ring_wait_, "uring irq");
}

uring_disk::~uring_disk() {
  stop();
  // After an oops nobody ended the requests still at the host; their buffers are the
  // machine's RAM, so collect the host's completions before the ring and RAM go.
  const uint64_t deadline = host_time_ns() + 10 * NSEC_PER_SEC;
  while (ring_inflight_.load(std::memory_order_acquire) > 0 && host_time_ns() < deadline) reap(false);
  for (poll_queue& q : pq_) {  // the same for polled requests whose owner unwound
    if (!q.ring) continue;
    if (q.pending) io_uring_submit(q.ring.get());
    while (q.inflight > 0 && host_time_ns() < deadline) {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts = {0, 100 * 1000 * 1000};
      if (io_uring_wait_cqe_timeout(q.ring.get(), &cqe, &ts) < 0) continue;
      const unsigned n = io_uring_cq_ready(q.ring.get());
      io_uring_cq_advance(q.ring.get(), n);
      q.inflight -= std::min(q.inflight, n);
    }
    io_uring_queue_exit(q.ring.get());
  }
  io_uring_queue_exit(ring_.get());
  ::close(fd_);
}

std::string uring_disk::describe() const {
  return fmt::format("{}: uring O_DIRECT {} MiB, lbs {}, depth {}{}", name(), (nr_sectors() << SECTOR_SHIFT) >> 20,
                     limits().logical_block_size, queue_depth(), cfg_.read_only ? ", read-only" : "");
}

unsigned uring_disk::build_iovecs(request* rq) {
  bio* b = rq->rq_bio;
  iovec* iov = &iovs_[static_cast<size_t>(rq->tag) * cfg_.max_segments];
  unsigned n = 0;
  if (rq->status == BLK_STS_OK && bio_has_data(b)) {
    bio_vec bv;
    bvec_iter iter;
    bio_for_each_segment(bv, b, iter) {
      VM_BUG_ON(!(n < cfg_.max_segments));
      iov[n].iov_base = bvec_virt(&bv);
      iov[n].iov_len = bv.bv_len;
      n++;
    }
  }
  return n;
}

void uring_disk::prep_sqe(io_uring_sqe* sqe, request* rq, unsigned n) {
  bio* b = rq->rq_bio;
  const blk_opf_t op = bio_op(b);
  const iovec* iov = &iovs_[static_cast<size_t>(rq->tag) * cfg_.max_segments];
  const uint64_t off = b->bi_iter.bi_sector << SECTOR_SHIFT;
  if (rq->status != BLK_STS_OK) {
    io_uring_prep_nop(sqe);
  } else if (op == REQ_OP_FLUSH ||
             (op == REQ_OP_WRITE && n == 0 && any(b->bi_opf, REQ_PREFLUSH))) {
    io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
  } else if (n == 0) {
    io_uring_prep_nop(sqe);  // an empty read or write
  } else if (op == REQ_OP_READ) {
    if (n == 1)
      io_uring_prep_read(sqe, fd_, iov[0].iov_base, static_cast<unsigned>(iov[0].iov_len), off);
    else
      io_uring_prep_readv(sqe, fd_, iov, n, off);
  } else {
    if (n == 1)
      io_uring_prep_write(sqe, fd_, iov[0].iov_base, static_cast<unsigned>(iov[0].iov_len), off);
    else
      io_uring_prep_writev(sqe, fd_, iov, n, off);
    // A durable write (at least as strong as a preflush: it flushes the device cache).
    if (any(b->bi_opf, REQ_FUA | REQ_PREFLUSH)) sqe->rw_flags = RWF_DSYNC;
  }
  io_uring_sqe_set_data(sqe, rq);
}

uring_disk::poll_queue* uring_disk::poll_queue_of(task_struct* t, bool claim) {
  if (!t) return nullptr;
  for (poll_queue& q : pq_)
    if (q.owner.load(std::memory_order_acquire) == t) return &q;
  if (!claim) return nullptr;
  for (poll_queue& q : pq_) {
    task_struct* expected = nullptr;
    if (!q.owner.compare_exchange_strong(expected, t, std::memory_order_acq_rel)) continue;
    if (!q.ring && !q.broken) {
      auto ring = std::make_unique<io_uring>();
      if (io_uring_queue_init(cfg_.queue_depth, ring.get(), 0) == 0)
        q.ring = std::move(ring);
      else
        q.broken = true;
    }
    if (q.ring) return &q;
    q.owner.store(nullptr, std::memory_order_release);
  }
  return nullptr;
}

void uring_disk::queue_rq(request* rq, bool last) {
  // A polled request goes into its submitter's own ring (a poll queue).
  if (any(rq->rq_bio->bi_opf, REQ_POLLED)) {
    if (poll_queue* q = poll_queue_of(current(), true)) {
      // An SQE goes to the host no later than when the next one is prepared: the last
      // waits for the submitter's poll(), which submits it and waits in one host call (a
      // lone synchronous request costs one call), but a batch reaches the device as the
      // submitter makes it, not all at once at the poll.
      if (q->pending) submit_polled(q);
      io_uring_sqe* sqe = io_uring_get_sqe(q->ring.get());
      if (!sqe) {  // cannot happen (tags never outnumber SQ entries): make room
        BUG_ON(io_uring_submit(q->ring.get()) < 0);
        q->pending = 0;
        sqe = io_uring_get_sqe(q->ring.get());
        BUG_ON(!sqe);
      }
      prep_sqe(sqe, rq, build_iovecs(rq));
      q->pending++;
      q->inflight++;
      return;
    }
    rq->rq_bio->bi_opf = rq->rq_bio->bi_opf & ~REQ_POLLED;  // no poll queue: an ordinary request
  }
  // Build the iovecs outside the lock: they are this tag's own.
  const unsigned n = build_iovecs(rq);
  SpinGuard g(&sq_lock_);
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (!sqe) {  // tags never outnumber SQ entries, but be safe: make room
    submit_locked();
    sqe = io_uring_get_sqe(ring_.get());
    BUG_ON(!sqe);
  }
  prep_sqe(sqe, rq, n);
  tsan_handoff_release(rq);
  sq_pending_++;
  if (last) submit_locked();
}

void uring_disk::submit_polled(poll_queue* q) {
  const int ret = io_uring_submit(q->ring.get());
  if (ret > 0) {
    q->pending -= std::min<unsigned>(q->pending, static_cast<unsigned>(ret));
    ring_submits_.fetch_add(1, std::memory_order_relaxed);
  }
  // An error (-EINTR, -EAGAIN) leaves them pending: the poll() submits them with its wait.
}

void uring_disk::commit_rqs() {
  SpinGuard g(&sq_lock_);
  submit_locked();
}

void uring_disk::submit_locked() {
  while (sq_pending_) {
    // Count them in flight before the host can complete them.
    ring_inflight_.fetch_add(static_cast<int>(sq_pending_), std::memory_order_acq_rel);
    const int ret = io_uring_submit(ring_.get());
    if (ret > 0) {
      const unsigned left = sq_pending_ - std::min<unsigned>(sq_pending_, static_cast<unsigned>(ret));
      ring_inflight_.fetch_sub(static_cast<int>(left), std::memory_order_acq_rel);
      sq_pending_ = left;
      ring_submits_.fetch_add(1, std::memory_order_relaxed);
      wake_up(&ring_wait_);
      continue;
    }
    ring_inflight_.fetch_sub(static_cast<int>(sq_pending_), std::memory_order_acq_rel);
    // The SQEs stay in the ring; transient refusals are retried.
    BUG_ON_MSG(ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY,
               fmt::format("io_uring_submit: {}", errname(ret)));
    throw_if_halted();
    if (ret != -EINTR) sleep_ns(50 * NSEC_PER_USEC);
  }
}

void uring_disk::wake_completion_task() { wake_up(&ring_wait_); }

unsigned uring_disk::reap(bool end_requests) {
  io_uring_cqe* cqe = nullptr;
  int ret;
  if (end_requests) {
    ret = io_uring_wait_cqe(ring_.get(), &cqe);
  } else {
    __kernel_timespec ts = {0, 100 * 1000 * 1000};
    ret = io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts);
  }
  if (ret < 0) {
    BUG_ON_MSG(end_requests && ret != -EINTR && ret != -EAGAIN, fmt::format("io_uring_wait_cqe: {}", errname(ret)));
    return 0;
  }
  io_uring_cqe* cqes[kReapBatch];
  const unsigned n = io_uring_peek_batch_cqe(ring_.get(), cqes, kReapBatch);
  request* rqs[kReapBatch];
  int res[kReapBatch];
  for (unsigned i = 0; i < n; i++) {
    rqs[i] = static_cast<request*>(io_uring_cqe_get_data(cqes[i]));
    res[i] = cqes[i]->res;
  }
  // Free the CQ slots before ending requests: a bi_end_io may submit more I/O.
  io_uring_cq_advance(ring_.get(), n);
  ring_inflight_.fetch_sub(static_cast<int>(n), std::memory_order_acq_rel);
  if (!end_requests) return n;
  // The batch completes as one: waiters that opted in (wake_defer()) wake once, at its
  // end, to all of it - as the host posts one task_work batch of CQEs before waking.
  WakeBatch batch;
  for (unsigned i = 0; i < n; i++) {
    request* rq = rqs[i];
    tsan_handoff_acquire(rq);
    end_request(rq, cqe_status(rq, res[i]));
  }
  return n;
}

int uring_disk::poll(bool spin) {
  poll_queue* q = poll_queue_of(current(), false);
  if (!q || q->inflight == 0) return 0;
  io_uring* ring = q->ring.get();
  io_uring_cqe* cqe = nullptr;
  // Submit and wait in one host call: the host wakes this thread when it completes.
  // @spin (IOCB_HIPRI) changes nothing here: the host rings are not IOPOLL, so the host
  // posts a completion from its interrupt whatever we do, and a thread spinning on the CQ
  // ring only takes a core from the other jobs (bench/fio_latency.sh hipri: spinning
  // 0.74x real fio's IOPS, this wait 0.97x). The kernel does the same for a queue that
  // cannot poll: it drops REQ_POLLED and the waiter sleeps.
  (void)spin;
  for (;;) {
    const unsigned pending = q->pending;
    const int ret = io_uring_submit_and_wait(ring, 1);
    if (ret >= 0) {
      if (pending && ret > 0) ring_submits_.fetch_add(1, std::memory_order_relaxed);
      q->pending -= std::min<unsigned>(pending, static_cast<unsigned>(ret));
      if (io_uring_peek_cqe(ring, &cqe) == 0) break;
      continue;
    }
    BUG_ON_MSG(ret != -EINTR && ret != -EAGAIN && ret != -EBUSY,
               fmt::format("io_uring_submit_and_wait: {}", errname(ret)));
    throw_if_halted();
  }
  io_uring_cqe* cqes[kReapBatch];
  const unsigned n = io_uring_peek_batch_cqe(ring, cqes, kReapBatch);
  request* rqs[kReapBatch];
  int res[kReapBatch];
  for (unsigned i = 0; i < n; i++) {
    rqs[i] = static_cast<request*>(io_uring_cqe_get_data(cqes[i]));
    res[i] = cqes[i]->res;
  }
  io_uring_cq_advance(ring, n);
  q->inflight -= n;
  // Give the queue back once nothing of ours is in it, before the completions: a
  // bi_end_io may queue more polled I/O, which then claims a queue again.
  if (q->inflight == 0) q->owner.store(nullptr, std::memory_order_release);
  polled_.fetch_add(n, std::memory_order_relaxed);
  WakeBatch batch;
  for (unsigned i = 0; i < n; i++) end_polled_request(rqs[i], cqe_status(rqs[i], res[i]));
  return static_cast<int>(n);
}

void uring_disk::completion_loop() {
  for (;;) {
    wait_event(&ring_wait_, [this] {
      return ring_inflight_.load(std::memory_order_acquire) > 0 || kthread_should_stop();
    });
    if (ring_inflight_.load(std::memory_order_acquire) <= 0) {
      if (kthread_should_stop()) return;
      continue;
    }
    // Something is at the host, so a CQE will come: block in the host kernel for it.
    reap(true);
    throw_if_halted();
  }
}

}  // namespace guplab
