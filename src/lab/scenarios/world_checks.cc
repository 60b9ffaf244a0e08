// world_checks.cc - the disk and frame oracles of the file-backed scenarios.
#include "lab/scenarios/world_checks.h"

#include <fmt/format.h>

#include "base/errno.h"
#include "base/rcu.h"
#include "drivers/rdma_device.h"
#include "lab/oracles.h"
#include "lab/scenario.h"
#include "lab/scenarios/file_world.h"
#include "machine/machine.h"
#include "mm/page_alloc.h"

namespace guplab {

void check_page_newest(ScenarioContext& ctx, const FileWorld& w, unsigned long i, const dma_stamp& device) {
  PageImage img;
  const dma_stamp newest = newer(w.task_last(i), device);
  const uint64_t discarded = w.task_discarded(i);
  if (int err = w.disk_page(i, &img)) {
    if (err == -ENODATA && discarded && newest.generation < discarded) {
      ctx.found(Outcome::ok, fmt::format("{} is a hole: the process discarded it at g{}", w.page_name(i), discarded));
      return;
    }
    ctx.found(Outcome::warn, fmt::format("{}: cannot read it back: {}", w.page_name(i), errname(err)));
    return;
  }
  const std::string where = "on disk, " + w.page_name(i);
  if (check_torn(ctx, where, img).verdict == PageVerdict::torn) return;
  check_lost(ctx, where, img, newest, discarded);
}

void close_and_check_frames(ScenarioContext& ctx, FileWorld& w) {
  ctx.teardown();
  Machine& m = ctx.machine();
  if (int err = w.close()) {
    ctx.found(Outcome::warn, fmt::format("umount failed: {}", errname(err)));
    return;
  }
  rcu_barrier();  // page-table pages are freed after a grace period
  const unsigned long free = nr_free_pages(&m), boot = m.boot_free_pages();
  if (free != boot)
    ctx.found(Outcome::leak, fmt::format("{} page frames not free after unmount (free {}, at boot {})",
                                         static_cast<long>(boot) - static_cast<long>(free), free, boot));
  else
    ctx.found(Outcome::ok, "every page frame free again after unmount");
}

bool check_frames_free(ScenarioContext& ctx, std::string_view when) {
  ctx.teardown();
  Machine& m = ctx.machine();
  rcu_barrier();
  const unsigned long free = nr_free_pages(&m), boot = m.boot_free_pages();
  if (free == boot) return true;
  ctx.found(Outcome::leak, fmt::format("{} page frames not free after {}", static_cast<long>(boot) - static_cast<long>(free), when));
  return false;
}

void sync_and_check(ScenarioContext& ctx, FileWorld& w, PinWitness& witness, const RdmaDevice& dev,
                    unsigned long npages) {
  if (int err = w.sync()) ctx.found(Outcome::warn, fmt::format("sync failed: {}", errname(err)));
  witness.summarize();
  for (unsigned long i = 0; i < npages; i++) check_page_newest(ctx, w, i, dev.last_write(i).stamp);
  close_and_check_frames(ctx, w);
}

}  // namespace guplab
