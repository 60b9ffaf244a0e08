// rdma_device.cc - registering, writing and deregistering a long-term pinned range.
#include "base/buggify.h"
#include "drivers/rdma_device.h"

#include <fmt/format.h>

#include <cassert>

#include "base/clock.h"
#include "base/errno.h"
#include "base/task.h"
#include "drivers/dev_trace.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "mm/gup.h"
#include "mm/memory_model.h"
#include "mm/mm_struct.h"

namespace guplab {

RdmaDevice::RdmaDevice(Machine* m, StampClock* clock, rdma_config cfg)
    : m_(m),
      clock_(clock),
      cfg_(std::move(cfg)),
      sp_reg_done_(cfg_.name + ":reg_mr:done"),
      sp_write_begin_(cfg_.name + ":write:begin"),
      sp_chunk_(cfg_.name + ":chunk"),
      sp_write_end_(cfg_.name + ":write:end"),
      sp_dereg_begin_(cfg_.name + ":dereg:begin"),
      sp_dereg_done_(cfg_.name + ":dereg:done") {
  assert(m_ && clock_);
  assert(cfg_.writer != 0 && "writer 0 is the task's own stores");
  spin_lock_init(&lock_, "rdma_device");
}

RdmaDevice::~RdmaDevice() {
  assert(!task_ && "join() the device's task first");
  assert(!registered() && "dereg_mr() before destroying the device");
}

void RdmaDevice::trace(const std::string& what) const { dev_trace(m_, fmt::format("{}: {}", cfg_.name, what)); }

int RdmaDevice::reg_mr(unsigned long addr, unsigned long npages) {
  [[maybe_unused]] task_struct* t = current();  // (asserted on)
  assert(t && t->mm && "reg_mr() runs in the registering process");
  assert((addr & ~PAGE_MASK) == 0 && npages > 0);
  assert(!registered());
  std::vector<page*> pages(npages, nullptr);
  foll_flags flags = FOLL_WRITE;
  if (cfg_.longterm) flags |= FOLL_LONGTERM;
  long got;
  if (cfg_.fast) {
    got = pin_user_pages_fast(addr, static_cast<int>(npages), flags, pages.data());
  } else {
    // Seed 001's conversion: the unlocked form lets a fault drop mmap_lock (I/O, userfaultfd).
    got = pin_user_pages_unlocked(addr, npages, pages.data(), flags);
  }
  if (got < 0) {
    trace(fmt::format("reg_mr {:#x} +{} pages: {}", addr, npages, errname(static_cast<int>(got))));
    return static_cast<int>(got);
  }
  if (static_cast<unsigned long>(got) != npages) {
    unpin_user_pages(pages.data(), static_cast<unsigned long>(got));
    trace(fmt::format("reg_mr {:#x} +{} pages: short pin ({}), released", addr, npages, got));
    return -EFAULT;
  }
  {
    SpinGuard g(&lock_);
    addr_ = addr;
    pages_ = std::move(pages);
    last_.assign(npages, rdma_write_record{});
  }
  trace(fmt::format("reg_mr {:#x} +{} pages: pinned pfn {:#x}{}", addr, npages, page_to_pfn(pinned_page(0)),
                    npages > 1 ? ".." : ""));
  TEST_SYNC_POINT(sp_reg_done_.c_str());
  return 0;
}

bool RdmaDevice::registered() const {
  SpinGuard g(&lock_);
  return !pages_.empty();
}

unsigned long RdmaDevice::nr_pages() const {
  SpinGuard g(&lock_);
  return pages_.size();
}

page* RdmaDevice::pinned_page(unsigned long i) const {
  SpinGuard g(&lock_);
  assert(i < pages_.size());
  return pages_[i];
}

dma_stamp RdmaDevice::dma_write(unsigned long i, unsigned first, unsigned count) {
  assert(count > 0 && first + count <= kStampChunks);
  // The write is ordered (and its generation drawn) only once it may begin: a script
  // holding it back here must not leave it with an older generation than later writes.
  TEST_SYNC_POINT(sp_write_begin_.c_str());
  page* p;
  dma_stamp s;
  {
    SpinGuard g(&lock_);
    assert(i < pages_.size() && "dma_write() outside the registered range");
    p = pages_[i];
    s = dma_stamp{cfg_.writer, static_cast<uint32_t>(i), clock_->next()};
    last_[i] = rdma_write_record{s, 0, page_to_pfn(p)};
    writes_++;
  }
  trace(fmt::format("dma write {} -> pfn {:#x} chunks {}..{}", to_string(s), page_to_pfn(p), first, first + count - 1));
  char* frame = static_cast<char*>(page_address(p));
  for (unsigned c = first; c < first + count; c++) {
    stamp_fill_chunk(frame + c * kStampChunkSize, s, c);
    {
      SpinGuard g(&lock_);
      if (last_[i].stamp == s) last_[i].chunks_done++;
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

void RdmaDevice::dereg_mr(bool make_dirty) {
  TEST_SYNC_POINT(sp_dereg_begin_.c_str());
  std::vector<page*> pages;
  {
    SpinGuard g(&lock_);
    assert(!pages_.empty() && "dereg_mr() with nothing registered");
    pages = pages_;
  }
  trace(fmt::format("dereg_mr: {}unpin {} pages", make_dirty ? "set_page_dirty_lock + " : "", pages.size()));
  // Each page leaves the "pinned" record before its pin goes, so the false-negative
  // oracle (which reads the record under lock_) never checks a page already released.
  // The unpin itself runs without lock_: it takes the page lock, and fs code reaches
  // the oracle's sync points with page locks held.
  for (unsigned long i = 0; i < pages.size(); i++) {
    {
      SpinGuard g(&lock_);
      pages_[i] = nullptr;
    }
    unpin_user_pages_dirty_lock(&pages[i], 1, make_dirty);
  }
  {
    SpinGuard g(&lock_);
    pages_.clear();
  }
  TEST_SYNC_POINT(sp_dereg_done_.c_str());
}

void RdmaDevice::start(std::function<void()> body, mm_struct* mm) {
  assert(!task_ && "the device already runs a task");
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
  assert(task_ && "no device task to join");
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
