// skeleton.h - the scenario authors' kit: the frame the device-vs-kernel scenarios share,
// built in one place, and small helpers scenarios kept rewriting.
//
// Skeleton builds the setting of ext4-bug, torn-writeback and lost-update (and of any
// scenario like them): a FileWorld (file_world.h), a stamp clock, a Script, an RDMA-like
// device pinning the file's pages and a PinWitness watching it; then the tasks, declared
// first and spawned together by run(), in the order declared:
//  - device(): "rdma0" registers the file's pages (reg_mr), writes them all, and in an
//    unscripted run goes on writing while the kernel tasks work (Workers), then releases
//    them (dereg_mr, with or without set_page_dirty_lock());
//  - flusher(): "flush", WB_SYNC_NONE writeback passes over the file;
//  - kswapd(): "kswapd", direct-reclaim passes over the machine.
// Scripted, each kernel task makes one pass between its two sync points and the device
// writes once; unscripted, they loop (Workers' bounds) and the scheduler interleaves
// them. finish() is how these scenarios end: sync, the witness's summary, the disk
// oracles and the frame check (world_checks.h).
//
// The other scenarios share pieces of that frame, declared here too: setup_world() (the
// FileWorld and the clock with no device), AnonProcess (a process with an anonymous
// buffer), open_stamped_disk()/close_disk() (the raw disk a direct read reads),
// OtherFile (the second file written after a truncate) and device_rounds() (an RDMA-like
// device's rounds over a process's buffer while the other side works).
//
// Every object a task uses is made on the ScenarioContext (ctx.make), and the tasks
// capture pointers to those only, so a run that unwinds (an oops) leaves nothing
// dangling; the Skeleton itself is a handle that may live on the body's stack.
//
// Threading: the builder from the scenario's body only; the tasks it spawns are the
// scenario's.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "drivers/rdma_device.h"
#include "lab/scenarios/file_world.h"

namespace guplab {

class ScenarioContext;
class Script;
class PinWitness;
class Workers;
struct mm_struct;
class block_device;
struct rw_semaphore;
struct file;

/**
 * frame_at() - the pfn of the page @mm maps at @addr, as GUP sees it (a page not
 * present yet is faulted in for read), or -errno (GUP's: -EFAULT where nothing can be
 * mapped). It pins the page for the look-up and unpins it before returning.
 * REQUIRES: a task of @mm's machine; mmap_lock not held (it takes it for read).
 */
long frame_at(mm_struct* mm, unsigned long addr);

/** How the device task of a Skeleton runs. */
struct device_loop {
  unsigned yields = 2;                    // unscripted: scheduling points after each round of writes
  bool make_dirty = true;                 // dereg_mr(): set_page_dirty_lock() on what it releases
  const char* before_release = nullptr;   // a scenario point passed after the writes, before dereg_mr
};

/** How a kernel task (flusher, kswapd) of a Skeleton runs. */
struct kernel_loop {
  const char* begin = nullptr;  // the scenario's points passed before and after each pass
  const char* end = nullptr;
  unsigned yields = 2;          // unscripted: scheduling points after each pass
  // Called after each pass, before `end`: the pass's number (0-based) and its result
  // (flusher: pages written or -errno; kswapd: pages freed).
  std::function<void(unsigned pass, long result)> after_pass;
};

class Skeleton {
 public:
  explicit Skeleton(ScenarioContext& ctx) : ctx_(ctx) {}

  /**
   * setup() - make the clock and the FileWorld (set up with @o), then the script, the
   * device (@cfg) and a PinWitness watching it. On failure reports "setup failed" (warn)
   * and returns false: the scenario should return.
   */
  bool setup(const file_world_options& o, rdma_config cfg = {});
  /**
   * setup_world() - make the clock and the FileWorld (set up with @o) only: no script,
   * device or witness (the scenario makes its own). On failure reports "setup failed"
   * (warn) and returns false: the scenario should return.
   */
  bool setup_world(const file_world_options& o);
  /** setup_clock() - make the stamp clock only (a scenario with no FileWorld); returns it. */
  StampClock* setup_clock();
  /**
   * setup_device() - make the script, the device (@cfg) and a PinWitness watching it.
   * REQUIRES: setup_world() or setup_clock() first (the device stamps from the clock).
   */
  void setup_device(rdma_config cfg = {});

  /** device() - declare the device task (spawned by run(), with the process's mm). */
  void device(device_loop o);
  /** flusher() - declare a flusher task: WB_SYNC_NONE writeback passes over the file. */
  void flusher(kernel_loop o);
  /** kswapd() - declare a reclaim task: each pass reclaims @scripted_passes times when scripted, once otherwise. */
  void kswapd(kernel_loop o, unsigned scripted_passes = 3);
  /** run() - spawn the declared tasks in the order declared, and join them all. */
  void run();
  /** finish() - sync_and_check() of the file's pages against the device's last writes. */
  void finish();

  StampClock* clock() const { return clock_; }
  FileWorld* world() const { return w_; }
  Script* script() const { return script_; }
  RdmaDevice* dev() const { return dev_; }
  PinWitness* witness() const { return witness_; }

 private:
  enum class Kind { device, flusher, kswapd };
  struct Task {
    Kind kind;
    device_loop dev;
    kernel_loop kernel;
    unsigned scripted_passes = 1;
  };

  ScenarioContext& ctx_;
  StampClock* clock_ = nullptr;
  FileWorld* w_ = nullptr;
  Script* script_ = nullptr;
  RdmaDevice* dev_ = nullptr;
  PinWitness* witness_ = nullptr;
  std::vector<Task> tasks_;
};

/**
 * AnonProcess - a process (an mm) with a private anonymous read-write buffer. Made on
 * the ScenarioContext; a run that ended early (the machine halted) leaves the mm to
 * mm_abandon() in the destructor.
 */
struct AnonProcess {
  mm_struct* mm = nullptr;
  unsigned long addr = 0;
  /**
   * setup() - mm_alloc() and map @npages pages. On failure reports "setup failed: ..."
   * (warn) and returns false: the scenario should return.
   */
  bool setup(ScenarioContext& ctx, unsigned long npages);
  /** exit() - the process's mm goes (mmput). REQUIRES: setup() succeeded; not yet exited. */
  void exit();
  ~AnonProcess();
};

/**
 * open_stamped_disk() - open raw disk @spec ("ram1,size=64K[,latency=...]"), and stamp
 * its first @npages pages with whole-page writes of @writer (page i: dma_stamp{@writer,
 * i, @clock->next()}), recorded in @stamps if given. On failure reports "<name>: why"
 * (warn) and returns nullptr.
 */
block_device* open_stamped_disk(ScenarioContext& ctx, const char* spec, StampClock* clock, unsigned npages,
                                uint32_t writer, std::vector<dma_stamp>* stamps = nullptr);
/** close_disk() - blkdev_put(@bdev) and del_gendisk(@name); a failure is reported (warn). */
void close_disk(ScenarioContext& ctx, block_device* bdev, const char* name);

/**
 * OtherFile - a second file of the FileWorld's filesystem, written page by page with
 * task stamps (what reuses a truncated file's blocks and frames). A run that ended early
 * leaves the file to file_abandon() in the destructor.
 */
struct OtherFile {
  file* f = nullptr;
  std::vector<dma_stamp> written;  // per page: the stamp written, or dma_stamp{} where the write failed
  /**
   * create() - open @path (O_CREAT | O_TRUNC) and write @npages stamped pages. A failed
   * open or write is reported (warn) as failed, never later as a lost update. Returns
   * false where the file could not be opened.
   * REQUIRES: a task of the scenario; called once.
   */
  bool create(ScenarioContext& ctx, StampClock* clock, const char* path, unsigned npages);
  /** close() - filp_close() the file, if open. */
  void close();
  ~OtherFile();
};

/** How device_rounds() runs. */
struct device_rounds_options {
  const char* each_round = nullptr;  // a scenario point passed before each round's writes
  rw_semaphore* turn = nullptr;      // held for write around each round's writes, if set
  unsigned yields = 2;               // unscripted: scheduling points after each round
  bool make_dirty = true;            // dereg_mr(): set_page_dirty_lock() on what it releases
};

/**
 * device_rounds() - what an RDMA-like device task does with a process's buffer:
 * reg_mr(@addr, @npages), then rounds of whole-buffer writes (dma_write_all()): one when
 * scripted, else while @others keep_going(), then dereg_mr(). Returns 0, or reg_mr()'s
 * error (reported as "reg_mr failed", warn; nothing registered).
 * REQUIRES: a task in the buffer's mm.
 */
int device_rounds(ScenarioContext& ctx, RdmaDevice* dev, unsigned long addr, unsigned long npages,
                  const Workers* others, const device_rounds_options& o);

}  // namespace guplab
