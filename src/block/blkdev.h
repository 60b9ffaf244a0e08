// blkdev.h - block devices: the queue every driver shares (include/linux/blkdev.h,
// block/blk-mq.c, folded into one class, struct block_device), and plugging.
//
// A block_device has a name, a capacity in 512-byte sectors, queue limits (logical
// block size, largest request, most segments, buffer alignment) and a queue depth: at
// most that many requests are in flight, and submitters sleep for a free slot (a tag)
// when the queue is full. Each device runs one completion task, the model's interrupt
// context ("irq/<name>"), started by the device: every bio's bi_end_io runs there,
// inside irq_enter()/irq_exit() (base/preempt.h), so a bi_end_io that sleeps is
// reported as "sleeping function called from invalid context". What a completion must
// not do there it queues to the device's deferred-completion workqueue (a worker task,
// "kworker/<name>", started and stopped with the device): bio_release_pages() does so
// for pages whose release may sleep (block/bio.h). flush_deferred() waits for it; sync
// (fs/writeback.h), umount and stop() flush it.
//
// Drivers (block/ramdisk.h, block/uring.h) derive from it and implement queue_rq()
// (start one request, in the submitter), commit_rqs() (end of a plugged batch), and
// completion_loop() (the completion task's body, which ends requests with
// end_request()). Devices are created and registered on a Machine through
// block/genhd.h.
//
// Polled completion (the kernel's REQ_POLLED, bio_poll()): a device that can_poll()
// gives a REQ_POLLED request to a queue of the submitting task's own (a poll queue)
// instead of the completion task, and the request completes only when that task calls
// bdev_poll(): its end_request() and bi_end_io then run in the polling task, still in
// interrupt context (irq_enter()). A device that cannot poll, or has no poll queue free,
// completes the request as any other. A task with polled requests outstanding must poll
// rather than sleep for what they hold: get_request() polls before it sleeps for a tag.
//
// Fault injection: set_fault_inject() makes chosen requests (the Nth from now, or
// those touching a sector range) complete with BLK_STS_IOERR without reaching the medium.
//
// Threading: submit from any task of the device's machine. end_request() only from the
// completion task. Accessors are safe from any thread. A driver's factory calls start()
// once the object is complete; its destructor calls stop() first. The completion task is
// a task like any other: under the sim backend, create and remove devices inside the
// machine's run, so that the run can end.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/task.h"
#include "base/wait.h"
#include "base/workqueue.h"
#include "block/bio.h"
#include "block/blk_types.h"

namespace guplab {

class Machine;
class block_device;
struct blk_plug;

/** queue_limits - what one request may look like on a device. */
struct queue_limits {
  unsigned logical_block_size = 512;   // I/O offsets and sizes are multiples of it
  unsigned physical_block_size = 512;
  unsigned max_sectors = 2560;         // largest request, in 512-byte sectors (1280 KiB)
  unsigned max_segments = 128;         // most segments in one request
  unsigned dma_alignment = 511;        // mask: each segment's offset and length
};

/**
 * struct request - one I/O a device is working on (the kernel's blk-mq request, tag
 * included). The block layer fills it; the driver owns it from queue_rq() until
 * end_request().
 */
struct request {
  block_device* q = nullptr;
  bio* rq_bio = nullptr;        // the bio (or split) this request does
  unsigned tag = 0;             // index in the device's request table
  blk_status_t status = BLK_STS_OK;  // preset by the block layer: fail without touching the medium
  unsigned bytes = 0;           // bi_size at dispatch
  uint64_t start_ns = 0;        // ktime_get_ns() at dispatch
  uint64_t deadline_ns = 0;     // driver use
  request* rq_next = nullptr;   // driver lists
};

/** blk_fault_inject - requests a device fails with BLK_STS_IOERR (lab). */
struct blk_fault_inject {
  uint64_t fail_nth = 0;        // fail the Nth matching request dispatched from now (1 = next); 0 = off
  sector_t fail_sector = 0;     // fail matching requests that touch [fail_sector,
  sector_t fail_nr_sectors = 0; //   fail_sector + fail_nr_sectors), every time; 0 = off
  bool reads = true;            // which requests match
  bool writes = true;
  bool flushes = false;
};

/** blk_dev_stats - a device's counters; exact once it is quiet. */
struct blk_dev_stats {
  uint64_t reads = 0, writes = 0, flushes = 0;  // requests dispatched
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t completed = 0;     // requests ended
  uint64_t errors = 0;        // requests ended with a non-OK status
  uint64_t injected = 0;      // of which by fault injection
  uint64_t splits = 0;        // bios split to fit the limits
  unsigned max_inflight = 0;  // most requests in flight at once
  uint64_t deferred = 0;      // completion work queued to the worker (deferred_work())
  uint64_t deferred_done = 0; // of which run
};

class block_device {
 public:
  virtual ~block_device();
  block_device(const block_device&) = delete;
  block_device& operator=(const block_device&) = delete;

  const std::string& name() const { return name_; }
  Machine* machine() const { return machine_; }
  /** nr_sectors() - capacity in 512-byte sectors. */
  sector_t nr_sectors() const { return nr_sectors_; }
  const queue_limits& limits() const { return limits_; }
  unsigned queue_depth() const { return depth_; }
  /** describe() - one line: kind, size, depth, and the driver's settings. */
  virtual std::string describe() const = 0;

  /** completion_task() - the device's interrupt context, or nullptr once stopped. */
  task_struct* completion_task() const { return completion_task_.load(std::memory_order_acquire); }
  /** in_completion_context() - is the running task this device's completion task? */
  bool in_completion_context() const;
  /**
   * sim_run_ended() - the sim run that started the completion task is over, and every
   * task of it has ended with it: the device is offline, with no completion task to stop.
   * REQUIRES: outside any run of the machine.
   */
  void sim_run_ended();

  /**
   * deferred_work() - the device's deferred-completion workqueue: what a bi_end_io may
   * not do in interrupt context it queues here (queue_work() never sleeps).
   */
  workqueue_struct& deferred_work() { return deferred_wq_; }
  /** flush_deferred() - wait until every completion work queued so far has run. REQUIRES: process context. */
  void flush_deferred() { deferred_wq_.flush(); }
  /**
   * set_release_inline() - lab knob: bio_release_pages() releases in interrupt context
   * even when that may sleep (the might_sleep() report shows why it must not).
   */
  void set_release_inline(bool on) { release_inline_.store(on, std::memory_order_relaxed); }
  bool release_inline() const { return release_inline_.load(std::memory_order_relaxed); }

  /** nr_inflight() - requests holding a tag now. */
  unsigned nr_inflight() const;
  blk_dev_stats stats() const;

  /** set_fault_inject() - from now on fail what @fi selects (resets the Nth count). */
  void set_fault_inject(const blk_fault_inject& fi);
  void clear_fault_inject() { set_fault_inject(blk_fault_inject{}); }

  /** Openers (blkdev_get_by_path()/blkdev_put()); the registry refuses to remove an open device. */
  std::atomic<int> bd_openers{0};
  /** The options string the device was created with (genhd.cc compares re-opens). */
  std::string bd_spec;
  /** The frames behind the device's sectors if it can do fs-DAX (block/pmem.h), else null. */
  struct dax_device* bd_dax = nullptr;

 protected:
  /** REQUIRES: @depth >= 1; @lim.logical_block_size a power of two >= 512; @lim.max_sectors
   *  a multiple of the logical block size in sectors. */
  block_device(Machine* m, std::string name, sector_t nr_sectors, const queue_limits& lim, unsigned depth);

  /** start() - spawn the completion task and the deferred-completion worker. The driver's factory calls it once. */
  void start();
  /**
   * stop() - refuse new I/O (BLK_STS_OFFLINE), commit anything queued, wait for every
   * request in flight to end, flush and stop the deferred-completion worker, and join
   * the completion task. The driver's destructor
   * calls it first. If the machine has oopsed it does not wait for requests.
   */
  void stop();
  /** kthread_should_stop() - for completion_loop(): return once this is true and the queue is empty. */
  bool kthread_should_stop() const { return should_stop_.load(std::memory_order_acquire); }

  // ---- what a driver implements -------------------------------------------------------
  /**
   * queue_rq() - start @rq (called in the submitter). @last is false inside a plug:
   * more requests follow and commit_rqs() ends the batch. If rq->status is not OK the
   * driver must end the request with that status without doing the I/O.
   */
  virtual void queue_rq(request* rq, bool last) = 0;
  /** commit_rqs() - start everything queue_rq() was given with last == false. */
  virtual void commit_rqs() = 0;
  /** completion_loop() - the completion task's body. */
  virtual void completion_loop() = 0;
  /** wake_completion_task() - make completion_loop() notice kthread_should_stop(). */
  virtual void wake_completion_task() = 0;

 public:
  /** can_poll() - does the device complete REQ_POLLED requests in their submitter? (default: no) */
  virtual bool can_poll() const { return false; }
  /**
   * poll() - reap the running task's polled requests (see bdev_poll()). The default, for
   * a device that cannot poll, has none: 0.
   */
  virtual int poll(bool /*spin*/) { return 0; }

 protected:

  /**
   * end_request() - @rq is done with @error: free its tag, then complete its bio
   * (bio_endio(), which calls bi_end_io), both in interrupt context (irq_enter()).
   * REQUIRES: in the completion task.
   */
  void end_request(request* rq, blk_status_t error);
  /**
   * end_polled_request() - as end_request(), for a REQ_POLLED request reaped by its
   * submitter in poll(). REQUIRES: in the task that polls @rq's poll queue.
   */
  void end_polled_request(request* rq, blk_status_t error);

 private:
  friend void blk_mq_submit_bio(block_device* bdev, bio* bio, blk_status_t preset);
  friend void blk_flush_plug(blk_plug* plug);
  friend void blk_count_split(block_device* bdev);

  /** get_request() - a free request, sleeping for one unless @nowait; nullptr if none or offline. */
  request* get_request(bool nowait, bool* offline);
  void put_request(request* rq);
  blk_status_t fault_check(const bio* bio);

  Machine* const machine_;
  const std::string name_;
  const sector_t nr_sectors_;
  const queue_limits limits_;
  const unsigned depth_;
  const unsigned wake_batch_;
  std::atomic<task_struct*> completion_task_{nullptr};
  std::atomic<bool> should_stop_{false};
  workqueue_struct deferred_wq_;
  std::atomic<bool> release_inline_{false};

  std::vector<request> rqs_;  // the request table, one per tag; size fixed at construction
  mutable spinlock_t tag_lock_;
  std::vector<unsigned> free_tags_ GUARDED_BY(tag_lock_);
  bool offline_ GUARDED_BY(tag_lock_) = false;
  std::atomic<unsigned> nr_free_{0};
  wait_queue_head_t tag_wait_;

  spinlock_t fault_lock_;
  blk_fault_inject fault_ GUARDED_BY(fault_lock_);
  uint64_t fault_seen_ GUARDED_BY(fault_lock_) = 0;
  std::atomic<bool> fault_on_{false};

  struct counters {
    std::atomic<uint64_t> reads{0}, writes{0}, flushes{0}, read_bytes{0}, write_bytes{0};
    std::atomic<uint64_t> completed{0}, errors{0}, injected{0}, splits{0};
    std::atomic<unsigned> max_inflight{0};
  } st_;
};

// ---- queries (kernel names) ---------------------------------------------------------
inline sector_t bdev_nr_sectors(const block_device* bdev) { return bdev->nr_sectors(); }
inline unsigned bdev_logical_block_size(const block_device* bdev) { return bdev->limits().logical_block_size; }
inline unsigned bdev_max_segments(const block_device* bdev) { return bdev->limits().max_segments; }
inline unsigned bdev_dma_alignment(const block_device* bdev) { return bdev->limits().dma_alignment; }
inline const char* bdev_name(const block_device* bdev) { return bdev->name().c_str(); }

/**
 * bdev_poll() - the kernel's bio_poll() for the running task: reap whatever of its
 * REQ_POLLED requests on @bdev has completed, ending them (bi_end_io runs here), after
 * waiting for at least one if none has. @spin (IOCB_HIPRI, fio's hipri=1) lets a device
 * that really polls spin on its completion queue; the uring device does not (it blocks
 * in the host until the host completes one: one host wake-up). Returns the requests
 * ended (> 0), 0 if the task has no polled request outstanding on @bdev (then whatever it waits for
 * completes in the completion task: sleep for it), or a device that cannot poll.
 * REQUIRES: a model task, not in interrupt context.
 */
inline int bdev_poll(block_device* bdev, bool spin) { return bdev->poll(spin); }

// ---- plugging -------------------------------------------------------------------------
/** BLK_MAX_REQUEST_COUNT - a plug is flushed once it holds this many requests. */
inline constexpr unsigned BLK_MAX_REQUEST_COUNT = 32;

/**
 * struct blk_plug - a task's batch of submissions: between blk_start_plug() and
 * blk_finish_plug(), submit_bio() queues requests without starting them, and the
 * batch is started at once (one io_uring_submit() for the uring device). The plug is
 * also flushed when it fills, when the task must sleep for a queue slot, and by
 * submit_bio_wait(). Lives on the task's stack; current()->plug points to it.
 * A task must not sleep on anything else while it has plugged requests: flush first.
 */
struct blk_plug {
  static constexpr unsigned kMaxDevs = 4;
  block_device* devs[kMaxDevs] = {};
  unsigned nr_devs = 0;
  unsigned rq_count = 0;
};

/** blk_start_plug() - start batching in the running task (nested plugs are ignored). */
void blk_start_plug(blk_plug* plug);
/** blk_finish_plug() - start what was batched and stop batching. */
void blk_finish_plug(blk_plug* plug);
/** blk_flush_plug() - start what was batched; keep batching. */
void blk_flush_plug(blk_plug* plug);

}  // namespace guplab
