// odp_device.cc - on-demand paging: the device page table, its invalidation, the device
// page fault through hmm_range_fault(), and stamped writes checked chunk by chunk.
#include "drivers/odp_device.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/bug.h"
#include "base/buggify.h"
#include "base/clock.h"
#include "base/errno.h"
#include "base/task.h"
#include "drivers/dev_trace.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/fork.h"
#include "mm/hmm.h"
#include "mm/memory_model.h"
#include "mm/mm_struct.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"

namespace guplab {

OdpDevice::OdpDevice(Machine* m, StampClock* clock, odp_config cfg)
    : m_(m),
      clock_(clock),
      cfg_(std::move(cfg)),
      sp_reg_done_(cfg_.name + sp::kDevRegMrDone),
      sp_write_begin_(cfg_.name + sp::kDevWriteBegin),
      sp_fault_(cfg_.name + sp::kDevFault),
      sp_chunk_(cfg_.name + sp::kDevChunk),
      sp_write_end_(cfg_.name + sp::kDevWriteEnd),
      sp_dereg_done_(cfg_.name + sp::kDevDeregDone) {
  VM_BUG_ON(!(m_ && clock_));
  VM_BUG_ON(!(cfg_.writer != 0 && "writer 0 is the task's own stores"));
  spin_lock_init(&lock_, "odp_device");
  mirror_.dev = this;
}

OdpDevice::~OdpDevice() { VM_WARN_ON_ONCE(!(!mm_ && "dereg_mr() before destroying the device")); }

void OdpDevice::trace(const std::string& what) const { dev_trace(m_, fmt::format("{}: {}", cfg_.name, what)); }

bool OdpDevice::invalidate(mmu_interval_notifier* mni, const mmu_notifier_range* range, unsigned long cur_seq) {
  OdpDevice* d = reinterpret_cast<Mirror*>(mni)->dev;
  // Only a spinlock is taken: a non-blockable range is served too.
  SpinGuard g(&d->lock_);
  mmu_interval_set_seq(mni, cur_seq);
  d->stats_.invalidations++;
  const unsigned long start = std::max(range->start, mni->start);
  const unsigned long last = std::min(range->end - 1, mni->last);
  for (unsigned long a = start & PAGE_MASK; a <= last; a += PAGE_SIZE) {
    unsigned long& e = d->pfns_[(a - d->addr_) >> PAGE_SHIFT];
    if (e) d->stats_.cleared++;
    e = 0;
  }
  return true;
}

int OdpDevice::reg_mr(unsigned long addr, unsigned long npages) {
  task_struct* t = current();
  VM_BUG_ON(!(t && t->mm && "reg_mr() runs in the registering process"));
  VM_BUG_ON(!((addr & ~PAGE_MASK) == 0));
  VM_BUG_ON(!(!mm_ && "a range is already registered"));
  if (npages == 0 || addr + npages * PAGE_SIZE < addr) return -EINVAL;
  {
    SpinGuard g(&lock_);
    pfns_.assign(npages, 0);
    last_.assign(npages, rdma_write_record{});
  }
  addr_ = addr;
  mm_ = t->mm;
  mmgrab(mm_);
  static const mmu_interval_notifier_ops kOdpOps = {&OdpDevice::invalidate};
  int err = mmu_interval_notifier_insert(&mirror_.mni, mm_, addr, npages * PAGE_SIZE, &kOdpOps);
  if (!err && cfg_.prefetch) err = prefetch(0, npages);
  if (err) {
    trace(fmt::format("reg_mr {:#x} +{} pages: {}", addr, npages, errname(err)));
    if (mirror_.mni.ops) mmu_interval_notifier_remove(&mirror_.mni);
    mirror_.mni.ops = nullptr;
    mmdrop(mm_);
    mm_ = nullptr;
    SpinGuard g(&lock_);
    pfns_.clear();
    return err;
  }
  trace(fmt::format("reg_mr {:#x} +{} pages: on demand{}", addr, npages, cfg_.prefetch ? ", prefetched" : ""));
  TEST_SYNC_POINT(sp_reg_done_.c_str());
  return 0;
}

bool OdpDevice::registered() const { return mm_ != nullptr; }

unsigned long OdpDevice::nr_pages() const {
  SpinGuard g(&lock_);
  return pfns_.size();
}

unsigned long OdpDevice::mapped_pfn(unsigned long i) const {
  SpinGuard g(&lock_);
  return i < pfns_.size() && pfns_[i] ? hmm_pfn_to_pfn(pfns_[i]) : 0;
}

int OdpDevice::prefetch(unsigned long first, unsigned long n) {
  VM_BUG_ON(!(mm_ && n > 0));
  TEST_SYNC_POINT(sp_fault_.c_str());
  // The mm may be exiting: a device fault then fails, as upstream's mmget_not_zero().
  if (!mmget_not_zero(mm_)) return -EFAULT;
  std::vector<unsigned long> pfns(n);
  hmm_range range;
  range.notifier = &mirror_.mni;
  range.start = addr_ + first * PAGE_SIZE;
  range.end = range.start + n * PAGE_SIZE;
  range.hmm_pfns = pfns.data();
  range.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
  int ret;
  for (;;) {
    range.notifier_seq = mmu_interval_read_begin(&mirror_.mni);
    mmap_read_lock(mm_);
    ret = hmm_range_fault(&range);
    mmap_read_unlock(mm_);
    if (ret == -EBUSY) {
      SpinGuard g(&lock_);
      stats_.retries++;
      continue;
    }
    if (ret) break;
    SpinGuard g(&lock_);
    if (mmu_interval_read_retry(&mirror_.mni, range.notifier_seq)) {
      stats_.retries++;
      continue;  // an invalidation came in between: those pfns may be gone already
    }
    for (unsigned long k = 0; k < n; k++) pfns_[first + k] = pfns[k];
    stats_.faults++;
    break;
  }
  mmput(mm_);
  return ret;
}

int OdpDevice::dma_write(unsigned long i, unsigned first, unsigned count, dma_stamp* out) {
  VM_BUG_ON(!(count > 0 && first + count <= kStampChunks));
  TEST_SYNC_POINT(sp_write_begin_.c_str());
  dma_stamp s;
  {
    SpinGuard g(&lock_);
    VM_BUG_ON(!(i < pfns_.size() && "dma_write() outside the registered range"));
    s = dma_stamp{cfg_.writer, static_cast<uint32_t>(i), clock_->next()};
    last_[i] = rdma_write_record{s, 0, 0};
    stats_.writes++;
  }
  if (out) *out = s;
  unsigned c = first;
  bool restarted = false;  // the entry was cleared after some chunks landed
  while (c < first + count) {
    bool landed = false;
    unsigned long pfn = 0;
    {
      SpinGuard g(&lock_);
      const unsigned long e = pfns_[i];
      if ((e & HMM_PFN_VALID) && (e & HMM_PFN_WRITE)) {
        pfn = hmm_pfn_to_pfn(e);
        page* p = m_->mem().pfn_to_page(pfn);
        // The invariant the notifier buys: a mirrored frame is never a free one.
        WARN_ON(page_ref_count(compound_head(p)) == 0);
        stamp_fill_chunk(static_cast<char*>(page_address(p)) + c * kStampChunkSize, s, c);
        if (last_[i].stamp == s) {
          if (c == first) last_[i].chunks_done = 0;
          last_[i].pfn = pfn;
          last_[i].chunks_done++;
        }
        landed = true;
      }
    }
    if (!landed) {
      if (m_->tracing()) trace(fmt::format("device page fault: page {} for {}", i, to_string(s)));
      if (int err = prefetch(i, 1)) {
        {
          SpinGuard g(&lock_);
          stats_.errors++;
        }
        trace(fmt::format("dma write {} failed: {}", to_string(s), errname(err)));
        return err;
      }
      if (c != first) {
        // What landed went to a frame the mm has since dropped (even if the new frame
        // has the same pfn, it is a new page): send the whole write again.
        c = first;
        restarted = true;
        SpinGuard g(&lock_);
        stats_.restarts++;
      }
      continue;
    }
    if (c == first && m_->tracing()) trace(fmt::format("dma write {}{} -> pfn {:#x}", to_string(s), restarted ? " (again)" : "", pfn));
    TEST_SYNC_POINT(sp_chunk_.c_str());
    c++;
    if (cfg_.chunk_pace_ns && c < first + count) sleep_ns(cfg_.chunk_pace_ns);
    if (sim_buggify("odp:dma_delay")) sleep_ns(5 * NSEC_PER_USEC);  // a device stalls mid-burst
  }
  TEST_SYNC_POINT(sp_write_end_.c_str());
  return 0;
}

int OdpDevice::dma_write_all() {
  const unsigned long n = nr_pages();
  for (unsigned long i = 0; i < n; i++)
    if (int err = dma_write(i)) return err;
  return 0;
}

void OdpDevice::dereg_mr() {
  VM_BUG_ON(!(mm_ && "dereg_mr() with nothing registered"));
  mmu_interval_notifier_remove(&mirror_.mni);
  mirror_.mni.ops = nullptr;
  {
    SpinGuard g(&lock_);
    pfns_.clear();
  }
  mmdrop(mm_);
  mm_ = nullptr;
  trace("dereg_mr: notifier removed");
  TEST_SYNC_POINT(sp_dereg_done_.c_str());
}

rdma_write_record OdpDevice::last_write(unsigned long i) const {
  SpinGuard g(&lock_);
  return i < last_.size() ? last_[i] : rdma_write_record{};
}

odp_stats OdpDevice::stats() const {
  SpinGuard g(&lock_);
  return stats_;
}

}  // namespace guplab
