// torn_writeback.cc - objective O1 of seed 003: no writeback of a page while a device
// may be writing it. A device holds a file page pinned and writes it in stamped chunks;
// writeback copies the same page to the disk in chunks of its own (the ramdisk's DMA).
// If the two interleave, the disk holds pieces of two device writes: a torn page.
//
// Tasks: the device ("rdma0": reg_mr, whole-page writes, dereg_mr with
// set_page_dirty_lock) and the flusher's work ("flush": WB_SYNC_NONE passes, each
// followed by the torn oracle on what reached the disk). Scripted: the device writes
// generation A, writeback starts copying the page out, and exactly after the first
// 512-byte chunk of that copy the device's next write (B) lands, all of it; then the
// device releases the page. Unscripted: the device writes three generations and the
// flusher makes three passes, interleaved by the scheduler.
//
// Predictions: torn wherever the page is written while pinned (get: any policy; ignore;
// and rfc002, seed 002 as posted, whose WB_SYNC_NONE writes a pinned page under every
// design); never under skip, wait and keep_dirty (a pinned page is not written). Under
// bounce the disk gets a copy taken in one go: whole when scripted; unscripted, a copy
// taken while the device is half-way through a write of its own is as torn as that
// write, and the explorer finds such schedules.
#include <fmt/format.h>

#include <atomic>

#include "base/errno.h"
#include "block/ramdisk.h"
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

class TornWriteback final : public Scenario {
 public:
  const char* name() const override { return "torn-writeback"; }
  const char* description() const override {
    return "seed 003 O1: writeback copies a page out while the device that pinned it writes it: a torn page on disk";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign d, WritebackPolicy p) const override {
    return writes_pinned(d, p) ? Outcome::torn : Outcome::ok;
  }
  Outcome expected_unscripted(PinDesign d, WritebackPolicy p) const override {
    if (acts_on_pins(d, p) && wb_policy_row(p).sync_none == PinnedWrite::bounce) return Outcome::torn;
    return expected(d, p);
  }
  void run(ScenarioContext& ctx) const override;
};

/** What the flusher saw on disk after its passes: the first torn image, if any. */
struct TornLog {
  std::atomic<bool> torn{false};
  std::atomic<unsigned> passes{0};
};

/** The torn oracle on what the disk holds now: the first torn image is the finding. */
void check_disk_torn(ScenarioContext& ctx, FileWorld& w, TornLog& log, const std::string& when) {
  for (unsigned long i = 0; i < kPages; i++) {
    PageImage img;
    if (w.disk_page(i, &img)) continue;
    const PageStampScan scan = stamp_scan_page(img.data());
    if (scan.verdict == PageVerdict::torn && !log.torn.exchange(true))
      ctx.found(Outcome::torn, fmt::format("{}, on disk, {} is {}", when, w.page_name(i), scan.describe()));
  }
}

void TornWriteback::run(ScenarioContext& ctx) const {
  const bool scripted = ctx.params().scripted;
  Skeleton sk(ctx);
  if (!sk.setup(file_world_options{.npages = kPages})) return;
  FileWorld* w = sk.world();
  RdmaDevice* dev = sk.dev();
  for (unsigned long i = 0; i < kPages; i++) w->disk_sector(i);  // known before any callback needs it
  auto* log = ctx.make<TornLog>();
  sk.witness()->ask_at(sp::kWritebackClearDirtyBefore);
  sk.witness()->ask_at(sp::kWritebackSubmit);
  // The moment a write of the page has reached the disk (before a later one rewrites
  // it): what the device DMA'd meanwhile shows here, in both modes.
  auto* completions = ctx.make<std::atomic<unsigned>>(0);
  sk.script()->on(sp::kWritebackEnd, [&ctx, w, log, completions] {
    check_disk_torn(ctx, *w, *log, fmt::format("when write {} of the page completed", ++*completions));
  });
  if (scripted) {
    sk.script()->order(
        {{"torn:written", "torn:flush"}, {"torn:flushed", sp::device_sync_point(dev->name(), sp::kDevDeregBegin)}});
    // The device's next write lands right after the first chunk of writeback's copy of
    // the page (in the ramdisk's completion task, as a DMA would, whatever it is doing).
    auto* injected = ctx.make<std::atomic<bool>>(false);
    auto* rd = static_cast<ramdisk*>(w->bdev());
    const sector_t sector = w->disk_sector(0);
    sk.script()->on(sp::kRamdiskDmaChunk, [dev, rd, sector, injected] {
      const ramdisk::dma_cursor_t c = rd->dma_cursor();
      if (!c.write || c.sector != sector || c.bytes_done != kStampChunkSize) return;
      if (!dev->registered() || injected->exchange(true)) return;
      dev->dma_write(0);
    });
  }
  sk.device({.yields = 2, .make_dirty = true, .before_release = "torn:written"});
  sk.flusher({.begin = "torn:flush",
              .end = "torn:flushed",
              .yields = 2,
              .after_pass = [&ctx, w, log](unsigned pass, long written) {
                log->passes++;
                // The torn oracle on what this pass put on the disk (a later pass may rewrite it).
                if (written > 0) check_disk_torn(ctx, *w, *log, fmt::format("after writeback pass {}", pass + 1));
              }});
  sk.run();

  if (!log->torn.load())
    ctx.found(Outcome::ok, fmt::format("no writeback pass of the {} put a torn page on disk", log->passes.load()));
  sk.finish();
}

}  // namespace

const Scenario* torn_writeback_scenario() {
  static const TornWriteback kScenario;
  return &kScenario;
}

}  // namespace guplab
