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
// DMA goes through the machine's IOMMU model (drivers/iommu.h): reg_mr() maps the
// pinned frames into the device's domain, each chunk of a write is one transfer
// translated there, and dereg_mr() unmaps the domain before it unpins.
//
// Listening (rdma_config::listens, seed 003's "revoke through mmu notifier"): reg_mr()
// first registers an mmu notifier on the mm. An invalidation with event TRUNCATE or
// UNMAP that overlaps the registered range revokes the whole registration, in the
// invalidating task: (1) the domain's entries are pointed at the scratch frame -- the
// IOMMU lock is the fence: a chunk already translated finishes first, every later
// chunk (of the write in progress too) lands in the scratch page; (2) every page still
// held is released as dereg_mr() does (unpin_user_pages_dirty_lock(), dirty; under
// fake_vma, whose unpin takes i_mmap_rwsem, at the device's next write or dereg_mr()
// instead, since truncate's invalidation holds it); (3) the
// user is told: a record (revoke_events()), the on_revoke callback, a trace line.
// Other events (CLEAR, PROTECTION_*, MIGRATE) leave a pinned registration alone: the
// pins keep the frames, and what writeback does with them is the policy's business.
// ->release at exit_mmap revokes too. A listener can also hold a layout lease on the
// file (set_layout_lease(), fs/locks.h): a break is reported to the user the same way
// (lease_broken()); a user that does not dereg_mr() within lease_break_time loses the
// lease, and the notifier's revoke follows.
//
// Threading: reg_mr() runs in a task whose mm holds the range. Writes may come from
// any task of the machine (the device's own task from start(), or a sync-point
// callback: a DMA landing at that instant). The records are under lock_; page frames
// are written with relaxed atomic words, under the IOMMU's lock. dereg_mr() must not
// race a write; a revoke may race both (each page is released by exactly one of them).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "drivers/dma_stamp.h"
#include "fs/locks.h"
#include "mm/mm_types.h"
#include "mm/mmu_notifier.h"

namespace guplab {

class Machine;
struct task_struct;
struct iommu_domain;

/** What the device told its user (a listening device only). */
struct rdma_revoke_event {
  std::string what;            // "lease-break", "lease-revoked" or "revoke"
  std::string event;           // revoke: the notifier's event ("truncate", "unmap", "release")
  unsigned long unpinned = 0;  // revoke: pages it released
  uint64_t generation = 0;     // the StampClock's last generation when it happened
};

struct rdma_config {
  std::string name = "rdma0";
  uint32_t writer = 1;    // the stamp's writer id (0 is reserved for task stores)
  bool fast = true;       // pin with pin_user_pages_fast(), else pin_user_pages_unlocked()
  bool longterm = true;   // FOLL_LONGTERM
  uint64_t chunk_pace_ns = 0;  // sleep between chunks of a write (0: none)
  // A remote peer's write arrives when it arrives: before each write the device waits a
  // time drawn from the device task's seeded stream, uniform in [0, write_gap_max_ns)
  // (0: it writes at once).
  uint64_t write_gap_max_ns = 0;
  bool listens = false;        // register an mmu notifier at reg_mr() and revoke on TRUNCATE/UNMAP
  /** Called (in the notifying task, must not sleep) for every revoke_events() record. */
  std::function<void(const rdma_revoke_event&)> on_revoke;
};

/** What the device last wrote to one page of its range. */
struct rdma_write_record {
  dma_stamp stamp;          // generation 0: never written
  unsigned chunks_done = 0; // how many chunks of that write have landed (kStampChunks: whole)
  unsigned long pfn = 0;    // the frame its first chunk went to (kScratchPfn: the scratch page)
  unsigned scratch_chunks = 0;  // chunks that landed in the scratch page (the device was revoked)
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
   * long-term, and map them in the device's IOMMU domain. All or nothing: a short pin
   * is released and reported as -EFAULT. A listening device registers its notifier
   * first; an invalidation of the range while pinning makes it release and pin again
   * (-EAGAIN after 3 tries). Returns 0 or the pin call's -errno.
   * REQUIRES: running in a task with an mm; @addr page aligned; nothing registered.
   */
  int reg_mr(unsigned long addr, unsigned long npages);
  /** registered() - is a range registered (its pages may have been revoked since)? */
  bool registered() const;
  unsigned long nr_pages() const;
  /**
   * pinned_page() - the page the device holds at index @i, or null once revoked.
   * REQUIRES: registered, @i in range.
   */
  page* pinned_page(unsigned long i) const;
  /** iommu_domain() - the device's IOVA table (index i: page i of the range). */
  struct iommu_domain* domain() const { return domain_; }

  /**
   * set_layout_lease() - the device's user takes a layout lease on @filp (fs/locks.h);
   * held until dereg_mr() or until revoked. Returns vfs_setlease()'s result.
   * REQUIRES: a listening device; no lease held.
   */
  int set_layout_lease(file* filp);
  /** lease_broken() - has the user been told to let go (a lease break)? */
  bool lease_broken() const;
  /** revoked() - did a notifier revoke the registration? */
  bool revoked() const;
  /** revoke_events() - what the user was told, in order (since the last reg_mr()). */
  std::vector<rdma_revoke_event> revoke_events() const;

  /**
   * dma_write() - write chunks [@first, @first + @count) of a new generation into page
   * @i, one chunk at a time, each followed by "<name>:chunk". Returns the write's stamp.
   * REQUIRES: registered; @i < nr_pages(); @first + @count <= kStampChunks, @count > 0.
   */
  dma_stamp dma_write(unsigned long i, unsigned first = 0, unsigned count = kStampChunks);
  /** dma_write_all() - dma_write() a whole new generation to every page of the range. */
  void dma_write_all();

  /**
   * dereg_mr() - the driver's release, seed 002's pattern: unmap the IOMMU domain; with
   * @make_dirty, set_page_dirty_lock() each page still held, then unpin
   * (unpin_user_pages_dirty_lock()); unregister the notifier and drop the lease.
   * REQUIRES: registered; no write in progress; the registering mm still alive.
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
  /** The registration's side of a revoke (notifier or release): see the header comment. */
  void revoke(mmu_notifier_event e);
  void tell_user(rdma_revoke_event ev);
  /** Unpin what a revoke handed over (see revoke()); from the driver's own calls. */
  void release_deferred();
  /** Take page @i out of the records; returns it (null if already released). */
  page* take_page(unsigned long i);
  static int notifier_start(mmu_notifier* mn, const mmu_notifier_range* r);
  static void notifier_release(mmu_notifier* mn, mm_struct* mm);
  static void lease_break(file_lease* fl);
  static void lease_revoked(file_lease* fl);
  static const mmu_notifier_ops kNotifierOps;
  static const lease_manager_operations kLeaseOps;
  struct Listener {
    mmu_notifier mn;  // first: the callbacks get &mn
    RdmaDevice* dev = nullptr;
  };

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

  struct iommu_domain* const domain_;                   // the device's IOVA table (Machine::iommu())
  unsigned long nr_ GUARDED_BY(lock_) = 0;              // pages registered (pages_ may hold nulls)
  unsigned long span_ GUARDED_BY(lock_) = 0;            // pages of the range the notifier watches
  std::vector<page*> deferred_ GUARDED_BY(lock_);       // revoked, unpinned in the driver's context
  uint64_t inval_seq_ GUARDED_BY(lock_) = 0;            // overlapping TRUNCATE/UNMAP seen (reg_mr's retry)
  bool deregistering_ GUARDED_BY(lock_) = false;        // dereg_mr() in progress: release is not a revoke
  bool revoked_ GUARDED_BY(lock_) = false;
  bool lease_broken_ GUARDED_BY(lock_) = false;
  std::vector<rdma_revoke_event> events_ GUARDED_BY(lock_);
  Listener listener_;
  mm_struct* mm_ = nullptr;  // where listener_ is registered (reg_mr/dereg_mr's task only)
  file_lease lease_;
  std::atomic<bool> lease_held_{false};
};

}  // namespace guplab
