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
#include "lab/fio/verify.h"
#include "block/bio.h"
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
  uint64_t numberio = 0;  // the write's number in the job (verify headers)
  bool verifying = false; // a read-back of the verify phase
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

  /** peek() - has anything completed? */
  bool peek() {
    SpinGuard g(&lock_);
    return head_ != nullptr;
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
        slots_(depth),
        poll_bdev_(ctx.files.size() == 1 ? ctx.files[0].file->bdev : nullptr),
        poll_(poll_bdev_ && poll_bdev_->can_poll()) {
    for (size_t f = 0; f < ctx.files.size(); f++) {
      plans_.emplace_back(job_, ctx.files[f].region_bytes, ctx.seed + f);
      const uint64_t limit = job_.time_based ? UINT64_MAX : plans_.back().pass_bytes() * job_.loops;
      file_left_.push_back(limit);
    }
    runtime_ns_ = static_cast<uint64_t>(job_.runtime.count()) * NSEC_PER_USEC;
    ramp_ns_ = static_cast<uint64_t>(job_.ramp_time.count()) * NSEC_PER_USEC;
    ramped_ = ramp_ns_ == 0;
    verify_ = job_.verify != VerifyType::none;
    interval_ = job_.min_bs();
    for (unsigned i = 0; i < depth; i++) {
      IoSlot& s = slots_[i];
      s.done = &done_;
      s.ubuf = base + i * buf_stride;
      s.next = i + 1 < depth ? &slots_[i + 1] : nullptr;
    }
    free_ = depth ? &slots_[0] : nullptr;
  }

  /** verify_phase() - with verify and do_verify, after a write phase: read back every write. */
  bool start_verify_phase() {
    if (verifying_ || !verify_ || !job_.do_verify || vlog_.empty() || st_->error) return false;
    verifying_ = true;
    vnext_ = 0;
    return true;
  }

  void run_async();
  void run_sync();

  /**
   * take_polled() - at least one completed slot (a list), and whatever else has completed
   * by then. Polled I/O completes only in our own bdev_poll(); once none is outstanding,
   * sleep for the rest.
   */
  IoSlot* take_polled() {
    IoSlot* done = done_.try_take();
    while (!done) {
      if (!poll_ || bdev_poll(poll_bdev_, job_.hipri) <= 0) return done_.take();
      done = done_.try_take();
    }
    return done;
  }

  /** begin() / end() - the I/O phase's clock and CPU use. */
  void begin() {
    ru_start_ = thread_rusage();
    start_ns_ = ktime_get_ns();
    stats_start_ns_ = start_ns_;
    atomic_set(&live_->start_ns, static_cast<int64_t>(start_ns_));
    atomic_set(&live_->state, static_cast<int>(JobState::running));
    sampler_.start(0, *st_);
  }
  void end() {
    // Whole milliseconds as fio reports them, at least one for a job that ran at all.
    const uint64_t ns = ktime_get_ns() - stats_start_ns_;
    st_->set_runtime_ms(std::max<uint64_t>(1, (ns + NSEC_PER_MSEC / 2) / NSEC_PER_MSEC));
    st_->add_cpu(rusage_delta(ru_start_, thread_rusage()));
  }

 private:
  /** pick_file() - the next file with bytes left, round robin; -1 if none. */
  int pick_file() {
    const size_t n = plans_.size();
    for (size_t k = 0; k < n; k++) {
      const size_t f = (rr_ + k) % n;
      if (file_left_[f] > 0) {
        rr_ = (f + 1) % n;
        return static_cast<int>(f);
      }
    }
    return -1;
  }
  /** may_issue() - should another I/O be queued, at time @now? */
  bool may_issue(uint64_t now) const {
    if (st_->error) return false;
    if (verifying_) return vnext_ < vlog_.size();
    bool left = false;
    for (uint64_t b : file_left_) left = left || b > 0;
    if (!left) return false;
    return runtime_ns_ == 0 || now - start_ns_ < ramp_ns_ + runtime_ns_;
  }
  /** throttle() - rate_iops: sleep until the next I/O is due. Returns the time then (@now if it did not wait). */
  uint64_t throttle(uint64_t now) {
    if (!job_.rate_iops || verifying_) return now;
    const uint64_t due = start_ns_ + issued_ * NSEC_PER_SEC / job_.rate_iops;
    now = ktime_get_ns();
    if (due <= now) return now;
    sleep_ns(due - now);
    return ktime_get_ns();
  }
  /** prepare() - the next I/O into @s. REQUIRES: may_issue(). Returns its verify error, if any. */
  int prepare(IoSlot* s, uint64_t now) {
    s->verifying = verifying_;
    if (verifying_) {
      s->io = vlog_[vnext_++];
      s->io.ddir = Ddir::read;
    } else {
      const int f = pick_file();
      GUPLAB_CHECK(f >= 0);
      s->io = plans_[static_cast<size_t>(f)].next();
      s->io.file = static_cast<unsigned>(f);
      uint64_t& left = file_left_[static_cast<size_t>(f)];
      if (left != UINT64_MAX) left -= std::min(left, s->io.len);
      issued_++;
    }
    s->start_ns = now;
    init_sync_kiocb(&s->iocb, ctx_.files[s->io.file].file, s->io.offset,
                    (s->io.ddir == Ddir::write ? IOCB_WRITE : IOCB_NONE) | (job_.hipri ? IOCB_HIPRI : IOCB_NONE));
    if (s->io.ddir == Ddir::write) {
      s->numberio = numberio_++;
      if (verify_) {
        if (int err = write_headers(s)) return err;
        if (job_.do_verify) vlog_.push_back(s->io);
      }
    }
    return 0;
  }
  /** write_headers() - fio's verify headers into @s's buffer (a user store, as fio's CPU fills it). */
  int write_headers(IoSlot* s) {
    vbuf_.resize(s->io.len);
    if (int err = uaccess_read(mm_, s->ubuf, vbuf_.data(), vbuf_.size())) return err;
    fill_verify(vbuf_, interval_, job_.verify, block_of(s));
    return uaccess_write(mm_, s->ubuf, vbuf_.data(), vbuf_.size());
  }
  VerifyBlock block_of(const IoSlot* s) const {
    return VerifyBlock{ctx_.files[s->io.file].name, s->io.offset, ctx_.seed, s->numberio};
  }
  /** check_read() - verify what @s read, if this read is checked. */
  void check_read(IoSlot* s) {
    if (!verify_ || s->io.ddir != Ddir::read) return;
    // As fio: a mixed read/write job checks only its verify phase; a read-only job checks every read.
    if (!s->verifying && does_write(job_.rw)) return;
    vbuf_.resize(s->io.len);
    if (int err = uaccess_read(mm_, s->ubuf, vbuf_.data(), vbuf_.size())) {
      if (!st_->error) st_->error = -err;
      return;
    }
    VerifyBlock blk = block_of(s);
    if (!s->verifying) blk.seed = 0;  // another job (or run) wrote it
    if (auto bad = check_verify(vbuf_, interval_, job_.verify, blk)) {
      if (!st_->error) {
        st_->error = EILSEQ;
        st_->verify_error = *bad;
      }
    }
  }
  /** maybe_ramped() - once ramp_time has passed, the stats start over (fio's ramp). */
  void maybe_ramped(uint64_t now) {
    if (ramped_ || now - start_ns_ < ramp_ns_) return;
    ramped_ = true;
    JobStats fresh;
    fresh.pid = st_->pid;
    fresh.error = st_->error;
    fresh.verify_error = st_->verify_error;
    *st_ = std::move(fresh);
    for (size_t d = 0; d < kNumDdirs; d++) {
      atomic_set(&live_->bytes[d], 0);
      atomic_set(&live_->ios[d], 0);
    }
    stats_start_ns_ = now;
    ru_start_ = thread_rusage();
    sampler_.start(0, *st_);
  }
  /** fsync_due() - fsync=N: has the write just issued made N since the last sync, and is
   *  more I/O of the write phase to come (fio syncs before the next I/O, so not after the last)? */
  bool fsync_due(const IoSlot* s) {
    if (!job_.fsync || s->verifying || s->io.ddir != Ddir::write) return false;
    return ++writes_since_sync_ % job_.fsync == 0 && may_issue(ktime_get_ns()) && !verifying_;
  }
  /** do_fsync() - flush the file's device and time it. REQUIRES: nothing in flight. */
  void do_fsync(unsigned file) {
    const uint64_t t0 = ktime_get_ns();
    bio* b = bio_alloc(ctx_.files[file].file->bdev, 0, REQ_OP_FLUSH | REQ_SYNC);
    const int err = submit_bio_wait(b);
    bio_put(b);
    if (err && !st_->error) st_->error = -err;
    st_->add_sync(ktime_get_ns() - t0);
  }
  /** account() - @s finished at @now with s->res. */
  void account(IoSlot* s, uint64_t now, bool async) {
    const long res = s->res;
    if (ctx_.hook && *ctx_.hook)
      (*ctx_.hook)(IoEvent{ctx_.index, s->io.ddir, s->io.offset, s->io.len, s->io.file,
                           ctx_.files[s->io.file].file->bdev, s->verifying, res, mm_, s->ubuf});
    maybe_ramped(now);
    if (res < 0) {
      if (!st_->error) st_->error = static_cast<int>(-res);
      return;
    }
    const uint64_t bytes = static_cast<uint64_t>(res);
    if (bytes < s->io.len) st_->add_short_io(s->io.ddir);
    else check_read(s);
    const uint64_t clat = now - s->issue_ns;
    const uint64_t lat = now - s->start_ns;
    if (!ramped_)
      st_->add_ramp_io(s->io.ddir, bytes);
    else if (async)
      st_->add_io(s->io.ddir, bytes, clat, lat, s->issue_ns - s->start_ns);
    else
      st_->add_io(s->io.ddir, bytes, clat, lat);
    const size_t d = static_cast<size_t>(s->io.ddir);
    atomic_add(static_cast<int64_t>(bytes), &live_->bytes[d]);
    atomic_add(1, &live_->ios[d]);
  }
  void tick(uint64_t now) { sampler_.tick((now - stats_start_ns_) / NSEC_PER_MSEC, *st_); }

  const JobContext& ctx_;
  const JobSpec& job_;
  JobStats* const st_;
  JobLive* const live_;
  mm_struct* const mm_;
  std::vector<IoPlan> plans_;
  std::vector<uint64_t> file_left_;  // bytes each file has still to move (UINT64_MAX: time_based)
  size_t rr_ = 0;
  std::vector<IoSlot> slots_;
  // Polled async I/O, at any depth: the device completes it in its submitter, as the
  // host completes a job's io_uring I/O in the job's own task work (randrw numjobs=2
  // iodepth=16: 1.15x real fio polled, 0.76-0.85x reaped by the completion task).
  block_device* const poll_bdev_;  // the one file's device (polling is for single-file jobs)
  const bool poll_;
  IoSlot* free_ = nullptr;
  DoneQueue done_;
  IntervalSampler sampler_;
  uint64_t issued_ = 0;
  uint64_t runtime_ns_ = 0;
  uint64_t ramp_ns_ = 0;
  bool ramped_ = true;
  uint64_t start_ns_ = 0;        // the job's I/O began
  uint64_t stats_start_ns_ = 0;  // the stats began (after ramp_time)
  bool verify_ = false;
  uint64_t interval_ = 0;
  std::vector<PlannedIo> vlog_;  // writes to read back, in issue order
  size_t vnext_ = 0;
  bool verifying_ = false;
  uint64_t numberio_ = 0;
  uint64_t writes_since_sync_ = 0;
  std::vector<uint8_t> vbuf_;
  struct rusage ru_start_ {};
};

void JobDriver::run_async() {
  const unsigned depth = static_cast<unsigned>(slots_.size());
  // fio: iodepth_batch_submit 0 (or past iodepth) means iodepth.
  const unsigned batch_submit =
      job_.iodepth_batch_submit == 0 || job_.iodepth_batch_submit > depth ? depth : job_.iodepth_batch_submit;
  const unsigned complete_min = std::min(job_.iodepth_batch_complete_min, depth);
  // fio: an unset iodepth_batch_complete_max, or one below the min, is the min; a reap
  // that must wait takes at least one (fio's default reaps one at a time).
  const unsigned complete_max = std::max({job_.iodepth_batch_complete_max, complete_min, 1u});
  unsigned inflight = 0;
  unsigned nfree = depth;
  bool need_sync = false;
  unsigned sync_file = 0;
  std::vector<IoSlot*> batch;
  batch.reserve(slots_.size());
  std::vector<IoSlot*> reaped;  // completed, not yet accounted (beyond complete_max)
  uint64_t now = ktime_get_ns();  // read again after whatever takes time: an fsync, a commit, a reap
  for (;;) {
    if (need_sync && inflight == 0) {
      do_fsync(sync_file);
      need_sync = false;
      now = ktime_get_ns();
    }
    batch.clear();
    if (!need_sync && free_ && may_issue(now) && (nfree >= batch_submit || inflight == 0)) {
      now = throttle(now);
      blk_plug plug;
      blk_start_plug(&plug);
      size_t committed = 0;  // batch[0, committed) went out with an earlier commit
      // A commit: the plug's requests go to the device, and fio stamps its I/Os issued and
      // counts one submit call (its "submit" histogram and the depth it left). Returns the
      // time after it (the clock read once).
      const auto commit = [&] {
        blk_finish_plug(&plug);
        const uint64_t issued = ktime_get_ns();
        if (committed == batch.size()) return issued;
        st_->add_submit(static_cast<unsigned>(batch.size() - committed), inflight);
        for (; committed < batch.size(); committed++) batch[committed]->issue_ns = issued;
        return issued;
      };
      while (free_ && may_issue(now) && !need_sync) {
        IoSlot* s = free_;
        free_ = s->next;
        nfree--;
        if (int err = prepare(s, now)) {
          if (!st_->error) st_->error = -err;
          s->next = free_;
          free_ = s;
          nfree++;
          break;
        }
        s->iocb.ki_complete = fio_ki_complete;
        s->iocb.ki_private = s;
        // We reap our own completions where the device lets us (as io_uring completes a
        // read in its submitter's task_work).
        if (poll_) s->iocb.ki_flags |= IOCB_HIPRI;
        const long ret = blockdev_direct_IO(&s->iocb, s->ubuf, s->io.len);
        if (fsync_due(s)) {
          need_sync = true;
          sync_file = s->io.file;
        }
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
          nfree++;
        }
        if (job_.rate_iops) break;  // one at a time, so throttle() spaces them
        if (batch.size() % batch_submit == 0) {  // as fio commits every iodepth_batch_submit I/Os
          now = commit();
          blk_start_plug(&plug);
        } else {
          now = ktime_get_ns();
        }
      }
      commit();
    }
    if (inflight == 0) {
      if (need_sync) continue;
      if (free_ && may_issue(ktime_get_ns())) continue;
      if (start_verify_phase()) continue;
      break;
    }
    if (complete_min == 0 && !need_sync && free_ && nfree >= batch_submit && reaped.empty() && !done_.peek() &&
        may_issue(ktime_get_ns()))
      continue;  // iodepth_batch_complete_min=0: nothing to reap yet, keep submitting
    // Reap: at least complete_min (one if nothing can be submitted meanwhile), at most complete_max.
    const unsigned want = std::max(1u, std::min(complete_min, inflight));
    while (reaped.size() < want) {
      for (IoSlot* d = take_polled(); d; d = d->next) reaped.push_back(d);
    }
    now = ktime_get_ns();
    const size_t n = std::min<size_t>(complete_max, reaped.size());
    for (size_t k = 0; k < n; k++) {
      IoSlot* s = reaped[reaped.size() - 1 - k];
      account(s, now, true);
      s->next = free_;
      free_ = s;
    }
    reaped.resize(reaped.size() - n);
    nfree += static_cast<unsigned>(n);
    inflight -= static_cast<unsigned>(n);
    st_->add_complete(static_cast<unsigned>(n));
    tick(now);
  }
}

void JobDriver::run_sync() {
  IoSlot* s = &slots_[0];
  for (;;) {
    const uint64_t t0 = ktime_get_ns();
    if (!may_issue(t0)) {
      if (start_verify_phase()) continue;
      break;
    }
    const uint64_t now = throttle(t0);
    if (!may_issue(now)) continue;
    if (int err = prepare(s, now)) {
      if (!st_->error) st_->error = -err;
      break;
    }
    s->issue_ns = now;
    st_->add_submit(1, 1);
    s->res = blockdev_direct_IO(&s->iocb, s->ubuf, s->io.len);
    const uint64_t done = ktime_get_ns();
    account(s, done, false);
    st_->add_complete(1);
    tick(done);
    if (fsync_due(s)) do_fsync(s->io.file);
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
  GUPLAB_CHECK(ctx.spec && !ctx.files.empty());
  for (const JobFileTarget& f : ctx.files) GUPLAB_CHECK(f.file && f.region_bytes >= ctx.spec->max_bs());
  const JobSpec& job = *ctx.spec;
  task_struct* t = current();
  GUPLAB_CHECK(t && !t->mm);
  st->pid = t->pid;
  atomic_set(&live->state, static_cast<int>(JobState::setting_up));
  const auto fail = [&](int err) {
    st->error = -err;
    atomic_set(&live->state, static_cast<int>(JobState::failed));
  };

  if (job.startdelay.count() > 0) sleep_ns(static_cast<uint64_t>(job.startdelay.count()) * NSEC_PER_USEC);
  mm_struct* mm = mm_alloc(t->machine);
  if (!mm) return fail(-ENOMEM);
  t->mm = mm;
  const unsigned depth = is_sync_engine(job.ioengine) ? 1 : job.iodepth;
  const uint64_t stride = round_up(job.max_bs(), PAGE_SIZE);
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
