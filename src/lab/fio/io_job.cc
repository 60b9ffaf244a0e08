// io_job.cc - one fio job's I/O loop over the model's O_DIRECT path.
#include "lab/fio/io_job.h"

#include <sys/resource.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "base/spinlock.h"
#include "base/task.h"
#include "base/wait.h"
#include "base/wake_batch.h"
#include "block/blkdev.h"
#include "fs/direct-io.h"
#include "machine/machine.h"
#include "lab/fio/io_plan.h"
#include "mm/fork.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"
#include "base/bug.h"

namespace guplab::fio {

namespace {

class DoneQueue;

/** One I/O unit: a buffer and the kiocb that uses it (fio's io_u). */
struct IoSlot {
  kiocb iocb;
  DoneQueue* done = nullptr;
  unsigned long ubuf = 0;
  PlannedIo io;
  uint64_t start_ns = 0;  // queued
  uint64_t issue_ns = 0;  // its submission batch ended
  long res = 0;
  IoSlot* next = nullptr;  // on the free list or the done list
};

/**
 * DoneQueue - completed slots, pushed by ki_complete in the device's completion task
 * and taken all at once by the job. The job sleeps only on an empty queue, so only a
 * push onto an empty queue needs to wake it.
 */
class DoneQueue {
 public:
  DoneQueue() {
    spin_lock_init(&lock_, "fio done");
    init_waitqueue_head(&wq_, "fio reap");
  }
  ~DoneQueue() {
    // The last ki_complete may still be between its push and its return (a few
    // instructions; a halted machine's completion task may never get there).
    const Machine* m = current()->machine;
    while (pushing_.load(std::memory_order_acquire) != 0 && !m->halted()) cond_resched();
  }

  /**
   * push() - @s completed. Runs in the completion task. When the device ends a batch of
   * requests inside a WakeBatch (the uring device does, per batch of CQEs), the job is
   * woken once at the end of it and reaps the batch whole, as fio reaps a CQ ring.
   */
  void push(IoSlot* s) {
    pushing_.fetch_add(1, std::memory_order_relaxed);
    bool was_empty;
    {
      SpinGuard g(&lock_);
      was_empty = head_ == nullptr;
      s->next = head_;
      head_ = s;
    }
    if (was_empty) {
      pushing_.fetch_add(1, std::memory_order_relaxed);  // the wake-up's own hold
      if (!wake_defer(&DoneQueue::wake, this)) wake(this);
    }
    pushing_.fetch_sub(1, std::memory_order_release);  // our last touch of the queue
  }

  /** wake() - wake the job (maybe deferred to the end of a WakeBatch); lets go of @q last. */
  static void wake(void* q) {
    auto* dq = static_cast<DoneQueue*>(q);
    wake_up(&dq->wq_);
    dq->pushing_.fetch_sub(1, std::memory_order_release);
  }

  /** try_take() - everything completed so far, or nullptr; never sleeps. */
  IoSlot* try_take() {
    SpinGuard g(&lock_);
    return std::exchange(head_, nullptr);
  }

  /** take() - everything completed so far, sleeping until there is something. */
  IoSlot* take() {
    IoSlot* got = nullptr;
    wait_event(&wq_, [&] {
      SpinGuard g(&lock_);
      got = head_;
      head_ = nullptr;
      return got != nullptr;
    });
    return got;
  }

 private:
  spinlock_t lock_;
  IoSlot* head_ GUARDED_BY(lock_) = nullptr;
  wait_queue_head_t wq_;
  std::atomic<int> pushing_{0};
};

void fio_ki_complete(kiocb* iocb, long res) {
  auto* s = static_cast<IoSlot*>(iocb->ki_private);
  s->res = res;
  s->done->push(s);
}

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

struct rusage thread_rusage() {
  struct rusage ru {};
  getrusage(RUSAGE_THREAD, &ru);
  return ru;
}

/** The loop of one job, once its buffers exist. */
class JobDriver {
 public:
  JobDriver(const JobContext& ctx, JobStats* st, JobLive* live, mm_struct* mm, unsigned depth, unsigned long base,
            uint64_t buf_stride)
      : ctx_(ctx),
        job_(*ctx.spec),
        st_(st),
        live_(live),
        mm_(mm),
        plan_(job_, ctx.region_bytes, ctx.seed),
        slots_(depth),
        poll_(ctx.file->bdev && ctx.file->bdev->can_poll() && (job_.iodepth == 1 || job_.hipri)) {
    const uint64_t blocks_per_pass = plan_.nr_blocks();
    total_ios_ = job_.time_based ? UINT64_MAX : blocks_per_pass * job_.loops;
    runtime_ns_ = static_cast<uint64_t>(job_.runtime.count()) * NSEC_PER_USEC;
    for (unsigned i = 0; i < depth; i++) {
      IoSlot& s = slots_[i];
      s.done = &done_;
      s.ubuf = base + i * buf_stride;
      s.next = i + 1 < depth ? &slots_[i + 1] : nullptr;
    }
    free_ = depth ? &slots_[0] : nullptr;
  }

  void run_async();
  void run_sync();

  /** begin() / end() - the I/O phase's clock and CPU use. */
  void begin() {
    ru_start_ = thread_rusage();
    start_ns_ = ktime_get_ns();
    atomic_set(&live_->start_ns, static_cast<int64_t>(start_ns_));
    atomic_set(&live_->state, static_cast<int>(JobState::running));
    sampler_.start(0, *st_);
  }
  void end() {
    // Whole milliseconds as fio reports them, at least one for a job that ran at all.
    const uint64_t ns = ktime_get_ns() - start_ns_;
    st_->set_runtime_ms(std::max<uint64_t>(1, (ns + NSEC_PER_MSEC / 2) / NSEC_PER_MSEC));
    st_->add_cpu(rusage_delta(ru_start_, thread_rusage()));
  }

 private:
  /** may_issue() - should another I/O be queued, at time @now? */
  bool may_issue(uint64_t now) const {
    if (st_->error) return false;
    if (issued_ >= total_ios_) return false;
    return runtime_ns_ == 0 || now - start_ns_ < runtime_ns_;
  }
  void prepare(IoSlot* s, uint64_t now) {
    s->io = plan_.next();
    s->start_ns = now;
    init_sync_kiocb(&s->iocb, ctx_.file, s->io.offset,
                    (s->io.ddir == Ddir::write ? IOCB_WRITE : IOCB_NONE) | (job_.hipri ? IOCB_HIPRI : IOCB_NONE));
    issued_++;
  }
  /** account() - @s finished at @now with s->res. */
  void account(IoSlot* s, uint64_t now, bool async) {
    const long res = s->res;
    if (ctx_.hook && *ctx_.hook)
      (*ctx_.hook)(IoEvent{ctx_.index, s->io.ddir, s->io.offset, job_.bs, res, mm_, s->ubuf});
    if (res < 0) {
      if (!st_->error) st_->error = static_cast<int>(-res);
      return;
    }
    const uint64_t bytes = static_cast<uint64_t>(res);
    if (bytes < job_.bs) st_->add_short_io(s->io.ddir);
    const uint64_t clat = now - s->issue_ns;
    const uint64_t lat = now - s->start_ns;
    if (async)
      st_->add_io(s->io.ddir, bytes, clat, lat, s->issue_ns - s->start_ns);
    else
      st_->add_io(s->io.ddir, bytes, clat, lat);
    const size_t d = static_cast<size_t>(s->io.ddir);
    atomic_add(static_cast<int64_t>(bytes), &live_->bytes[d]);
    atomic_add(1, &live_->ios[d]);
  }
  void tick(uint64_t now) { sampler_.tick((now - start_ns_) / NSEC_PER_MSEC, *st_); }

  const JobContext& ctx_;
  const JobSpec& job_;
  JobStats* const st_;
  JobLive* const live_;
  mm_struct* const mm_;
  IoPlan plan_;
  std::vector<IoSlot> slots_;
  // Polled async I/O: the device completes it in its submitter, and either the job runs
  // at depth 1 (waiting for its one I/O, as a synchronous job does) or hipri=1 asks.
  // Deeper jobs leave reaping to the completion task, which batches across jobs (per-job
  // polling measured slower for randrw numjobs=2 iodepth=16: README, D-diolat-1).
  const bool poll_;
  IoSlot* free_ = nullptr;
  DoneQueue done_;
  IntervalSampler sampler_;
  uint64_t total_ios_ = 0;
  uint64_t issued_ = 0;
  uint64_t runtime_ns_ = 0;
  uint64_t start_ns_ = 0;
  struct rusage ru_start_ {};
};

void JobDriver::run_async() {
  unsigned inflight = 0;
  std::vector<IoSlot*> batch;
  batch.reserve(slots_.size());
  for (;;) {
    // Fill every free slot and submit the lot under one plug.
    uint64_t now = ktime_get_ns();
    batch.clear();
    if (free_ && may_issue(now)) {
      blk_plug plug;
      blk_start_plug(&plug);
      while (free_ && may_issue(now)) {
        IoSlot* s = free_;
        free_ = s->next;
        prepare(s, now);
        s->iocb.ki_complete = fio_ki_complete;
        s->iocb.ki_private = s;
        // At depth 1 (or with hipri) we reap our own completions where the device lets
        // us (as io_uring completes a read in its submitter's task_work).
        if (poll_) s->iocb.ki_flags |= IOCB_HIPRI;
        const long ret = blockdev_direct_IO(&s->iocb, s->ubuf, job_.bs);
        if (ret == -EIOCBQUEUED) {
          batch.push_back(s);
          inflight++;
        } else {
          // Known at once (an error before any bio went out, or every bio already
          // complete): the call was its whole life, so it is all completion latency.
          s->res = ret;
          s->issue_ns = s->start_ns;
          account(s, ktime_get_ns(), true);
          s->next = free_;
          free_ = s;
        }
        now = ktime_get_ns();
      }
      blk_finish_plug(&plug);
      const uint64_t issued = ktime_get_ns();
      for (IoSlot* s : batch) s->issue_ns = issued;
      if (!batch.empty()) st_->add_submit(static_cast<unsigned>(batch.size()), inflight);
    }
    if (inflight == 0) {
      if (!free_ || !may_issue(ktime_get_ns())) break;
      continue;
    }
    // Reap: at least one, and whatever else has completed by then. Polled I/O completes
    // only in our own bdev_poll(); once none is outstanding, sleep for the rest.
    IoSlot* done = done_.try_take();
    while (!done) {
      if (!poll_ || bdev_poll(ctx_.file->bdev, job_.hipri) <= 0) {
        done = done_.take();
        break;
      }
      done = done_.try_take();
    }
    now = ktime_get_ns();
    unsigned n = 0;
    while (done) {
      IoSlot* s = done;
      done = s->next;
      account(s, now, true);
      s->next = free_;
      free_ = s;
      n++;
    }
    inflight -= n;
    st_->add_complete(n);
    tick(now);
  }
}

void JobDriver::run_sync() {
  IoSlot* s = &slots_[0];
  for (;;) {
    const uint64_t now = ktime_get_ns();
    if (!may_issue(now)) break;
    prepare(s, now);
    s->issue_ns = now;
    st_->add_submit(1, 1);
    s->res = blockdev_direct_IO(&s->iocb, s->ubuf, job_.bs);
    const uint64_t done = ktime_get_ns();
    account(s, done, false);
    st_->add_complete(1);
    tick(done);
  }
}

/** fill_buffers() - fio's default write contents: random bytes, written once per buffer. */
int fill_buffers(mm_struct* mm, unsigned long base, uint64_t bytes, uint64_t seed) {
  Random r(seed ^ 0x5eedb0ffe55ull);
  std::vector<uint64_t> words(static_cast<size_t>(std::min<uint64_t>(bytes, 1 << 20) / 8));
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t n = std::min<uint64_t>(bytes - done, words.size() * 8);
    for (size_t i = 0; i < n / 8; i++) words[i] = r.next_u64();
    if (int err = uaccess_write(mm, base + done, words.data(), static_cast<size_t>(n))) return err;
    done += n;
  }
  return 0;
}

}  // namespace

JobProgress JobLive::snapshot(uint64_t now_ns) const {
  JobProgress p;
  p.state = static_cast<JobState>(atomic_read(&state));
  for (size_t d = 0; d < kNumDdirs; d++) {
    p.io_bytes[d] = static_cast<uint64_t>(atomic_read(&bytes[d]));
    p.ios[d] = static_cast<uint64_t>(atomic_read(&ios[d]));
  }
  const auto start = static_cast<uint64_t>(atomic_read(&start_ns));
  p.elapsed_ms = start && now_ns > start ? (now_ns - start) / NSEC_PER_MSEC : 0;
  return p;
}

bool is_sync_engine(const std::string& e) {
  return e == "sync" || e == "psync" || e == "vsync" || e == "pvsync" || e == "pvsync2";
}

void run_io_job(const JobContext& ctx, JobStats* st, JobLive* live) {
  GUPLAB_CHECK(ctx.spec && ctx.file && ctx.region_bytes >= ctx.spec->bs);
  const JobSpec& job = *ctx.spec;
  task_struct* t = current();
  GUPLAB_CHECK(t && !t->mm);
  st->pid = t->pid;
  atomic_set(&live->state, static_cast<int>(JobState::setting_up));
  const auto fail = [&](int err) {
    st->error = -err;
    atomic_set(&live->state, static_cast<int>(JobState::failed));
  };

  mm_struct* mm = mm_alloc(t->machine);
  if (!mm) return fail(-ENOMEM);
  t->mm = mm;
  const unsigned depth = is_sync_engine(job.ioengine) ? 1 : job.iodepth;
  const uint64_t stride = round_up(job.bs, PAGE_SIZE);
  const uint64_t len = stride * depth;
  // Faulted in up front (written), as fio touches its buffers when it fills them.
  const long addr = vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  int err = addr < 0 ? static_cast<int>(addr) : fill_buffers(mm, static_cast<unsigned long>(addr), len, ctx.seed);
  if (!err) {
    JobDriver d(ctx, st, live, mm, depth, static_cast<unsigned long>(addr), stride);
    d.begin();
    if (is_sync_engine(job.ioengine))
      d.run_sync();
    else
      d.run_async();
    d.end();
  }
  if (addr > 0) vm_munmap(mm, static_cast<unsigned long>(addr), len);
  t->mm = nullptr;
  mmput(mm);
  if (err) return fail(err);
  atomic_set(&live->state, static_cast<int>(st->error ? JobState::failed : JobState::done));
}

}  // namespace guplab::fio
