// pmem.h - a pmem-like device (drivers/nvdimm/pmem.c, the kernel's memmap=nn!ss): a range
// of the machine's own page frames, reserved at boot (MachineConfig::pmem_bytes), that is
// both a block device ("pmem0") and a dax_device whose sectors are those frames. The
// frames keep their struct pages, marked ZONE_DEVICE (mm/memremap.h): fs-DAX
// (fs/dax.h) maps them straight into user space, with no page cache: the page *is* the
// disk block (seed 003's objective O3).
//
// The block device is a ramdisk (block/ramdisk.h) whose storage is the reserved frames,
// so bios (a filesystem's metadata) and CPU stores through a DAX mapping reach the same
// bytes. Spec: pmem0[,latency=..][,depth=..][,chunk=..] (block/genhd.h); its size is the
// region's.
//
// Threading: the region is fixed at boot; dax_direct_access() is a pure lookup.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "mm/mm_types.h"

namespace guplab {

class Machine;
class block_device;

/** struct dax_device - the frames behind a DAX-capable device: [start_pfn, start_pfn + nr_pages). */
struct dax_device {
  Machine* machine = nullptr;
  unsigned long start_pfn = 0;
  unsigned long nr_pages = 0;
};

/**
 * pmem_reserve_boot() - take @bytes of frames out of the buddy allocator for the pmem
 * region, as high in ZONE_MOVABLE as they fit, and mark them ZONE_DEVICE (refcount 0:
 * idle). Throws std::invalid_argument (the boot is refused) if @bytes is not a multiple
 * of 2 MiB or no such free range exists. REQUIRES: boot, no task running.
 */
std::unique_ptr<dax_device> pmem_reserve_boot(Machine* m, uint64_t bytes);

/**
 * dax_direct_access() - the frame of page @pgoff of @dax_dev, in *@pfn and its bytes in
 * *@kaddr (either may be null). Returns the pages available from there, or -ERANGE.
 */
long dax_direct_access(const dax_device* dax_dev, pgoff_t pgoff, void** kaddr, unsigned long* pfn);

/** fs_dax_get_by_bdev() - the dax_device behind @bdev, or nullptr if it cannot do DAX. */
dax_device* fs_dax_get_by_bdev(block_device* bdev);

/** is_pmem_name() - does @name name the pmem device ("pmem0")? */
bool is_pmem_name(const std::string& name);

/**
 * pmem_create() - the block device "pmem0" over machine @m's pmem region, from @spec's
 * options (key=value pairs after the name, already split). Returns 0, -ENODEV (no pmem
 * region: boot with pmem_bytes), or -EINVAL with a message in *@err.
 */
struct pmem_options {
  uint64_t latency_ns = 0;
  unsigned queue_depth = 64;
  unsigned dma_chunk = 512;
};
int pmem_create(Machine* m, const std::string& name, const pmem_options& opt, std::unique_ptr<block_device>* out,
                std::string* err);

}  // namespace guplab
