// short_dma_device.h - a short-term DMA device: direct-I/O-like pins, held for one
// transfer and released at its completion (no FOLL_LONGTERM).
//
// Two kinds of transfer:
//  - dma_to_user(): pin the user pages for writing, store one stamped generation into
//    each (drivers/dma_stamp.h), release with unpin_user_pages_dirty_lock(): a NIC
//    receive, done by the CPU-side driver in one go.
//  - submit(): raw direct I/O between user pages and a block device, as O_DIRECT on a
//    block device node does: pin the pages (FOLL_WRITE for a read from the device),
//    put them in bios with bio_add_page(..., is_gup = true) (seed 004), submit; the
//    completion, in the device's completion task, releases them with
//    bio_release_pages(mark_dirty = it was a read) and signals the waiter.
//
// Sync points, <name> the device's name: "<name>:pinned" (pages pinned, nothing sent),
// "<name>:submitted" (bios in flight), "<name>:completed" (in the completion task,
// pages released), "<name>:dma:done" (dma_to_user() stored, not yet released).
// It records what it last stored to each page index (dma_to_user()) for oracles.
//
// Threading: dma_to_user() and submit() run in a task whose mm holds the range; a
// short_dio handle is waited on by its submitter. Records are under lock_.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/completion.h"
#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "block/blk_types.h"
#include "drivers/dma_stamp.h"
#include "mm/mm_types.h"

namespace guplab {

class Machine;
class block_device;

struct short_dma_config {
  std::string name = "dma0";
  uint32_t writer = 2;  // the stamp's writer id for dma_to_user()
};

/** short_dio - one raw direct-I/O transfer in flight (submit() ... wait()). */
struct short_dio {
  completion done;
  std::atomic<int> remaining{0};  // bios not yet completed
  std::atomic<int> error{0};      // the first bio error, as -errno
  std::atomic<bool> finished{false};  // set last by the completer: the handle may go
  bool read = false;
  unsigned long npages = 0;
  const class ShortDmaDevice* dev = nullptr;
};

class ShortDmaDevice {
 public:
  /** REQUIRES: @m and @clock outlive the device; cfg.writer != 0. */
  ShortDmaDevice(Machine* m, StampClock* clock, short_dma_config cfg);
  ShortDmaDevice(const ShortDmaDevice&) = delete;
  ShortDmaDevice& operator=(const ShortDmaDevice&) = delete;

  const std::string& name() const { return cfg_.name; }

  /**
   * dma_to_user() - pin [@addr, +@npages pages) of current->mm (pin_user_pages_fast,
   * FOLL_WRITE), store a new stamped generation into each page, then
   * unpin_user_pages_dirty_lock(). Returns 0 or the pin's -errno (-EFAULT if short).
   * REQUIRES: running in a task with an mm; @addr page aligned; @npages > 0.
   */
  int dma_to_user(unsigned long addr, unsigned long npages);

  /**
   * submit() - start a raw direct transfer of @npages user pages at @addr from (@read)
   * or to the block device @bdev at @sector. On success @dio is in flight: wait() it.
   * Returns 0, or -errno with nothing in flight and nothing pinned.
   * REQUIRES: running in a task with an mm; @addr page aligned; @npages > 0; @dio idle.
   */
  int submit(short_dio* dio, bool read, unsigned long addr, unsigned long npages, block_device* bdev,
             sector_t sector);
  /** wait() - until every bio of @dio has completed and released its pages; its -errno. */
  static int wait(short_dio* dio);

  /** last_stamp() - what dma_to_user() last stored at page index @i (generation 0: none). */
  dma_stamp last_stamp(unsigned long i) const;

 private:
  static void end_io(struct bio* b);
  void trace(const std::string& what) const;

  Machine* const m_;
  StampClock* const clock_;
  const short_dma_config cfg_;
  const std::string sp_pinned_, sp_submitted_, sp_completed_, sp_dma_done_;
  mutable spinlock_t lock_;
  std::vector<dma_stamp> last_ GUARDED_BY(lock_);
};

}  // namespace guplab
