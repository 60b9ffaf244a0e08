// oracles.cc - torn, lost, corrupt and false-negative checks.
#include "lab/oracles.h"

#include <fmt/format.h>

#include "base/errno.h"
#include "block/ramdisk.h"
#include "drivers/rdma_device.h"
#include "lab/scenario.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/memory_model.h"
#include "mm/pin_design.h"

namespace guplab {

int read_disk_page(block_device* bdev, sector_t sector, PageImage* out) {
  auto* rd = dynamic_cast<ramdisk*>(bdev);
  if (!rd) return -EOPNOTSUPP;
  return rd->read_sectors(sector, PAGE_SIZE >> SECTOR_SHIFT, out->data());
}

PageStampScan check_torn(ScenarioContext& ctx, std::string_view where, const PageImage& img) {
  PageStampScan scan = stamp_scan_page(img.data());
  if (scan.verdict == PageVerdict::torn)
    ctx.found(Outcome::torn, fmt::format("{} is {}", where, scan.describe()));
  else
    ctx.found(Outcome::ok, fmt::format("{} not torn ({})", where, scan.describe()));
  return scan;
}

bool check_lost(ScenarioContext& ctx, std::string_view where, const PageImage& img, const dma_stamp& newest,
                uint64_t discarded) {
  if (newest.generation == 0) return true;
  PageStampScan scan = stamp_scan_page(img.data());
  if (discarded && newest.generation < discarded) {
    // Every write the oracle knows of was discarded on purpose: none may come back.
    bool stale = false;
    for (unsigned c = 0; c < kStampChunks; c++)
      if (scan.state[c] != ChunkState::unstamped && scan.chunk[c].generation < discarded) stale = true;
    if (!stale) {
      ctx.found(Outcome::ok, fmt::format("{} holds {}: the writes up to {} were discarded by the process at g{}",
                                         where, scan.describe(), to_string(newest), discarded));
      return true;
    }
    ctx.found(Outcome::lost, fmt::format("{} holds {}, written before the process discarded the page at g{}",
                                         where, scan.describe(), discarded));
    return false;
  }
  if (scan.verdict == PageVerdict::whole && scan.stamp() == newest) {
    ctx.found(Outcome::ok, fmt::format("{} holds the newest write {}", where, to_string(newest)));
    return true;
  }
  ctx.found(Outcome::lost, fmt::format("{} holds {}, but the newest write was {}", where, scan.describe(),
                                       to_string(newest)));
  return false;
}

bool check_corrupt(ScenarioContext& ctx, std::string_view where, const PageImage& img, uint32_t writer) {
  const PageStampScan scan = stamp_scan_page(img.data());
  unsigned hits = 0;
  for (unsigned c = 0; c < kStampChunks; c++)
    if (scan.state[c] != ChunkState::unstamped && scan.chunk[c].writer == writer) hits++;
  if (hits) {
    ctx.found(Outcome::corrupt, fmt::format("{} holds {} chunk(s) written by device {}: {}", where, hits, writer,
                                            scan.describe()));
    return false;
  }
  ctx.found(Outcome::ok, fmt::format("{} holds nothing of device {} ({})", where, writer, scan.describe()));
  return true;
}

PinWitness::PinWitness(ScenarioContext& ctx, Script& script)
    : ctx_(ctx), script_(script), tracking_(pin_design_props(ctx.params().design).tracks_pins) {}

void PinWitness::watch(const RdmaDevice* dev) {
  watch(dev->name(), [dev](const std::function<void(page*)>& visit) {
    dev->for_each_pinned([&](unsigned long, page* p) { visit(p); });
  });
}

void PinWitness::watch(std::string name, Source src) { sources_.emplace_back(std::move(name), std::move(src)); }

void PinWitness::ask_at(const std::string& point) {
  points_.push_back(point);
  script_.on(point, [this, point] { check(point); });
}

void PinWitness::check(const std::string& point) {
  if (!tracking_) return;
  for (const auto& source : sources_) {
    const std::string& name = source.first;
    source.second([&](page* p) {
      checks_.fetch_add(1, std::memory_order_relaxed);
      if (page_maybe_dma_pinned(p)) return;
      misses_.fetch_add(1, std::memory_order_relaxed);
      ctx_.found(Outcome::false_negative,
                 fmt::format("at {}: pfn {:#x}, pinned by {}, answered page_maybe_dma_pinned() false", point,
                             page_to_pfn(p), name));
    });
  }
}

void PinWitness::summarize() {
  std::string where;
  for (const auto& p : points_) where += (where.empty() ? "" : ", ") + p;
  if (!tracking_) {
    ctx_.found(Outcome::ok, "false-negative oracle not asked: design get tracks no pins");
    return;
  }
  if (misses_.load() == 0)
    ctx_.found(Outcome::ok, fmt::format("page_maybe_dma_pinned() true for every pinned page asked ({} asks at {})",
                                        checks_.load(), where.empty() ? "no point" : where));
}

}  // namespace guplab
