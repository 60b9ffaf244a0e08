// lost_update.cc - what the device writes after writeback cleaned its pinned page never
// reaches the disk if nothing dirties the page again. The driver here releases its pages
// without set_page_dirty_lock() (unpin_user_pages(): it trusts them to be dirty already,
// as the pin's write fault left them), so once writeback has cleaned the page, the
// device's later DMA stays in memory and the final sync writes nothing.
//
// Tasks: the device ("rdma0": reg_mr, whole-page writes, release without dirtying) and
// the flusher's work ("flush": WB_SYNC_NONE passes); the body syncs at the end and the
// lost-update oracle compares the disk with the newest write of the page. Scripted: pin
// (the page is dirty), writeback cleans it, the device writes, the device releases.
// Unscripted: three device writes and three writeback passes, interleaved by the
// scheduler.
//
// Predictions: lost wherever a pinned page is cleaned (get, ignore, and rfc002: seed 002
// as posted writes the pinned page under WB_SYNC_NONE and clears its dirty bit, under
// every design); never under skip, wait (WB_SYNC_NONE skips), keep_dirty (the unpin
// re-dirties) and bounce (the page stays dirty after its copy is written).
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

class LostUpdate final : public Scenario {
 public:
  const char* name() const override { return "lost-update"; }
  const char* description() const override {
    return "DMA lands after writeback cleaned the pinned page and nothing re-dirties it: the synced disk misses it";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign d, WritebackPolicy p) const override {
    return writes_pinned(d, p) ? Outcome::lost : Outcome::ok;
  }
  void run(ScenarioContext& ctx) const override;
};

void LostUpdate::run(ScenarioContext& ctx) const {
  Skeleton sk(ctx);
  if (!sk.setup(file_world_options{.npages = kPages})) return;
  sk.witness()->ask_at(sp::kWritebackClearDirtyBefore);
  const std::string dev = sk.dev()->name();
  if (ctx.params().scripted)
    sk.script()->order({{sp::device_sync_point(dev, sp::kDevRegMrDone), "lost:flush"},
                        {"lost:flushed", sp::device_sync_point(dev, sp::kDevWriteBegin)}});
  sk.device({.yields = 2, .make_dirty = false});  // the driver does not dirty what it releases
  sk.flusher({.begin = "lost:flush", .end = "lost:flushed", .yields = 2});
  sk.run();

  ctx.note("sync: after the device released its pages");
  sk.finish();
}

}  // namespace

const Scenario* lost_update_scenario() {
  static const LostUpdate kScenario;
  return &kScenario;
}

}  // namespace guplab
