// pmem.cc - the pmem region: reserving its frames at boot, and its block device.
#include "block/pmem.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/errno.h"
#include "block/ramdisk.h"
#include "machine/machine.h"
#include "mm/memremap.h"
#include "mm/page_alloc.h"

namespace guplab {

std::unique_ptr<dax_device> pmem_reserve_boot(Machine* m, uint64_t bytes) {
  constexpr unsigned long kBlock = 1ul << (MAX_ORDER - 1);
  const unsigned long nr = bytes >> PAGE_SHIFT;
  if (bytes % (kBlock << PAGE_SHIFT))
    throw std::invalid_argument(fmt::format("pmem: {} bytes is not a multiple of 2 MiB", bytes));
  zone* z = &m->zones()[ZONE_MOVABLE];
  const unsigned long lo = (z->zone_start_pfn + kBlock - 1) & ~(kBlock - 1);
  const unsigned long hi = (z->zone_start_pfn + z->spanned_pages) & ~(kBlock - 1);
  // The highest run of whole free blocks that holds the region (hugetlb pools took theirs first).
  for (unsigned long start = hi >= nr ? hi - nr : 0; nr && start >= lo && start + nr <= hi; start -= kBlock) {
    if (take_free_blocks_boot(m, start, nr)) {
      auto d = std::make_unique<dax_device>();
      d->machine = m;
      d->start_pfn = start;
      d->nr_pages = nr;
      for (unsigned long pfn = start; pfn < start + nr; pfn++) __SetPageZoneDevice(m->mem().pfn_to_page(pfn));
      // A reused host arena zeroes these frames before the next machine, as any allocated frame.
      for (unsigned long pfn = start; pfn < start + nr; pfn += kBlock) m->mem().mark_allocated(pfn, MAX_ORDER - 1);
      return d;
    }
    if (start < kBlock) break;
  }
  throw std::invalid_argument(
      fmt::format("pmem: no free {} MiB range in ZONE_MOVABLE for the pmem region", bytes >> 20));
}

long dax_direct_access(const dax_device* dax_dev, pgoff_t pgoff, void** kaddr, unsigned long* pfn) {
  if (!dax_dev || pgoff >= dax_dev->nr_pages) return -ERANGE;
  const unsigned long f = dax_dev->start_pfn + pgoff;
  if (pfn) *pfn = f;
  if (kaddr) *kaddr = page_address(dax_dev->machine->mem().pfn_to_page(f));
  return static_cast<long>(dax_dev->nr_pages - pgoff);
}

dax_device* fs_dax_get_by_bdev(block_device* bdev) { return bdev ? bdev->bd_dax : nullptr; }

bool is_pmem_name(const std::string& name) { return name == "pmem0"; }

int pmem_create(Machine* m, const std::string& name, const pmem_options& opt, std::unique_ptr<block_device>* out,
                std::string* err) {
  dax_device* dax = m->pmem();
  if (!dax) {
    if (err) *err = fmt::format("{}: no pmem region (boot the machine with a pmem size)", name);
    return -ENODEV;
  }
  ramdisk_config cfg;
  cfg.size_bytes = static_cast<uint64_t>(dax->nr_pages) << PAGE_SHIFT;
  cfg.latency_ns = opt.latency_ns;
  cfg.queue_depth = opt.queue_depth;
  cfg.dma_chunk = opt.dma_chunk;
  cfg.storage = static_cast<char*>(page_address(m->mem().pfn_to_page(dax->start_pfn)));
  std::unique_ptr<ramdisk> rd;
  if (int ret = ramdisk::create(m, name, cfg, &rd); ret < 0) {
    if (err) *err = fmt::format("{}: cannot create the pmem device: {}", name, errname(ret));
    return ret;
  }
  rd->bd_dax = dax;
  *out = std::move(rd);
  return 0;
}

}  // namespace guplab
