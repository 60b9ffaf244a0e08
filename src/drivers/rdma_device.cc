// rdma_device.cc - registering, writing and deregistering a long-term pinned range.
#include "base/buggify.h"
#include "drivers/rdma_device.h"

#include <fmt/format.h>


#include "base/clock.h"
#include "base/errno.h"
#include "base/random.h"
#include "base/task.h"
#include "drivers/dev_trace.h"
#include "drivers/iommu.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/gup.h"
#include "mm/memory_model.h"
#include "mm/mm_struct.h"
#include "mm/pin_design.h"
#include "base/bug.h"

namespace guplab {

RdmaDevice::RdmaDevice(Machine* m, StampClock* clock, rdma_config cfg)
    : m_(m),
      clock_(clock),
      cfg_(std::move(cfg)),
      sp_reg_done_(cfg_.name + sp::kDevRegMrDone),
      sp_write_begin_(cfg_.name + sp::kDevWriteBegin),
      sp_chunk_(cfg_.name + sp::kDevChunk),
      sp_write_end_(cfg_.name + sp::kDevWriteEnd),
      sp_dereg_begin_(cfg_.name + sp::kDevDeregBegin),
      sp_dereg_done_(cfg_.name + sp::kDevDeregDone),
      domain_(m->iommu().domain_alloc(cfg_.name)) {
  VM_BUG_ON(!(m_ && clock_));
  VM_BUG_ON(!(cfg_.writer != 0 && "writer 0 is the task's own stores"));
  spin_lock_init(&lock_, "rdma_device");
  listener_.mn.ops = &kNotifierOps;
  listener_.dev = this;
  lease_.fl_lmops = &kLeaseOps;
  lease_.fl_owner = this;
}

RdmaDevice::~RdmaDevice() {
  VM_BUG_ON(!(!task_ && "join() the device's task first"));
  VM_BUG_ON(!(!registered() && "dereg_mr() before destroying the device"));
  m_->iommu().domain_free(domain_);
}

const mmu_notifier_ops RdmaDevice::kNotifierOps = {
    .release = &RdmaDevice::notifier_release,
    .invalidate_range_start = &RdmaDevice::notifier_start,
    .invalidate_range_end = nullptr,
};

const lease_manager_operations RdmaDevice::kLeaseOps = {
    .lm_break = &RdmaDevice::lease_break,
    .lm_revoked = &RdmaDevice::lease_revoked,
};

void RdmaDevice::trace(const std::string& what) const { dev_trace(m_, fmt::format("{}: {}", cfg_.name, what)); }

int RdmaDevice::reg_mr(unsigned long addr, unsigned long npages) {
  [[maybe_unused]] task_struct* t = current();  // (asserted on)
  VM_BUG_ON(!(t && t->mm && "reg_mr() runs in the registering process"));
  VM_BUG_ON(!((addr & ~PAGE_MASK) == 0 && npages > 0));
  VM_BUG_ON(!(!registered()));
  {
    SpinGuard g(&lock_);
    addr_ = addr;  // the notifier looks at the range from here on
    span_ = npages;
    nr_ = 0;
    revoked_ = false;
    lease_broken_ = false;
    events_.clear();
  }
  if (cfg_.listens) {
    if (int err = mmu_notifier_register(&listener_.mn, t->mm)) {
      trace(fmt::format("reg_mr: mmu_notifier_register: {}", errname(err)));
      return err;
    }
    mm_ = t->mm;
  }
  auto fail = [&](int err) {
    if (mm_) mmu_notifier_unregister(&listener_.mn, mm_);
    mm_ = nullptr;
    SpinGuard g(&lock_);
    span_ = 0;
    return err;
  };
  std::vector<page*> pages(npages, nullptr);
  foll_flags flags = FOLL_WRITE;
  if (cfg_.longterm) flags |= FOLL_LONGTERM;
  for (int attempt = 0;; attempt++) {
    if (attempt == 3) {
      trace(fmt::format("reg_mr {:#x} +{} pages: invalidated while pinning, 3 times", addr, npages));
      return fail(-EAGAIN);
    }
    uint64_t seq;
    {
      SpinGuard g(&lock_);
      seq = inval_seq_;
    }
    long got;
    if (cfg_.fast) {
      got = pin_user_pages_fast(addr, static_cast<int>(npages), flags, pages.data());
    } else {
      // Seed 001's conversion: the unlocked form lets a fault drop mmap_lock (I/O, userfaultfd).
      got = pin_user_pages_unlocked(addr, npages, pages.data(), flags);
    }
    if (got < 0) {
      trace(fmt::format("reg_mr {:#x} +{} pages: {}", addr, npages, errname(static_cast<int>(got))));
      return fail(static_cast<int>(got));
    }
    if (static_cast<unsigned long>(got) != npages) {
      unpin_user_pages(pages.data(), static_cast<unsigned long>(got));
      trace(fmt::format("reg_mr {:#x} +{} pages: short pin ({}), released", addr, npages, got));
      return fail(-EFAULT);
    }
    std::vector<unsigned long> pfns(npages);
    for (unsigned long i = 0; i < npages; i++) pfns[i] = page_to_pfn(pages[i]);
    {
      SpinGuard g(&lock_);
      if (inval_seq_ == seq) {
        // The IOMMU is programmed before the pages are published: a revoke that finds
        // them finds their entries too.
        m_->iommu().map(domain_, 0, pfns.data(), npages);
        nr_ = npages;
        pages_ = std::move(pages);
        last_.assign(npages, rdma_write_record{});
        break;
      }
    }
    // The range was invalidated while we pinned it: what we hold may be stale.
    unpin_user_pages(pages.data(), npages);
    trace(fmt::format("reg_mr {:#x} +{} pages: invalidated while pinning, again", addr, npages));
  }
  trace(fmt::format("reg_mr {:#x} +{} pages: pinned pfn {:#x}{}{}", addr, npages, page_to_pfn(pinned_page(0)),
                    npages > 1 ? ".." : "", cfg_.listens ? ", mmu notifier registered" : ""));
  TEST_SYNC_POINT(sp_reg_done_.c_str());
  return 0;
}

bool RdmaDevice::registered() const {
  SpinGuard g(&lock_);
  return nr_ != 0;
}

unsigned long RdmaDevice::nr_pages() const {
  SpinGuard g(&lock_);
  return nr_;
}

page* RdmaDevice::pinned_page(unsigned long i) const {
  SpinGuard g(&lock_);
  VM_BUG_ON(!(i < nr_));
  return pages_[i];
}

dma_stamp RdmaDevice::dma_write(unsigned long i, unsigned first, unsigned count) {
  VM_BUG_ON(!(count > 0 && first + count <= kStampChunks));
  // The write is ordered (and its generation drawn) only once it may begin: a script
  // holding it back here must not leave it with an older generation than later writes.
  if (cfg_.write_gap_max_ns) sleep_ns(get_random_u64_below(cfg_.write_gap_max_ns));
  TEST_SYNC_POINT(sp_write_begin_.c_str());
  release_deferred();
  dma_stamp s;
  {
    SpinGuard g(&lock_);
    VM_BUG_ON(!(i < nr_ && "dma_write() outside the registered range"));
    s = dma_stamp{cfg_.writer, static_cast<uint32_t>(i), clock_->next()};
    last_[i] = rdma_write_record{s, 0, 0, 0};
    writes_++;
  }
  Iommu& iommu = m_->iommu();
  const unsigned long target = iommu.iova_to_phys(domain_, i);
  if (m_->tracing())  // the only per-write line: not formatted for nothing
    trace(fmt::format("dma write {} -> {} chunks {}..{}", to_string(s),
                      target == kScratchPfn ? std::string("scratch page") : fmt::format("pfn {:#x}", target), first,
                      first + count - 1));
  for (unsigned c = first; c < first + count; c++) {
    // One transfer per chunk, translated by the IOMMU when it starts.
    const unsigned long where =
        iommu.dma(domain_, i, [&](char* frame) { stamp_fill_chunk(frame + c * kStampChunkSize, s, c); });
    {
      SpinGuard g(&lock_);
      if (last_[i].stamp == s) {
        if (c == first) last_[i].pfn = where;
        last_[i].chunks_done++;
        if (where == kScratchPfn) last_[i].scratch_chunks++;
      }
    }
    TEST_SYNC_POINT(sp_chunk_.c_str());
    if (cfg_.chunk_pace_ns && c + 1 < first + count) sleep_ns(cfg_.chunk_pace_ns);
    if (sim_buggify("rdma:dma_delay")) sleep_ns(5 * NSEC_PER_USEC);  // a device stalls mid-burst
  }
  TEST_SYNC_POINT(sp_write_end_.c_str());
  return s;
}

void RdmaDevice::dma_write_all() {
  const unsigned long n = nr_pages();
  for (unsigned long i = 0; i < n; i++) dma_write(i);
}

page* RdmaDevice::take_page(unsigned long i) {
  SpinGuard g(&lock_);
  if (i >= pages_.size()) return nullptr;
  page* p = pages_[i];
  pages_[i] = nullptr;
  return p;
}

void RdmaDevice::dereg_mr(bool make_dirty) {
  TEST_SYNC_POINT(sp_dereg_begin_.c_str());
  unsigned long n;
  {
    SpinGuard g(&lock_);
    VM_BUG_ON(!(nr_ && "dereg_mr() with nothing registered"));
    n = nr_;
    deregistering_ = true;
  }
  // The device cannot reach the frames once they are out of its IOMMU domain.
  m_->iommu().unmap(domain_, 0, n);
  release_deferred();
  // Each page leaves the "pinned" record before its pin goes, so the false-negative
  // oracle (which reads the record under lock_) never checks a page already released;
  // a racing revoke takes the pages this loop has not. The unpin itself runs without
  // lock_: it takes the page lock, and fs code reaches the oracle's sync points with
  // page locks held.
  unsigned long released = 0;
  for (unsigned long i = 0; i < n; i++) {
    page* p = take_page(i);
    if (!p) continue;
    unpin_user_pages_dirty_lock(&p, 1, make_dirty);
    released++;
  }
  trace(fmt::format("dereg_mr: {}unpin {} pages{}", make_dirty ? "set_page_dirty_lock + " : "", released,
                    released < n ? fmt::format(" ({} revoked before)", n - released) : ""));
  if (mm_) {
    mmu_notifier_unregister(&listener_.mn, mm_);
    mm_ = nullptr;
  }
  if (lease_held_.exchange(false)) vfs_setlease(lease_.fl_file, F_UNLCK, &lease_);  // -EINVAL if revoked meanwhile
  {
    SpinGuard g(&lock_);
    pages_.clear();
    nr_ = 0;
    span_ = 0;
    deregistering_ = false;
  }
  TEST_SYNC_POINT(sp_dereg_done_.c_str());
}

// ---- listening: notifier, lease, revoke --------------------------------------------

void RdmaDevice::release_deferred() {
  std::vector<page*> pages;
  {
    SpinGuard g(&lock_);
    pages.swap(deferred_);
  }
  if (pages.empty()) return;
  unpin_user_pages_dirty_lock(pages.data(), pages.size(), true);
  trace(fmt::format("revoke: {} pinned pages released in the driver's context", pages.size()));
}

void RdmaDevice::tell_user(rdma_revoke_event ev) {
  ev.generation = clock_->last();
  {
    SpinGuard g(&lock_);
    events_.push_back(ev);
  }
  if (cfg_.on_revoke) cfg_.on_revoke(ev);
}

void RdmaDevice::revoke(mmu_notifier_event e) {
  unsigned long n;
  {
    SpinGuard g(&lock_);
    n = nr_;
  }
  // (1) The device page table first: once this returns no transfer reaches the frames.
  const unsigned long redirected = m_->iommu().redirect_to_scratch(domain_, 0, n);
  // (2) Release what is still held, as dereg_mr() does. Under a design whose unpin may
  // sleep on i_mmap_rwsem (fake_vma: the unpin unlinks a fake vma), which the
  // invalidating truncate holds for read, the pins are handed to the driver's own
  // context instead (release_deferred(), from the device's next write or dereg_mr()):
  // the IOMMU already keeps the device off the frames, and the pins keep them from
  // being reused until then.
  const bool defer = pin_design_props(m_->pin_design()).unpin_may_sleep;
  unsigned long released = 0;
  for (unsigned long i = 0; i < n; i++) {
    page* p = take_page(i);
    if (!p) continue;
    released++;
    if (defer) {
      SpinGuard g(&lock_);
      deferred_.push_back(p);
      continue;
    }
    unpin_user_pages_dirty_lock(&p, 1, true);
  }
  if (!released && !redirected) return;  // dereg_mr() or another revoke got there first
  {
    SpinGuard g(&lock_);
    revoked_ = true;
  }
  // (3) Tell the user.
  trace(fmt::format("revoke ({}): device page table -> scratch page, {} pages unpinned", mmu_notifier_event_name(e),
                    released));
  tell_user(rdma_revoke_event{"revoke", mmu_notifier_event_name(e), released, 0});
}

int RdmaDevice::notifier_start(mmu_notifier* mn, const mmu_notifier_range* r) {
  RdmaDevice* dev = reinterpret_cast<Listener*>(mn)->dev;
  if (r->event != MMU_NOTIFY_TRUNCATE && r->event != MMU_NOTIFY_UNMAP) return 0;
  bool held = false;
  {
    SpinGuard g(&dev->lock_);
    const unsigned long len = dev->span_ << PAGE_SHIFT;  // (a reg_mr() in progress too)
    if (!len || r->end <= dev->addr_ || r->start >= dev->addr_ + len) return 0;
    dev->inval_seq_++;
    if (dev->deregistering_) return 0;
    for (page* p : dev->pages_) held |= p != nullptr;
  }
  if (!held) return 0;
  if (!mmu_notifier_range_blockable(r)) return -EAGAIN;  // the revoke sleeps (page locks)
  dev->revoke(r->event);
  return 0;
}

void RdmaDevice::notifier_release(mmu_notifier* mn, mm_struct*) {
  RdmaDevice* dev = reinterpret_cast<Listener*>(mn)->dev;
  {
    SpinGuard g(&dev->lock_);
    if (dev->deregistering_ || !dev->nr_) return;
  }
  dev->revoke(MMU_NOTIFY_RELEASE);
}

int RdmaDevice::set_layout_lease(file* filp) {
  VM_BUG_ON(!(cfg_.listens && "only a listening device holds a lease"));
  VM_BUG_ON(!(!lease_held_.load()));
  int err = vfs_setlease(filp, F_LAYOUT, &lease_);
  if (!err) lease_held_.store(true);
  trace(err ? fmt::format("layout lease on {}: {}", filp->f_path, errname(err))
            : fmt::format("layout lease on {}", filp->f_path));
  return err;
}

void RdmaDevice::lease_break(file_lease* fl) {
  RdmaDevice* dev = static_cast<RdmaDevice*>(fl->fl_owner);
  {
    SpinGuard g(&dev->lock_);
    dev->lease_broken_ = true;
  }
  dev->trace("layout lease break: the user is told to deregister");
  dev->tell_user(rdma_revoke_event{"lease-break", "", 0, 0});
}

void RdmaDevice::lease_revoked(file_lease* fl) {
  RdmaDevice* dev = static_cast<RdmaDevice*>(fl->fl_owner);
  dev->lease_held_.store(false);
  dev->trace("layout lease revoked: lease_break_time passed");
  dev->tell_user(rdma_revoke_event{"lease-revoked", "", 0, 0});
}

bool RdmaDevice::lease_broken() const {
  SpinGuard g(&lock_);
  return lease_broken_;
}

bool RdmaDevice::revoked() const {
  SpinGuard g(&lock_);
  return revoked_;
}

std::vector<rdma_revoke_event> RdmaDevice::revoke_events() const {
  SpinGuard g(&lock_);
  return events_;
}

void RdmaDevice::start(std::function<void()> body, mm_struct* mm) {
  VM_BUG_ON(!(!task_ && "the device already runs a task"));
  task_ = m_->spawn(cfg_.name, std::move(body), mm);
}

void RdmaDevice::start_paced(mm_struct* mm, unsigned long addr, unsigned long npages, unsigned generations,
                             uint64_t interval_ns) {
  start(
      [this, addr, npages, generations, interval_ns] {
        if (int err = reg_mr(addr, npages)) {
          SpinGuard g(&lock_);
          paced_err_ = err;
          return;
        }
        for (unsigned g = 0; g < generations; g++) {
          if (g) sleep_ns(interval_ns);
          dma_write_all();
        }
        dereg_mr(true);
      },
      mm);
}

int RdmaDevice::join() {
  VM_BUG_ON(!(task_ && "no device task to join"));
  task_join(task_);
  task_ = nullptr;
  SpinGuard g(&lock_);
  return paced_err_;
}

rdma_write_record RdmaDevice::last_write(unsigned long i) const {
  SpinGuard g(&lock_);
  return i < last_.size() ? last_[i] : rdma_write_record{};
}

uint64_t RdmaDevice::writes() const {
  SpinGuard g(&lock_);
  return writes_;
}

void RdmaDevice::for_each_pinned(const std::function<void(unsigned long, page*)>& fn) const {
  SpinGuard g(&lock_);
  for (unsigned long i = 0; i < pages_.size(); i++)
    if (pages_[i]) fn(i, pages_[i]);
}

}  // namespace guplab
