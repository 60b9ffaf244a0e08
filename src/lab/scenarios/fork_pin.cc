// fork_pin.cc - fork() with pinned anonymous pages. A process pins its private buffer
// for a device (FOLL_WRITE | FOLL_LONGTERM), then forks, then writes the buffer itself.
// Before upstream's fixes, fork made the pinned page copy-on-write in both processes;
// the parent's next store copied it, and the device went on writing the old page, now
// the child's: the parent never sees what the device writes after that. Upstream copies
// a maybe-pinned page into the child at fork (copy_present_page()), so the parent keeps
// the pinned page, and the device and the parent keep sharing it.
//
// Tasks: the device ("rdma0": reg_mr on the parent's buffer, whole-page writes,
// dereg_mr) and the parent (the body: fork, store, and at the end read its buffer; the
// lost-update oracle compares what it reads with the newest write, its own or the
// device's). Scripted: pin, fork, the parent's store, the device's write. Unscripted:
// the device writes twice, the parent forks and stores, interleaved by the scheduler.
//
// Predictions: lost under design get (the pin is invisible to fork); ok under every
// tracking design. Writeback policies do not matter here (anonymous memory).
#include <fmt/format.h>
#include <sys/mman.h>

#include "base/errno.h"
#include "base/rcu.h"
#include "base/rwsem.h"
#include "drivers/rdma_device.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/skeleton.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "machine/sync_point_names.h"
#include "mm/fork.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/uaccess.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 1;

class ForkPin final : public Scenario {
 public:
  const char* name() const override { return "fork-pin"; }
  const char* description() const override {
    return "fork() after pinning anonymous memory, then the parent writes it: does the device still write the "
           "parent's page?";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign d, WritebackPolicy) const override {
    return tracks_pins(d) ? Outcome::ok : Outcome::lost;
  }
  void run(ScenarioContext& ctx) const override;
};

/**
 * The processes, and what the parent wrote last; freed without locks if the run ended
 * early. The parent and the device take turns on the buffer (the application's own
 * protocol: it never writes a buffer while a transfer into it is in progress), so the
 * newest write is the one with the newest generation.
 */
struct Processes {
  Processes() { init_rwsem(&turn, "buffer turn"); }
  rw_semaphore turn;
  AnonProcess parent;
  mm_struct* child = nullptr;
  dma_stamp parent_last;
  ~Processes() {
    if (child) mm_abandon(child);  // before the parent's (AnonProcess)
  }
};

int parent_store(Processes* p, StampClock* clock, unsigned long i) {
  PageImage img;
  down_write(&p->turn);
  const dma_stamp s{0, static_cast<uint32_t>(i), clock->next()};
  stamp_fill_page(img.data(), s);
  p->parent_last = s;
  const int err = uaccess_write(p->parent.mm, p->parent.addr + (i << PAGE_SHIFT), img.data(), PAGE_SIZE);
  up_write(&p->turn);
  return err;
}

void ForkPin::run(ScenarioContext& ctx) const {
  const bool scripted = ctx.params().scripted;
  Skeleton sk(ctx);
  StampClock* clock = sk.setup_clock();
  auto* procs = ctx.make<Processes>();
  if (!procs->parent.setup(ctx, kPages)) return;
  for (unsigned long i = 0; i < kPages; i++) parent_store(procs, clock, i);  // faulted in, written
  sk.setup_device();
  Script* script = sk.script();
  RdmaDevice* dev = sk.dev();
  PinWitness* witness = sk.witness();
  witness->ask_at("fork:forked");
  if (scripted) script->order({{sp::device_sync_point(dev->name(), sp::kDevRegMrDone), "fork:fork"}, {"fork:stored", "fork:transfer"}});
  auto* workers = ctx.make<Workers>(1);

  ctx.spawn(
      "rdma0",
      [&ctx, dev, procs, workers] {
        // (the script holds a transfer at fork:transfer, before it takes its turn)
        device_rounds(ctx, dev, procs->parent.addr, kPages, workers,
                      {.each_round = "fork:transfer", .turn = &procs->turn});
      },
      procs->parent.mm);

  Script::pass("fork:fork");
  procs->child = dup_mm(procs->parent.mm);
  if (!procs->child) ctx.found(Outcome::warn, "fork failed: no memory");
  ctx.note("fork: the parent's address space copied for a child");
  Script::pass("fork:forked");
  if (!scripted) yield_some(2);
  for (unsigned long i = 0; i < kPages; i++)
    if (int err = parent_store(procs, clock, i)) ctx.found(Outcome::warn, fmt::format("store: {}", errname(err)));
  ctx.note("parent: stored into its buffer after the fork");
  Script::pass("fork:stored");
  workers->done();
  ctx.join_all();

  // What the parent reads back must be the newest write of each page, its or the device's.
  for (unsigned long i = 0; i < kPages; i++) {
    PageImage img;
    if (int err = uaccess_read(procs->parent.mm, procs->parent.addr + (i << PAGE_SHIFT), img.data(), PAGE_SIZE)) {
      ctx.found(Outcome::warn, fmt::format("read back: {}", errname(err)));
      continue;
    }
    const dma_stamp newest = newer(procs->parent_last, dev->last_write(i).stamp);
    check_lost(ctx, fmt::format("the parent's page {}", i), img, newest);
  }
  witness->summarize();
  if (procs->child) mmput(procs->child);
  procs->child = nullptr;
  procs->parent.exit();
  check_frames_free(ctx, "both processes exited");
}

}  // namespace

const Scenario* fork_pin_scenario() {
  static const ForkPin kScenario;
  return &kScenario;
}

}  // namespace guplab
