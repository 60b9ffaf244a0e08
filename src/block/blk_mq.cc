// blk_mq.cc - the queue every block device shares: request table and tags, the
// completion task's life, ending requests, fault injection, counters.
#include <algorithm>

#include "base/preempt.h"
#include "block/blkdev.h"
#include "machine/machine.h"
#include "base/bug.h"

namespace guplab {

namespace {
[[maybe_unused]] bool is_pow2(unsigned x) { return x && !(x & (x - 1)); }
}  // namespace

block_device::block_device(Machine* m, std::string name, sector_t nr_sectors, const queue_limits& lim,
                           unsigned depth)
    : machine_(m),
      name_(std::move(name)),
      nr_sectors_(nr_sectors),
      limits_(lim),
      depth_(depth),
      wake_batch_(std::max(1u, std::min(8u, depth / 8))),
      deferred_wq_("kworker/" + name_),
      rqs_(depth) {
  VM_BUG_ON(!(m && depth >= 1));
  VM_BUG_ON(!(is_pow2(lim.logical_block_size) && lim.logical_block_size >= SECTOR_SIZE));
  VM_BUG_ON(!(lim.max_sectors > 0 && (lim.max_sectors << SECTOR_SHIFT) % lim.logical_block_size == 0));
  VM_BUG_ON(!(lim.max_segments > 0 && lim.dma_alignment + 1 >= 1));
  spin_lock_init(&tag_lock_, "blk tags");
  spin_lock_init(&fault_lock_, "blk fault inject");
  init_waitqueue_head(&tag_wait_, "blk tag wait");
  SpinGuard g(&tag_lock_);
  free_tags_.reserve(depth);
  for (unsigned i = 0; i < depth; i++) {
    rqs_[i].q = this;
    rqs_[i].tag = i;
    free_tags_.push_back(depth - 1 - i);  // hand out tag 0 first
  }
  nr_free_.store(depth, std::memory_order_relaxed);
}

block_device::~block_device() {
  // The driver's destructor must have stopped the device: its completion task runs
  // driver code.
  WARN_ON(completion_task() != nullptr);
}

bool block_device::in_completion_context() const {
  task_struct* t = current();
  return t && t == completion_task();
}

void block_device::start() {
  VM_BUG_ON(!(!completion_task()));
  task_struct* t = machine_->spawn("irq/" + name_, [this] { completion_loop(); });
  completion_task_.store(t, std::memory_order_release);
  deferred_wq_.start([this](const std::string& comm, std::function<void()> body) {
    return machine_->spawn(comm, std::move(body));
  });
}

void block_device::stop() {
  {
    SpinGuard g(&tag_lock_);
    if (offline_ && !completion_task()) return;  // already stopped
    offline_ = true;
  }
  wake_up_all(&tag_wait_);  // sleepers for a tag see the device offline
  try {
    commit_rqs();
    // Requests in flight must end before the completion task goes: they point into
    // the machine's RAM and at their owners' bios. An oopsed machine's tasks are
    // unwinding, so nobody will end them: do not wait then.
    while (!machine_->halted() && nr_free_.load(std::memory_order_acquire) != depth_)
      wait_event_timeout(&tag_wait_, [this] { return nr_free_.load(std::memory_order_acquire) == depth_; },
                         100 * NSEC_PER_MSEC);
  } catch (const MachineHalted&) {
  }
  // What the completions of those requests deferred (pins to release) runs now.
  deferred_wq_.destroy();
  should_stop_.store(true, std::memory_order_release);
  wake_completion_task();
  if (task_struct* t = completion_task_.exchange(nullptr, std::memory_order_acq_rel)) task_join(t);
}

void block_device::sim_run_ended() {
  SpinGuard g(&tag_lock_);
  offline_ = true;
  completion_task_.store(nullptr, std::memory_order_release);
  deferred_wq_.abandon();
}

request* block_device::get_request(bool nowait, bool* offline) {
  *offline = false;
  for (;;) {
    {
      SpinGuard g(&tag_lock_);
      if (offline_) {
        *offline = true;
        return nullptr;
      }
      if (!free_tags_.empty()) {
        const unsigned tag = free_tags_.back();
        free_tags_.pop_back();
        const unsigned nfree = static_cast<unsigned>(free_tags_.size());
        nr_free_.store(nfree, std::memory_order_relaxed);
        const unsigned inflight = depth_ - nfree;
        if (inflight > st_.max_inflight.load(std::memory_order_relaxed))
          st_.max_inflight.store(inflight, std::memory_order_relaxed);
        return &rqs_[tag];
      }
    }
    if (nowait) return nullptr;
    // Requests batched in our own plug hold tags: start them before sleeping, or the
    // slot we wait for may be one of ours.
    if (task_struct* t = current(); t && t->plug) blk_flush_plug(t->plug);
    // Our own polled requests hold tags that only we can free: reap them instead.
    if (can_poll() && poll(false) > 0) continue;
    wait_event(&tag_wait_, [this] {
      if (nr_free_.load(std::memory_order_acquire) > 0) return true;
      SpinGuard g(&tag_lock_);
      return offline_;
    });
  }
}

void block_device::put_request(request* rq) {
  rq->rq_bio = nullptr;
  rq->rq_next = nullptr;
  unsigned nfree;
  {
    SpinGuard g(&tag_lock_);
    free_tags_.push_back(rq->tag);
    nfree = static_cast<unsigned>(free_tags_.size());
    nr_free_.store(nfree, std::memory_order_release);
  }
  // Wake sleepers in batches (as sbitmap does): they are woken once a few slots are
  // free, not once per completion. Every request in flight ends eventually, so the
  // count always reaches the batch size.
  if (nfree >= wake_batch_ || nfree == depth_) wake_up_all(&tag_wait_);
}

unsigned block_device::nr_inflight() const { return depth_ - nr_free_.load(std::memory_order_acquire); }

blk_dev_stats block_device::stats() const {
  blk_dev_stats s;
  s.reads = st_.reads.load(std::memory_order_relaxed);
  s.writes = st_.writes.load(std::memory_order_relaxed);
  s.flushes = st_.flushes.load(std::memory_order_relaxed);
  s.read_bytes = st_.read_bytes.load(std::memory_order_relaxed);
  s.write_bytes = st_.write_bytes.load(std::memory_order_relaxed);
  s.completed = st_.completed.load(std::memory_order_relaxed);
  s.errors = st_.errors.load(std::memory_order_relaxed);
  s.injected = st_.injected.load(std::memory_order_relaxed);
  s.splits = st_.splits.load(std::memory_order_relaxed);
  s.max_inflight = st_.max_inflight.load(std::memory_order_relaxed);
  const workqueue_stats w = deferred_wq_.stats();
  s.deferred = w.queued;
  s.deferred_done = w.done;
  return s;
}

void block_device::set_fault_inject(const blk_fault_inject& fi) {
  SpinGuard g(&fault_lock_);
  fault_ = fi;
  fault_seen_ = 0;
  fault_on_.store(fi.fail_nth != 0 || fi.fail_nr_sectors != 0, std::memory_order_release);
}

blk_status_t block_device::fault_check(const bio* b) {
  if (likely(!fault_on_.load(std::memory_order_acquire))) return BLK_STS_OK;
  const blk_opf_t op = bio_op(b);
  SpinGuard g(&fault_lock_);
  const bool match = (op == REQ_OP_READ && fault_.reads) || (op == REQ_OP_WRITE && fault_.writes) ||
                     (op == REQ_OP_FLUSH && fault_.flushes);
  if (!match) return BLK_STS_OK;
  bool fail = false;
  if (fault_.fail_nth && ++fault_seen_ == fault_.fail_nth) {
    fail = true;
    fault_.fail_nth = 0;  // once
  }
  if (fault_.fail_nr_sectors) {
    const sector_t s = b->bi_iter.bi_sector, e = bio_end_sector(b);
    const sector_t fs = fault_.fail_sector, fe = fault_.fail_sector + fault_.fail_nr_sectors;
    if (s < fe && fs < std::max(e, s + 1)) fail = true;  // a flush (no sectors) matches at its sector
  }
  fault_on_.store(fault_.fail_nth != 0 || fault_.fail_nr_sectors != 0, std::memory_order_release);
  if (!fail) return BLK_STS_OK;
  st_.injected.fetch_add(1, std::memory_order_relaxed);
  return BLK_STS_IOERR;
}

void block_device::end_request(request* rq, blk_status_t error) {
  VM_BUG_ON(!(in_completion_context()));
  end_polled_request(rq, error);
}

void block_device::end_polled_request(request* rq, blk_status_t error) {
  bio* b = rq->rq_bio;
  st_.completed.fetch_add(1, std::memory_order_relaxed);
  if (error != BLK_STS_OK) {
    st_.errors.fetch_add(1, std::memory_order_relaxed);
    b->bi_status = error;
  }
  // The slot is free before the owner hears of it, so a bi_end_io that submits more
  // I/O finds room. Both run in interrupt context: a bi_end_io must not sleep.
  IrqContext irq;
  put_request(rq);
  bio_endio(b);
}

}  // namespace guplab
