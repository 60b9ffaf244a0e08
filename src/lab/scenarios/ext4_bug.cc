// ext4_bug.cc - seed 002's crash. A driver pins pages of an ext4 file for DMA
// (get_user_pages(), FOLL_WRITE); writeback cleans them meanwhile; reclaim unmaps them
// (try_to_unmap()) and drops their buffers (drop_buffers()), but cannot free them: the
// driver holds them. When the device is done the driver calls set_page_dirty_lock() and
// releases the pages, and the next writeback hands a dirty page with no buffers to
// ext4_writepage(): BUG_ON(!PagePrivate(page)).
//
// Tasks: the device ("rdma0": reg_mr, DMA, dereg_mr with set_page_dirty_lock), the
// flusher's work ("flush": WB_SYNC_NONE passes) and reclaim ("kswapd"); the body runs
// the last writeback (sync) after they are done. Scripted, they go in seed 002's order:
// pin, clean, reclaim, DMA + re-dirty + release, writeback. Unscripted, each loops a few
// times and the scheduler interleaves them.
//
// Predictions: `get` (nothing tracked) oopses under every policy. Under `ignore` the
// tracking designs oops too (they know, nobody acts), except dma_count, whose pinned
// pages are off the LRU, so reclaim never sees them. Every other policy keeps a pinned
// page's buffers (it stays dirty, or reclaim keeps it because it is pinned): no oops.
// rfc002 (seed 002 as posted) writes and cleans the pinned page, and reclaim does not
// look at pins, but try_to_unmap() leaves the page mapped (the driver's process maps
// it), so reclaim never reaches drop_buffers(): no oops under any tracking design.
// Oracles besides the oops: false negatives at writeback and reclaim, and, where the
// run survives, whether the disk ends with the device's last write.
#include <fmt/format.h>

#include "base/errno.h"
#include "drivers/rdma_device.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/file_world.h"
#include "lab/scenarios/skeleton.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/sync_point_names.h"
#include "machine/machine.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 1;

class Ext4Bug final : public Scenario {
 public:
  const char* name() const override { return "ext4-bug"; }
  const char* description() const override {
    return "seed 002: pinned ext4 pages cleaned, reclaim drops their buffers, the driver re-dirties them: "
           "BUG_ON(!PagePrivate) in ext4_writepage";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign d, WritebackPolicy p) const override {
    if (!tracks_pins(d)) return Outcome::oops;
    if (p != WritebackPolicy::ignore) return Outcome::ok;
    return d == PinDesign::dma_count ? Outcome::ok : Outcome::oops;
  }
  void run(ScenarioContext& ctx) const override;
};

void Ext4Bug::run(ScenarioContext& ctx) const {
  Skeleton sk(ctx);
  if (!sk.setup(file_world_options{.npages = kPages})) return;
  sk.witness()->ask_at(sp::kWritebackClearDirtyBefore);
  sk.witness()->ask_at(sp::kReclaimTryToUnmapBefore);
  const std::string dev = sk.dev()->name();
  if (ctx.params().scripted)
    sk.script()->order({{sp::device_sync_point(dev, sp::kDevRegMrDone), "ext4-bug:flush"},
                        {"ext4-bug:flush:done", "ext4-bug:reclaim"},
                        {"ext4-bug:reclaim:done", sp::device_sync_point(dev, sp::kDevWriteBegin)}});
  // The driver re-dirties what it releases (set_page_dirty_lock(), then release).
  sk.device({.yields = 3, .make_dirty = true});
  sk.flusher({.begin = "ext4-bug:flush", .end = "ext4-bug:flush:done", .yields = 3});
  sk.kswapd({.begin = "ext4-bug:reclaim", .end = "ext4-bug:reclaim:done", .yields = 3});
  sk.run();

  // The next writeback, as sync(2) runs it: where reclaim took the buffers of a page
  // the driver then dirtied, ext4_writepage() meets it here (or the flusher did above).
  ctx.note("sync: the writeback after the device released its pages");
  sk.finish();
}

}  // namespace

const Scenario* ext4_bug_scenario() {
  static const Ext4Bug kScenario;
  return &kScenario;
}

}  // namespace guplab
