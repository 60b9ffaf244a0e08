// short_dma_device.cc - short-term pins: one stamped store, or one raw direct transfer.
#include "drivers/short_dma_device.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/errno.h"
#include "base/sched.h"
#include "base/task.h"
#include "block/bio.h"
#include "block/blkdev.h"
#include "drivers/dev_trace.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/gup.h"
#include "mm/memory_model.h"
#include "base/bug.h"

namespace guplab {

ShortDmaDevice::ShortDmaDevice(Machine* m, StampClock* clock, short_dma_config cfg)
    : m_(m),
      clock_(clock),
      cfg_(std::move(cfg)),
      sp_pinned_(cfg_.name + sp::kDevPinned),
      sp_submitted_(cfg_.name + sp::kDevSubmitted),
      sp_completed_(cfg_.name + sp::kDevCompleted),
      sp_dma_done_(cfg_.name + sp::kDevDmaDone) {
  VM_BUG_ON(!(m_ && clock_));
  VM_BUG_ON(!(cfg_.writer != 0 && "writer 0 is the task's own stores"));
  spin_lock_init(&lock_, "short_dma_device");
}

void ShortDmaDevice::trace(const std::string& what) const { dev_trace(m_, fmt::format("{}: {}", cfg_.name, what)); }

namespace {
/** pin_all() - pin exactly @npages at @addr, or nothing. Returns 0 or -errno. */
int pin_all(unsigned long addr, unsigned long npages, bool write, std::vector<page*>* pages) {
  pages->assign(npages, nullptr);
  long got = pin_user_pages_fast(addr, static_cast<int>(npages), write ? FOLL_WRITE : FOLL_NONE, pages->data());
  if (got < 0) return static_cast<int>(got);
  if (static_cast<unsigned long>(got) != npages) {
    unpin_user_pages(pages->data(), static_cast<unsigned long>(got));
    return -EFAULT;
  }
  return 0;
}
}  // namespace

int ShortDmaDevice::dma_to_user(unsigned long addr, unsigned long npages) {
  VM_BUG_ON(!(current() && current()->mm && "dma_to_user() runs in the process that owns the range"));
  VM_BUG_ON(!((addr & ~PAGE_MASK) == 0 && npages > 0));
  std::vector<page*> pages;
  if (int err = pin_all(addr, npages, true, &pages)) {
    trace(fmt::format("dma_to_user {:#x} +{}: {}", addr, npages, errname(err)));
    return err;
  }
  TEST_SYNC_POINT(sp_pinned_.c_str());
  for (unsigned long i = 0; i < npages; i++) {
    const dma_stamp s{cfg_.writer, static_cast<uint32_t>(i), clock_->next()};
    stamp_fill_page(page_address(pages[i]), s);
    trace(fmt::format("dma write {} -> pfn {:#x}", to_string(s), page_to_pfn(pages[i])));
    SpinGuard g(&lock_);
    if (last_.size() <= i) last_.resize(i + 1);
    last_[i] = s;
  }
  TEST_SYNC_POINT(sp_dma_done_.c_str());
  unpin_user_pages_dirty_lock(pages.data(), npages, true);
  return 0;
}

void ShortDmaDevice::end_io(bio* b) {
  auto* dio = static_cast<short_dio*>(b->bi_private);
  if (b->bi_status != BLK_STS_OK) {
    int expected = 0;
    dio->error.compare_exchange_strong(expected, blk_status_to_errno(b->bi_status));
  }
  bio_release_pages(b, dio->read);  // a device wrote into user memory on a read: dirty it
  bio_put(b);
  if (dio->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    dio->dev->trace(fmt::format("direct {} of {} pages completed: {}", dio->read ? "read" : "write", dio->npages,
                                dio->error.load() ? errname(dio->error.load()) : "ok"));
    TEST_SYNC_POINT(dio->dev->sp_completed_.c_str());
    complete(&dio->done);
    dio->finished.store(true, std::memory_order_release);
  }
}

int ShortDmaDevice::submit(short_dio* dio, bool read, unsigned long addr, unsigned long npages, block_device* bdev,
                           sector_t sector) {
  VM_BUG_ON(!(current() && current()->mm && "submit() runs in the process that owns the range"));
  VM_BUG_ON(!((addr & ~PAGE_MASK) == 0 && npages > 0 && bdev));
  std::vector<page*> pages;
  if (int err = pin_all(addr, npages, read, &pages)) {
    trace(fmt::format("direct {} {:#x} +{}: {}", read ? "read" : "write", addr, npages, errname(err)));
    return err;
  }
  TEST_SYNC_POINT(sp_pinned_.c_str());
  init_completion(&dio->done);
  dio->error.store(0);
  dio->finished.store(false);
  dio->read = read;
  dio->npages = npages;
  dio->dev = this;
  const unsigned long nr_bios = (npages + BIO_MAX_VECS - 1) / BIO_MAX_VECS;
  dio->remaining.store(static_cast<int>(nr_bios));
  trace(fmt::format("direct {} {:#x} +{} pages {} sector {} ({} bios)", read ? "read" : "write", addr, npages,
                    read ? "from" : "to", sector, nr_bios));
  for (unsigned long done = 0; done < npages;) {
    const unsigned long n = std::min<unsigned long>(npages - done, BIO_MAX_VECS);
    bio* b = bio_alloc(bdev, static_cast<unsigned short>(n), read ? REQ_OP_READ : (REQ_OP_WRITE | REQ_SYNC));
    b->bi_iter.bi_sector = sector + (done << (PAGE_SHIFT - SECTOR_SHIFT));
    b->bi_end_io = end_io;
    b->bi_private = dio;
    for (unsigned long i = 0; i < n; i++) {
      unsigned added = bio_add_page(b, pages[done + i], PAGE_SIZE, 0, /*is_gup=*/true);
      VM_BUG_ON(!(added == PAGE_SIZE && "a bio sized for its pages takes them all"));
      (void)added;
    }
    submit_bio(b);
    done += n;
  }
  TEST_SYNC_POINT(sp_submitted_.c_str());
  return 0;
}

int ShortDmaDevice::wait(short_dio* dio) {
  wait_for_completion(&dio->done);
  while (!dio->finished.load(std::memory_order_acquire)) cond_resched();
  return dio->error.load();
}

dma_stamp ShortDmaDevice::last_stamp(unsigned long i) const {
  SpinGuard g(&lock_);
  return i < last_.size() ? last_[i] : dma_stamp{};
}

}  // namespace guplab
