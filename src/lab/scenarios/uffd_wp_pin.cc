// uffd_wp_pin.cc - userfaultfd write-protection of memory a device has pinned: the
// device's DMA writes bypass the protection, because devices do not look at ptes.
//
// A process fills its buffer, registers it for WP faults and runs a tracker (what a
// live-snapshot or migration tool does): the tracker write-protects the whole buffer
// with UFFDIO_WRITEPROTECT (the scenario's body does that) and, for every WP fault, records the page as written and
// un-protects it (which wakes the writer). The RDMA-like device "rdma0" registers the
// buffer (pin_user_pages_fast, FOLL_WRITE | FOLL_LONGTERM) and writes into page 1 of
// it; the process's own task "proc" stores into page 0.
//
// Scripted: the device pins before the protection and writes after it: its write
// lands in the pinned frame while the pte is write-protected, and no fault tells the
// tracker. Unscripted the scheduler and two seeded delays decide (the tracker protects
// after a random delay, the device writes a random while after registering); when the
// pin comes after the protection, GUP's write fault goes to the tracker (as a write) and
// nothing is missed.
//
// Oracles: a page whose contents changed after the protection without a WP fault for
// it is lost (the tracker's copy misses the device's write); pages whose writes faulted
// are ok; frames are free after the process exits.
// Predictions: lost under every design and policy (pins do not stop DMA, whatever the
// design); unscripted too (some schedules pin first).
#include <fmt/format.h>

#include <atomic>
#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "base/random.h"
#include "drivers/rdma_device.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/uffd_common.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "machine/sync_point_names.h"
#include "mm/uaccess.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 2;
constexpr unsigned long kProcPage = 0, kDevPage = 1;
// Unscripted, neither side waits for the other, as in life: the tracker protects after
// a random delay (so the registration comes first in some schedules, after in others),
// and the remote peer's write arrives a random while after the registration (so it may
// land before the protection or after it). Both are drawn from the tasks' seeded streams.
// Without them the outcome would hang on how many scheduling points the lab's own code
// takes between the registration and the write.
constexpr uint64_t kProtectDelayMaxNs = 2 * NSEC_PER_USEC;
constexpr uint64_t kWriteGapMaxNs = 10 * NSEC_PER_USEC;

class UffdWpPin final : public Scenario {
 public:
  const char* name() const override { return "uffd-wp-pin"; }
  const char* description() const override {
    return "userfaultfd write-protection of memory a device has pinned: the device's writes bypass it";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::lost; }
  void run(ScenarioContext& ctx) const override;
};

struct WpState {
  std::atomic<bool> faulted[kPages] = {};       // a WP fault reported the page written
  std::atomic<bool> protected_{false};
  std::vector<dma_stamp> at_protect = std::vector<dma_stamp>(kPages);  // what each page held once protected
  dma_stamp proc_write;
};

int write_protect(userfaultfd_ctx* uffd, unsigned long start, unsigned long len, bool wp) {
  uffdio_writeprotect w{};
  w.range = {start, len};
  w.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  return userfaultfd_ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
}

void UffdWpPin::run(ScenarioContext& ctx) const {
  Machine& m = ctx.machine();
  const bool scripted = ctx.params().scripted;
  auto* clock = ctx.make<StampClock>();
  auto* proc = ctx.make<UffdProcess>();
  auto* st = ctx.make<WpState>();
  if (int err = proc->setup(m, kPages, UFFDIO_REGISTER_MODE_WP, /*prefault=*/false)) {
    ctx.found(Outcome::warn, fmt::format("setup failed: {}", errname(err)));
    return;
  }
  for (unsigned i = 0; i < kPages; i++) {
    PageImage img;
    stamp_fill_page(img.data(), dma_stamp{0, i, clock->next()});
    if (int err = uaccess_write(proc->mm, proc->addr + (static_cast<unsigned long>(i) << PAGE_SHIFT), img.data(),
                                PAGE_SIZE)) {
      ctx.found(Outcome::warn, fmt::format("setup failed: filling page {}: {}", i, errname(err)));
      return;
    }
  }
  auto* script = ctx.make<Script>(ctx);
  // Unscripted, the remote peer's write comes a random while after the registration.
  auto* dev = ctx.make<RdmaDevice>(&m, clock, rdma_config{.write_gap_max_ns = scripted ? 0 : kWriteGapMaxNs});
  if (scripted) script->order({{sp::device_sync_point(dev->name(), sp::kDevRegMrDone), "uffdwp:protect"}, {"uffdwp:protected", "uffdwp:dma"},
                               {"uffdwp:protected", "uffdwp:store"}});

  userfaultfd_ctx* const uffd = userfaultfd_get(proc->uffd);  // the tracker's, put when it ends
  task_struct* tracker = ctx.spawn(
      "tracker",
      [&ctx, proc, st, uffd] {
        uffd_msg msg;
        while (userfaultfd_read(uffd, &msg) == static_cast<long>(sizeof(msg))) {
          const unsigned long a = msg.arg.pagefault.address & PAGE_MASK;
          const unsigned long i = (a - proc->addr) >> PAGE_SHIFT;
          if (!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) || i >= kPages) continue;
          st->faulted[i] = true;  // recorded before the writer may go on
          ctx.note(fmt::format("tracker: WP fault on page {} (thread {}): recorded, un-protected", i,
                               msg.arg.pagefault.feat.ptid));
          if (int err = write_protect(uffd, a, PAGE_SIZE, false))
            ctx.found(Outcome::warn, fmt::format("un-protect page {}: {}", i, errname(err)));
        }
        userfaultfd_put(uffd);
      },
      proc->mm);
  task_struct* device = ctx.spawn(
      "rdma0",
      [&ctx, dev, proc] {
        if (int err = dev->reg_mr(proc->addr, kPages)) {
          ctx.found(Outcome::warn, fmt::format("reg_mr failed: {}", errname(err)));
          return;
        }
        Script::pass("uffdwp:dma");
        dev->dma_write(kDevPage);
        dev->dereg_mr(/*make_dirty=*/true);
      },
      proc->mm);
  task_struct* store = ctx.spawn(
      "proc",
      [&ctx, proc, st, clock] {
        Script::pass("uffdwp:store");
        PageImage img;
        st->proc_write = dma_stamp{0, static_cast<uint32_t>(kProcPage), clock->next()};
        stamp_fill_page(img.data(), st->proc_write);
        if (int err = uaccess_write(proc->mm, proc->addr + (kProcPage << PAGE_SHIFT), img.data(), PAGE_SIZE))
          ctx.found(Outcome::warn, fmt::format("proc: store: {}", errname(err)));
      },
      proc->mm);
  // The protection, and what each page holds under it (read after protecting: a write
  // that lands in between is counted as before it, never reported wrongly).
  if (!scripted) sleep_ns(get_random_u64_below(kProtectDelayMaxNs));  // the tracker starts when it starts
  Script::pass("uffdwp:protect");
  if (int err = write_protect(proc->uffd, proc->addr, kPages << PAGE_SHIFT, true)) {
    ctx.found(Outcome::warn, fmt::format("UFFDIO_WRITEPROTECT: {}", errname(err)));
  } else {
    for (unsigned long i = 0; i < kPages; i++) {
      PageImage img;
      if (uaccess_read(proc->mm, proc->addr + (i << PAGE_SHIFT), img.data(), PAGE_SIZE) == 0)
        st->at_protect[i] = stamp_scan_page(img.data()).stamp();
    }
    st->protected_ = true;
    ctx.note("tracker: buffer write-protected");
  }
  Script::pass("uffdwp:protected");
  ctx.join(device);
  ctx.join(store);
  proc->close_uffd();  // the tracker's read returns 0
  ctx.join(tracker);

  for (unsigned long i = 0; i < kPages; i++) {
    PageImage img;
    if (int err = uaccess_read(proc->mm, proc->addr + (i << PAGE_SHIFT), img.data(), PAGE_SIZE)) {
      ctx.found(Outcome::warn, fmt::format("read back page {}: {}", i, errname(err)));
      continue;
    }
    const PageStampScan scan = stamp_scan_page(img.data());
    const bool changed = !(scan.verdict == PageVerdict::whole && scan.stamp() == st->at_protect[i]);
    if (!changed || !st->protected_) continue;
    const char* who = scan.verdict == PageVerdict::whole && scan.stamp().writer == dev->writer() ? "the device" : "the process";
    if (st->faulted[i])
      ctx.found(Outcome::ok, fmt::format("page {} was written by {} after a WP fault the tracker recorded", i, who));
    else
      ctx.found(Outcome::lost,
                fmt::format("page {} now holds {}, written by {} under userfaultfd write-protection with no WP fault: "
                            "the tracker's record misses it (a pinned page's DMA bypasses the ptes)",
                            i, scan.describe(), who));
  }
  proc->exit();
  check_frames_free(ctx, "the process exited");
}

}  // namespace

const Scenario* uffd_wp_pin_scenario() {
  static const UffdWpPin kScenario;
  return &kScenario;
}

}  // namespace guplab
