// genhd.h - a machine's block devices by name (block/genhd.c, block/bdev.c): creating
// them from a spec string, registering, opening and removing them.
//
// Specs, as `guplab fio --device SPEC` and the filesystem take them:
//   ram<N>[,size=64M][,latency=20us][,depth=64][,lbs=512][,chunk=512][,generations=on|off]
//       a ramdisk (block/ramdisk.h), created on first open; lbs a power of two from 512
//       to PAGE_SIZE, size a positive multiple of it
//   pmem0[,latency=0][,depth=64][,chunk=512]
//       the machine's pmem region (block/pmem.h: MachineConfig::pmem_bytes), DAX-capable
//   uring:PATH[,depth=64][,size=1G][,ro=on|off]
//       a host file or block device through io_uring with O_DIRECT (block/uring.h);
//       size= creates the file if missing and grows it to at least that size; ro=on
//       opens it read-only (writes fail), not with size=
// The device's name is the spec up to the first comma ("ram0", "uring:/var/tmp/disk").
// Re-opening by name returns the same device; options given again must match the
// ones it was created with (-EEXIST otherwise).
//
// Threading: any thread. Devices live until del_gendisk() or the machine's end; a
// device that is open (blkdev_get_by_path() without blkdev_put()) cannot be removed.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/raw_spinlock.h"
#include "block/blkdev.h"

namespace guplab {

class Machine;

/** BlockLayer - the device table of one Machine (Machine::block()). */
class BlockLayer {
 public:
  explicit BlockLayer(Machine* m) : machine_(m) {}
  /** Stops and frees every device (in-flight I/O completes first). */
  ~BlockLayer();
  BlockLayer(const BlockLayer&) = delete;
  BlockLayer& operator=(const BlockLayer&) = delete;

  /** add_disk() - register @disk under its name. Returns 0, or -EEXIST (@disk is freed). */
  int add_disk(std::unique_ptr<block_device> disk);
  /** del_gendisk() - stop and free the device @name. Returns 0, -ENOENT or -EBUSY (open). */
  int del_gendisk(std::string_view name);
  /**
   * open() - the device @spec names, created and registered if it does not exist;
   * counts an opener. Returns the device or ERR_PTR(-errno), with a message in *@err.
   */
  block_device* open(std::string_view spec, std::string* err);
  /** close() - drop an opener taken by open(). */
  void close(block_device* bdev);
  /** lookup() - the device named @name, or nullptr; not counted as an opener. */
  block_device* lookup(std::string_view name) const;
  /** names() - registered device names, sorted. */
  std::vector<std::string> names() const;
  /**
   * flush_deferred() - wait until the completion work every device has queued so far
   * (block_device::flush_deferred()) has run: the kernel's completions defer to one
   * system workqueue, and sync must see its unpins whichever device completed the I/O.
   * REQUIRES: process context; no device is being deleted meanwhile (del_gendisk()).
   */
  void flush_deferred();
  /** sim_run_ended() - block_device::sim_run_ended() for every device (Machine::run()). */
  void sim_run_ended();

 private:
  Machine* const machine_;
  mutable RawSpinlock lock_;
  std::map<std::string, std::unique_ptr<block_device>, std::less<>> disks_ GUARDED_BY(lock_);
};

/**
 * create_block_device() - make (but do not register) the device @spec describes.
 * Returns 0 or -errno with a message in *@err: -ENODEV (unknown kind), -EINVAL (bad
 * option), or the driver's error.
 */
int create_block_device(Machine* m, std::string_view spec, std::unique_ptr<block_device>* out, std::string* err);

// ---- kernel names ------------------------------------------------------------------
/** blkdev_get_by_path() - open the device @spec names on @m (see BlockLayer::open()). */
block_device* blkdev_get_by_path(Machine* m, std::string_view spec, std::string* err = nullptr);
/** blkdev_put() - close a device opened with blkdev_get_by_path(). */
void blkdev_put(block_device* bdev);
/** add_disk() / del_gendisk() - register / remove a device of @m. */
int add_disk(Machine* m, std::unique_ptr<block_device> disk);
int del_gendisk(Machine* m, std::string_view name);

}  // namespace guplab
