// ramdisk.h - the embedded default block device: storage in a plain host buffer owned
// by the device (outside the machine's RAM), a per-request latency, a queue depth.
//
// The completion task is the device's "DMA engine": it takes requests in order, waits
// until each is due (dispatch time + latency, on base/clock: virtual under sim, real
// natively), copies between the bio's page frames (page_address()) and the storage,
// and ends the request. Copies go in chunks of dma_chunk bytes with a scheduling point
// between chunks, so a CPU store into a page under DMA can land between two chunks
// (a torn page), as on real hardware; page words are read and written with relaxed
// atomics, the defined form of a device racing the CPU.
//
// Oracle hooks: read_sectors()/write_sectors() reach the storage directly, and, when
// track_generations is on (the default, 8 bytes per sector), each sector remembers the
// generation of the write that last stored it: write requests are numbered 1, 2, ...
// in the order the device performs them.
//
// Scripting hook: after each chunk of a request's copy the completion task passes the
// sync point "ramdisk:dma:chunk" (storage lock held), and dma_cursor() tells a callback
// there which request and how far: so a scenario can land a device's write in a page
// exactly between two chunks of the block layer's DMA. Callbacks there must not read
// the storage (read_sectors() would wait for the lock the copy holds).
//
// Host buffers: on a machine booted from a BootCache (machine/boot_cache.h) the storage
// and the generations come from its HostBufferCache and go back to it, zeroed where a
// write touched them, when the device goes; otherwise they are mapped and unmapped.
//
// Threading: as block_device. The hooks may be called from any thread; they see each
// request's storage update whole (the storage lock is held across one request's copy).
// dma_cursor() is meant for the completion task itself (a "ramdisk:dma:chunk" callback).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/wait.h"
#include "block/blkdev.h"
#include "block/host_buffer_cache.h"

namespace guplab {

struct ramdisk_config {
  uint64_t size_bytes = 64ull << 20;  // a non-zero multiple of the logical block size
  uint64_t latency_ns = 0;            // each request completes this long after dispatch
  unsigned queue_depth = 64;
  queue_limits limits{};              // dma_alignment must be at least 7 (8-byte words)
  bool track_generations = true;      // keep the per-sector last-write record
  unsigned dma_chunk = SECTOR_SIZE;   // bytes copied between scheduling points (multiple of 8)
  char* storage = nullptr;            // external storage, not owned (pmem: the region's frames,
                                      // block/pmem.h); null: the device maps its own
};

class ramdisk final : public block_device {
 public:
  /**
   * ramdisk::create() - a started ramdisk named @name on @m (not registered: see
   * add_disk() in block/genhd.h).
   * Returns 0, -EINVAL (bad config) or -ENOMEM (no host memory for the storage).
   */
  static int create(Machine* m, std::string name, const ramdisk_config& cfg, std::unique_ptr<ramdisk>* out);
  ~ramdisk() override;

  std::string describe() const override;
  const ramdisk_config& config() const { return cfg_; }

  /**
   * read_sectors() - copy @nr sectors from @sector out of the storage into @buf and,
   * if @gens is not null, each sector's last-write generation (0: never written; all 0
   * when tracking is off). Returns 0 or -EINVAL (out of range).
   */
  int read_sectors(sector_t sector, unsigned nr, void* buf, uint64_t* gens = nullptr) const;
  /** write_sectors() - store @buf directly (a new generation). Returns 0 or -EINVAL. */
  int write_sectors(sector_t sector, unsigned nr, const void* buf);
  /** sector_generation() - the generation that last wrote @sector (0: never; or out of range). */
  uint64_t sector_generation(sector_t sector) const;
  /** write_generation() - the number of writes performed so far (the newest generation). */
  uint64_t write_generation() const;

  /** Where the copy of the request being performed stands (see "ramdisk:dma:chunk"). */
  struct dma_cursor_t {
    bool active = false;     // a request's copy is in progress
    bool write = false;      // to the medium
    sector_t sector = 0;     // the request's first sector
    unsigned bytes_done = 0; // bytes of the request copied so far
    const page* page_ = nullptr;  // the page of the segment being copied
  };
  /** dma_cursor() - the current copy's position. REQUIRES: called in the completion task. */
  dma_cursor_t dma_cursor() const;

 private:
  ramdisk(Machine* m, std::string name, const ramdisk_config& cfg, char* storage, uint64_t* gens,
          HostBufferCache* bufs);
  static constexpr uint64_t kDirtyBlock = 4096;  // what mark_dirty() records, in bytes
  static uint64_t gens_bytes(const ramdisk_config& cfg) { return (cfg.size_bytes >> SECTOR_SHIFT) * sizeof(uint64_t); }
  /** mark_dirty() - @bytes from @sector were written (zeroed before the buffers go back). */
  void mark_dirty(sector_t sector, uint64_t bytes) REQUIRES(storage_lock_);

  void queue_rq(request* rq, bool last) override;
  void commit_rqs() override;
  void completion_loop() override;
  void wake_completion_task() override;
  blk_status_t do_request(request* rq);

  const ramdisk_config cfg_;
  mutable spinlock_t storage_lock_;  // guards the storage, the generations and write_seq_
  char* const storage_ PT_GUARDED_BY(storage_lock_);   // mmap'ed, cfg_.size_bytes
  uint64_t* const gens_ PT_GUARDED_BY(storage_lock_);  // mmap'ed, one per sector, or nullptr
  uint64_t write_seq_ GUARDED_BY(storage_lock_) = 0;
  HostBufferCache* const bufs_;  // null: the buffers are our own mappings
  std::vector<uint64_t> dirty_ GUARDED_BY(storage_lock_);  // with bufs_: a bit per kDirtyBlock written
  dma_cursor_t cursor_;  // written and read by the completion task only

  spinlock_t queue_lock_;
  request* head_ GUARDED_BY(queue_lock_) = nullptr;
  request* tail_ GUARDED_BY(queue_lock_) = nullptr;
  wait_queue_head_t wq_;
};

}  // namespace guplab
