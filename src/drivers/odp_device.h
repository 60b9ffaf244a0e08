// odp_device.h - the RDMA-like device's on-demand-paging mode (upstream: RDMA ODP,
// drivers/infiniband/core/umem_odp.c): a registered range is never pinned. The device
// keeps its own page table of pfns for the range, filled by hmm_range_fault() (mm/hmm.h)
// and kept coherent by an mmu_interval_notifier on the registering mm:
//
//  - ->invalidate takes the device lock, calls mmu_interval_set_seq() and clears every
//    device entry overlapping the range; once it returns, no chunk of a DMA write can
//    land in the frames the mm is about to unmap, free or move;
//  - a DMA write to a cleared entry is a device page fault: read_begin, hmm_range_fault()
//    under mmap_lock for read (fault in, writable), then under the device lock either
//    read_retry says an invalidation came in between (start again) or the new pfns go
//    into the table;
//  - each chunk is written under the device lock, after checking its entry, so a write
//    never goes to a frame the mm no longer maps at that address. If the entry was
//    cleared between two chunks of one write, the write starts again from its first
//    chunk after the fault (the way a NIC retransmits a packet after a page fault).
//
// Page dirtiness needs no set_page_dirty() from the device: hmm_range_fault() asks for a
// writable entry, which is a write fault (the pte dirty, page_mkwrite for a shared file),
// and page_mkclean() invalidates the device entry (PROTECTION_PAGE) before it cleans,
// so the device's next write faults again. Departure D-odp-1 (docs/seeds.md).
//
// The records follow RdmaDevice's (drivers/rdma_device.h): what it last wrote to each
// page (rdma_write_record: stamp, chunks landed, the frame), so the same oracles read
// both devices. Sync points, <name> the device's name:
//   "<name>:reg_mr:done"   the notifier is in (and the range prefetched, if configured)
//   "<name>:write:begin"   before each stamped write
//   "<name>:fault"         before each device page fault (hmm_range_fault round)
//   "<name>:chunk"         after each chunk that landed
//   "<name>:write:end"     after the write's last chunk
//   "<name>:dereg:done"    the notifier is removed
//
// Threading: reg_mr() in a task whose mm holds the range; dma_write() from any task of
// the machine (it takes mmap_lock of the registered mm for read to fault, so never while
// holding it); the invalidate callback from any invalidating task. Device table, records
// and counters are under lock_, a spinlock (the callback may run under the call site's
// spinlocks and must not sleep). dereg_mr() must not race a dma_write().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "drivers/dma_stamp.h"
#include "drivers/rdma_device.h"
#include "mm/mmu_notifier.h"

namespace guplab {

class Machine;

struct odp_config {
  std::string name = "odp0";
  uint32_t writer = 1;         // the stamp's writer id (0 is reserved for task stores)
  bool prefetch = true;        // reg_mr() faults the whole range in (ib_advise_mr PREFETCH_WRITE)
  uint64_t chunk_pace_ns = 0;  // sleep between chunks of a write (0: none)
};

/** Counters of one ODP device (what its cost is made of). */
struct odp_stats {
  uint64_t writes = 0;         // stamped writes started
  uint64_t faults = 0;         // device page faults (hmm_range_fault rounds that returned 0)
  uint64_t retries = 0;        // rounds thrown away: -EBUSY or read_retry
  uint64_t invalidations = 0;  // ->invalidate calls
  uint64_t cleared = 0;        // device entries those calls cleared
  uint64_t restarts = 0;       // writes started again after their entry was cleared mid-write
  uint64_t errors = 0;         // writes that failed (fault error: the range is gone)
};

class OdpDevice {
 public:
  /** REQUIRES: @m and @clock outlive the device; cfg.writer != 0. */
  OdpDevice(Machine* m, StampClock* clock, odp_config cfg);
  /** REQUIRES: nothing registered (dereg_mr() first). */
  ~OdpDevice();
  OdpDevice(const OdpDevice&) = delete;
  OdpDevice& operator=(const OdpDevice&) = delete;

  const std::string& name() const { return cfg_.name; }
  uint32_t writer() const { return cfg_.writer; }

  /**
   * reg_mr() - mirror the @npages pages at @addr of current->mm: insert the interval
   * notifier and, with cfg.prefetch, fault the range in writable. Pins nothing.
   * Returns 0, -EINVAL (bad range), or the prefetch's -errno (then nothing stays registered).
   * REQUIRES: running in a task with an mm, mmap_lock not held; @addr page aligned;
   * nothing registered.
   */
  int reg_mr(unsigned long addr, unsigned long npages);
  /** registered() - is a range mirrored? */
  bool registered() const;
  unsigned long nr_pages() const;
  /** mapped_pfn() - the device's entry for page @i: its pfn, or 0 if cleared. */
  unsigned long mapped_pfn(unsigned long i) const;

  /**
   * prefetch() - device page fault of pages [@first, @first + @n) (ib_advise_mr).
   * Returns 0 or hmm_range_fault()'s -errno. REQUIRES: registered; mmap_lock not held.
   */
  int prefetch(unsigned long first, unsigned long n);

  /**
   * dma_write() - write chunks [@first, @first + @count) of a new generation into page
   * @i, faulting the page in first if its entry is clear. Stores the stamp in *@out.
   * Returns 0, or the device page fault's -errno (-EFAULT once the range is unmapped
   * or the mm gone; no chunk of that write lands).
   * REQUIRES: registered; @i < nr_pages(); @first + @count <= kStampChunks, @count > 0;
   * mmap_lock of the registered mm not held.
   */
  int dma_write(unsigned long i, unsigned first = 0, unsigned count = kStampChunks, dma_stamp* out = nullptr);
  /** dma_write_all() - a whole new generation to every page. Returns the first error, or 0. */
  int dma_write_all();

  /** dereg_mr() - remove the notifier (waits for an invalidation on it) and forget the range. */
  void dereg_mr();

  /** last_write() - what the device last wrote to page @i (generation 0: nothing yet). */
  rdma_write_record last_write(unsigned long i) const;
  odp_stats stats() const;

 private:
  struct Mirror {
    mmu_interval_notifier mni;  // first: the callback gets &mni
    OdpDevice* dev = nullptr;
  };
  static bool invalidate(mmu_interval_notifier* mni, const mmu_notifier_range* range, unsigned long cur_seq);
  void trace(const std::string& what) const;

  Machine* const m_;
  StampClock* const clock_;
  const odp_config cfg_;
  const std::string sp_reg_done_, sp_write_begin_, sp_fault_, sp_chunk_, sp_write_end_, sp_dereg_done_;

  Mirror mirror_;
  mm_struct* mm_ = nullptr;  // mmgrab()bed while registered
  unsigned long addr_ = 0;   // set before the notifier goes in, cleared after it is out

  mutable spinlock_t lock_;
  std::vector<unsigned long> pfns_ GUARDED_BY(lock_);  // the device page table: pfn or 0
  std::vector<rdma_write_record> last_ GUARDED_BY(lock_);
  odp_stats stats_ GUARDED_BY(lock_);
};

}  // namespace guplab
