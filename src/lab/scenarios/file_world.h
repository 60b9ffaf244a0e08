// file_world.h - the setting of the file-backed seed scenarios: a small ext4 on a
// ramdisk (or, with dax, on the machine's pmem0 mounted -o dax) mounted at /mnt, and one application process that wrote a file of stamped
// pages (drivers/dma_stamp.h), synced it, and maps it MAP_SHARED.
//
// What the scenarios need around that: a writeback pass over the file (the flusher's
// WB_SYNC_NONE work, waited for), sync(2), reclaim, and the oracles' view of the disk
// (the page image at the sectors that hold each file page, read straight from the
// medium). It records the newest write of each page by the task (setup and later
// stores) so the lost-update oracle can compare with the device's, and the pages the
// process discarded on purpose (task_discard()), so that it does not call those lost.
//
// Teardown: close() unmaps, closes and unmounts on the normal path. After an oops the
// machine is halted and nothing of it may sleep or lock any more, so the destructor then
// abandons the model's objects to the machine's crash teardown instead (the mount table
// drops the page cache; the process's address space is reaped without locks).
//
// Threading: setup() and close() from the scenario's body (a task of the machine);
// the accessors from any task of the scenario; the records are under a lock.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "block/blk_types.h"
#include "drivers/dma_stamp.h"
#include "fs/fs.h"
#include "fs/writeback.h"
#include "lab/oracles.h"

namespace guplab {

class Machine;
class ScenarioContext;
struct mm_struct;
struct file;

struct file_world_options {
  unsigned npages = 1;                // pages of the file
  uint64_t disk_bytes = 1ull << 20;   // the ramdisk
  uint64_t disk_latency_ns = 0;       // per-request latency of the ramdisk
  bool map = true;                    // map the file MAP_SHARED in the process
  const char* name = "data";          // the file is /mnt/<name>
  bool dax = false;                   // ext4 -o dax on the machine's pmem0 (fs/dax.h) instead
                                      // of a ramdisk: disk_bytes and disk_latency_ns unused
};

class FileWorld {
 public:
  /**
   * setup() - mkfs and mount, create the file with one stamped task write per page,
   * fsync it, and (with @o.map) map it shared in a new process. Returns 0 or -errno
   * (the scenario should report it: the machine could not be set up).
   * REQUIRES: the scenario's body task; called once.
   */
  int setup(ScenarioContext& ctx, StampClock* clock, const file_world_options& o = {});
  /**
   * close() - munmap, close the file, unmount, drop the process, remove the ramdisk.
   * Returns 0, or umount's (or del_gendisk's) error. The disk cannot be read afterwards.
   */
  int close();

 private:
  int setup_world(ScenarioContext& ctx, StampClock* clock, const file_world_options& o);

 public:
  /** Abandons what is left to the machine's crash teardown (see the header comment). */
  ~FileWorld();

  Machine* machine() const { return m_; }
  mm_struct* mm() const { return mm_; }
  file* filp() const { return filp_; }
  inode* ino() const;
  address_space* mapping() const;
  unsigned long addr() const { return addr_; }
  unsigned long npages() const { return npages_; }
  block_device* bdev() const { return bdev_; }

  /** task_store() - the process stores a new stamped task write into page @i through its mapping. */
  int task_store(unsigned long i);
  /** task_write() - the process writes a new stamped task write into page @i with write(2). */
  int task_write(unsigned long i);
  /** task_last() - the newest task write of page @i (setup's, or a later one). */
  dma_stamp task_last(unsigned long i) const;
  /**
   * task_discard() - record that the process threw page @i's contents away on purpose
   * (MADV_DONTNEED of a private mapping, a truncate): the oracles then expect no write
   * from before now back (check_lost()). Returns the StampClock generation recorded. The
   * caller does the discarding itself.
   */
  uint64_t task_discard(unsigned long i);
  /** task_discarded() - the generation of page @i's last discard, or 0. */
  uint64_t task_discarded(unsigned long i) const;

  /**
   * writeback_pass() - what the flusher does for this file: start writeback of every
   * dirty page in @mode and wait for the writes started. Returns pages written or -errno.
   */
  long writeback_pass(writeback_sync_modes mode);
  /** sync() - sync(2) for the whole filesystem. */
  int sync();
  /** fsync() - fsync(2) of the file. */
  int fsync();
  /** reclaim() - @passes direct-reclaim passes over the machine; returns pages freed. */
  unsigned long reclaim(unsigned passes);

  /** disk_sector() - the first sector holding page @i of the file on disk, or 0 (a hole). */
  sector_t disk_sector(unsigned long i) const;
  /** disk_page() - page @i of the file as the medium holds it. 0, or -errno. */
  int disk_page(unsigned long i, PageImage* out) const;
  /** page_name() - "page 0 of /mnt/data (sector 2056)", for oracle findings. */
  std::string page_name(unsigned long i) const;

 private:
  Machine* m_ = nullptr;
  StampClock* clock_ = nullptr;
  std::string path_;
  std::string dir_;
  std::string disk_ = "ram0";     // the device's name ("pmem0" with dax)
  block_device* bdev_ = nullptr;  // the ramdisk (not held open: it lives with the machine)
  mm_struct* mm_ = nullptr;
  file* filp_ = nullptr;
  unsigned long addr_ = 0;
  unsigned long npages_ = 0;
  bool mounted_ = false;
  mutable spinlock_t lock_;
  std::vector<dma_stamp> task_last_ GUARDED_BY(lock_);
  std::vector<uint64_t> discarded_ GUARDED_BY(lock_);
  mutable std::vector<sector_t> sectors_ GUARDED_BY(lock_);  // looked up once blocks exist
};

}  // namespace guplab
