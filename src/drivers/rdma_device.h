// rdma_device.h - a long-term DMA device, RDMA-like: it registers a user memory range
// (pins it with FOLL_WRITE | FOLL_LONGTERM), then writes into the pinned frames over
// time in stamped chunks (drivers/dma_stamp.h), and at the end deregisters the range
// the way seed 002's drivers do: set_page_dirty_lock() on each page, then release the
// pin (unpin_user_pages_dirty_lock()).
//
// The device writes to the frames it pinned, whatever has happened to them since
// (writeback, reclaim, truncate): that is what hardware does. It keeps two records for
// the oracles: what it last wrote to each page of the range (the lost-update oracle's
// reference) and which pages it holds pinned now (the false-negative oracle's).
//
// Scripts place its writes through named sync points, with <name> the device's name:
//   "<name>:reg_mr:done"      the range is pinned
//   "<name>:write:begin"      before each stamped write of a page (any chunks)
//   "<name>:chunk"            after each chunk of a write
//   "<name>:write:end"        after the write's last chunk
//   "<name>:dereg:begin"      before the pages are dirtied and unpinned
//   "<name>:dereg:done"       after
// and every write is a line in the machine's recent-events ring.
//
// Threading: reg_mr() runs in a task whose mm holds the range. Writes may come from
// any task of the machine (the device's own task from start(), or a sync-point
// callback: a DMA landing at that instant). The records are under lock_; page frames
// are written with relaxed atomic words. dereg_mr() must not race a write.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "drivers/dma_stamp.h"
#include "mm/mm_types.h"

namespace guplab {

class Machine;
struct task_struct;

struct rdma_config {
  std::string name = "rdma0";
  uint32_t writer = 1;    // the stamp's writer id (0 is reserved for task stores)
  bool fast = true;       // pin with pin_user_pages_fast(), else pin_user_pages_unlocked()
  bool longterm = true;   // FOLL_LONGTERM
  uint64_t chunk_pace_ns = 0;  // sleep between chunks of a write (0: none)
};

/** What the device last wrote to one page of its range. */
struct rdma_write_record {
  dma_stamp stamp;          // generation 0: never written
  unsigned chunks_done = 0; // how many chunks of that write have landed (kStampChunks: whole)
  unsigned long pfn = 0;    // the frame it went to
};

class RdmaDevice {
 public:
  /** REQUIRES: @m and @clock outlive the device; cfg.writer != 0. */
  RdmaDevice(Machine* m, StampClock* clock, rdma_config cfg);
  /** REQUIRES: no range registered (dereg_mr() first) and no task running (join()). */
  ~RdmaDevice();
  RdmaDevice(const RdmaDevice&) = delete;
  RdmaDevice& operator=(const RdmaDevice&) = delete;

  const std::string& name() const { return cfg_.name; }
  uint32_t writer() const { return cfg_.writer; }

  /**
   * reg_mr() - pin the @npages pages at user address @addr of current->mm for writing,
   * long-term. All or nothing: a short pin is released and reported as -EFAULT.
   * Returns 0 or the pin call's -errno.
   * REQUIRES: running in a task with an mm; @addr page aligned; nothing registered.
   */
  int reg_mr(unsigned long addr, unsigned long npages);
  /** registered() - does the device hold a range pinned? */
  bool registered() const;
  unsigned long nr_pages() const;
  /** pinned_page() - the page the device holds at index @i. REQUIRES: registered, @i in range. */
  page* pinned_page(unsigned long i) const;

  /**
   * dma_write() - write chunks [@first, @first + @count) of a new generation into page
   * @i, one chunk at a time, each followed by "<name>:chunk". Returns the write's stamp.
   * REQUIRES: registered; @i < nr_pages(); @first + @count <= kStampChunks, @count > 0.
   */
  dma_stamp dma_write(unsigned long i, unsigned first = 0, unsigned count = kStampChunks);
  /** dma_write_all() - dma_write() a whole new generation to every page of the range. */
  void dma_write_all();

  /**
   * dereg_mr() - the driver's release, seed 002's pattern: with @make_dirty,
   * set_page_dirty_lock() each page, then unpin (unpin_user_pages_dirty_lock()).
   * REQUIRES: registered; no write in progress.
   */
  void dereg_mr(bool make_dirty = true);

  /**
   * start() - run @body in the device's own task ("<name>"), on @mm (the registering
   * process's mm, so reg_mr() inside works). Join with join().
   * REQUIRES: no task running.
   */
  void start(std::function<void()> body, struct mm_struct* mm);
  /** start_paced() - start() a body that registers [@addr, +@npages), writes @generations
   *  whole generations to every page, sleeping @interval_ns between them, and deregisters. */
  void start_paced(struct mm_struct* mm, unsigned long addr, unsigned long npages, unsigned generations,
                   uint64_t interval_ns);
  /** join() - wait for the device's task. Returns the last reg_mr() error of a paced run (or 0). */
  int join();

  // ---- records (oracles) -------------------------------------------------------------
  /** last_write() - what the device last wrote to page @i (generation 0: nothing yet). */
  rdma_write_record last_write(unsigned long i) const;
  /** writes() - stamped writes started so far. */
  uint64_t writes() const;
  /**
   * for_each_pinned() - call @fn for every page the device holds pinned now, under the
   * device's lock (so no deregistration can happen meanwhile). @fn must not sleep.
   */
  void for_each_pinned(const std::function<void(unsigned long idx, page* p)>& fn) const;

 private:
  void trace(const std::string& what) const;

  Machine* const m_;
  StampClock* const clock_;
  const rdma_config cfg_;
  const std::string sp_reg_done_, sp_write_begin_, sp_chunk_, sp_write_end_, sp_dereg_begin_, sp_dereg_done_;

  mutable spinlock_t lock_;
  unsigned long addr_ GUARDED_BY(lock_) = 0;
  std::vector<page*> pages_ GUARDED_BY(lock_);           // pinned, in range order
  std::vector<rdma_write_record> last_ GUARDED_BY(lock_);  // one per page of the range
  uint64_t writes_ GUARDED_BY(lock_) = 0;
  int paced_err_ GUARDED_BY(lock_) = 0;
  task_struct* task_ = nullptr;  // the device's task, owned by whoever calls start()/join()
};

}  // namespace guplab
