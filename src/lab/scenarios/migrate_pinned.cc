// migrate_pinned.cc - compaction moves a page a device has pinned. A process registers
// its anonymous buffer with an RDMA-like device (FOLL_WRITE | FOLL_LONGTERM; the seed
// rules: the pin takes the page where it is, in ZONE_MOVABLE), then compaction
// (kcompactd) empties the frames the buffer sits in. Where nothing tracks pins (design
// `get`) a pin is an ordinary reference and migration moves the page anyway: the process
// now maps a copy, the device keeps writing the old frame, and the process never sees
// those writes. Every design that tracks pins refuses to migrate a page that
// folio_maybe_dma_pinned() (mm/migrate.h), and the device and the process keep sharing
// the page.
//
// Tasks: the device ("rdma0": reg_mr, whole-page writes, dereg_mr), kcompactd
// (compact_range() over the buffer's frames), and the process (the body: it keeps
// storing into a third page of its own, which nobody pins and compaction does move,
// through migration entries; at the end it reads everything back and the lost-update
// oracle compares each page with its newest write, the device's or its own).
// Scripted: pin, compaction, the device's write. Unscripted: the device writes a few
// times and the process stores a few times while compaction runs once, interleaved by
// the scheduler (a compaction after the device's last write copies it: nothing lost).
//
// Predictions: lost under design get; ok under every tracking design. Writeback policies
// do not matter here (anonymous memory).
#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>

#include "base/errno.h"
#include "base/rcu.h"
#include "drivers/rdma_device.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/skeleton.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "machine/sync_point_names.h"
#include "mm/compaction.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/uaccess.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 2;  // the device's; the process's own page is index kPages

class MigratePinned final : public Scenario {
 public:
  const char* name() const override { return "migrate-pinned"; }
  const char* description() const override {
    return "compaction migrates a page a device holds pinned: does the device still write the process's page?";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign d, WritebackPolicy) const override {
    return tracks_pins(d) ? Outcome::ok : Outcome::lost;
  }
  void run(ScenarioContext& ctx) const override;
};

struct Process : AnonProcess {
  // The frames the whole buffer sat in once written (kcompactd's range): the device's
  // pages and the process's own, pinned or not yet.
  unsigned long lo_pfn = 0, hi_pfn = 0;
  dma_stamp last[kPages + 1];
};

int process_store(Process* proc, StampClock* clock, unsigned long i) {
  PageImage img;
  const dma_stamp s{0, static_cast<uint32_t>(i), clock->next()};
  stamp_fill_page(img.data(), s);
  proc->last[i] = s;
  return uaccess_write(proc->mm, proc->addr + (i << PAGE_SHIFT), img.data(), PAGE_SIZE);
}

void compact_buffer(ScenarioContext& ctx, const Process* proc) {
  const unsigned long lo = proc->lo_pfn, hi = proc->hi_pfn;
  compact_control cc;
  const int ret = compact_range(&ctx.machine(), lo, hi, &cc);
  ctx.note(fmt::format("kcompactd: frames [{:#x}, {:#x}): {} moved, {} stayed ({})", lo, hi, cc.nr_migrated,
                       cc.nr_failed, ret ? errname(ret) : "0"));
}

void MigratePinned::run(ScenarioContext& ctx) const {
  const bool scripted = ctx.params().scripted;
  Skeleton sk(ctx);
  StampClock* clock = sk.setup_clock();
  auto* proc = ctx.make<Process>();
  if (!proc->setup(ctx, kPages + 1)) return;
  for (unsigned long i = 0; i <= kPages; i++)  // faulted in and written by the process
    if (int err = process_store(proc, clock, i)) ctx.found(Outcome::warn, fmt::format("store: {}", errname(err)));
  proc->lo_pfn = ~0UL;
  for (unsigned long i = 0; i <= kPages; i++) {
    const long pfn = frame_at(proc->mm, proc->addr + (i << PAGE_SHIFT));
    if (pfn < 0) {
      ctx.found(Outcome::warn, fmt::format("setup failed: the process's page {} is not mapped", i));
      return;
    }
    proc->lo_pfn = std::min(proc->lo_pfn, static_cast<unsigned long>(pfn));
    proc->hi_pfn = std::max(proc->hi_pfn, static_cast<unsigned long>(pfn) + 1);
  }
  sk.setup_device();
  Script* script = sk.script();
  RdmaDevice* dev = sk.dev();
  PinWitness* witness = sk.witness();
  witness->ask_at("migrate:compacted");
  if (scripted) script->order({{sp::device_sync_point(dev->name(), sp::kDevRegMrDone), "migrate:compact"}, {"migrate:compacted", "migrate:transfer"}});
  auto* workers = ctx.make<Workers>(1);

  ctx.spawn(
      "rdma0",
      [&ctx, dev, proc, workers] {
        if (device_rounds(ctx, dev, proc->addr, kPages, workers, {.each_round = "migrate:transfer"}))
          workers->done();
      },
      proc->mm);

  ctx.spawn("kcompactd0", [&ctx, proc, workers, scripted] {
    if (!scripted) yield_some(3);
    Script::pass("migrate:compact");
    compact_buffer(ctx, proc);
    Script::pass("migrate:compacted");
    workers->done();
  });
  // The process goes on with its own page meanwhile (a fault on a migration entry waits).
  for (unsigned r = 0; r < (scripted ? 1u : Workers::kMinRounds); r++) {
    if (!scripted) yield_some(2);
    if (int err = process_store(proc, clock, kPages)) ctx.found(Outcome::warn, fmt::format("store: {}", errname(err)));
  }
  ctx.join_all();

  // What the process reads must be the newest write of each page, the device's or its own.
  for (unsigned long i = 0; i <= kPages; i++) {
    PageImage img;
    if (int err = uaccess_read(proc->mm, proc->addr + (i << PAGE_SHIFT), img.data(), PAGE_SIZE)) {
      ctx.found(Outcome::warn, fmt::format("read back: {}", errname(err)));
      continue;
    }
    const dma_stamp newest = newer(proc->last[i], dev->last_write(i).stamp);
    check_lost(ctx, fmt::format("the process's page {}", i), img, newest);
  }
  witness->summarize();
  proc->exit();
  check_frames_free(ctx, "the process exited");
}

}  // namespace

const Scenario* migrate_pinned_scenario() {
  static const MigratePinned kScenario;
  return &kScenario;
}

}  // namespace guplab
