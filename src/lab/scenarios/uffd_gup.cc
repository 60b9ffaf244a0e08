// uffd_gup.cc - an O_DIRECT read into userfaultfd memory whose handler needs mmap_lock
// for write to resolve the fault (seed 001: why GUP must let a fault drop mmap_lock).
//
// A process registers its buffer for MISSING faults and runs a handler task that, for
// every fault message, maps a staging page (vm_mmap: mmap_lock for write), fills it,
// UFFDIO_COPYs it into the faulting page and unmaps the staging page. Its "dio" task
// reads raw disk ram1 with O_DIRECT into the buffer: pinning the pages faults them in
// through the handler. With the retry protocol (--gup-retry on) the GUP fault drops
// mmap_lock, the handler gets the lock, resolves, and the retried GUP pins the page the
// handler supplied: the read completes and the buffer holds the disk's data. With
// --gup-retry off (a kernel before the seed) GUP's fault cannot wait for the handler:
// VM_FAULT_SIGBUS, and the read fails with -EFAULT (in such a kernel a fault that slept
// holding mmap_lock would deadlock against the handler's mmap instead; the model fails
// the way those kernels did, see docs/seeds.md D32).
//
// Tasks: "dio", "handler", and unscripted also "user" (the process touching each page
// of its buffer: user faults always may retry, so when it wins the race the pages are
// resolved before the dio pins them, and even without the retry protocol the read
// works). Scripted: no "user": the dio's GUP is the first to fault every page.
//
// Oracles: the read returned every byte (else lost: the disk's data never reached the
// buffer), each buffer page holds the disk's stamp, no fault is left waiting, and every
// frame is free once the process has exited.
// Predictions (with the default --gup-retry on): ok under every design and policy.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>

#include <atomic>

#include "base/errno.h"
#include "base/rcu.h"
#include "block/genhd.h"
#include "block/ramdisk.h"
#include "fs/direct-io.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/skeleton.h"
#include "lab/scenarios/uffd_common.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/uaccess.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 4;
constexpr uint32_t kDiskWriter = 3;     // the stamps ram1 holds
constexpr uint32_t kHandlerWriter = 0;  // the handler's pages are a task's stores

// A fault the handler could not resolve (its staging mmap or UFFDIO_COPY failed) is
// woken unresolved, as a handler that gives up on one attempt does: the faulting task
// retries its fault, finds the page still missing and reports it again.
void retry_fault(userfaultfd_ctx* uffd, unsigned long dst) {
  uffdio_range r{dst, PAGE_SIZE};
  (void)userfaultfd_ioctl(uffd, UFFDIO_WAKE, &r);
}

class UffdGup final : public Scenario {
 public:
  const char* name() const override { return "uffd-gup"; }
  const char* description() const override {
    return "O_DIRECT read into userfaultfd memory whose handler needs mmap_lock for write (seed 001)";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  /** Without the retry protocol (--gup-retry off) GUP's fault cannot wait: the read fails. */
  Outcome expected_for(const ScenarioParams& p) const override { return p.gup_retry ? Outcome::ok : Outcome::lost; }
  Outcome expected_unscripted_for(const ScenarioParams& p) const override { return expected_for(p); }
  void run(ScenarioContext& ctx) const override;
};

struct UffdGupState {
  std::atomic<long> result{0};
  std::atomic<int> resolved{0};
};

void UffdGup::run(ScenarioContext& ctx) const {
  Machine& m = ctx.machine();
  const bool scripted = ctx.params().scripted;
  auto* clock = ctx.make<StampClock>();
  std::vector<dma_stamp> disk;
  block_device* src = open_stamped_disk(ctx, "ram1,size=64K", clock, kPages, kDiskWriter, &disk);
  if (!src) return;
  auto* proc = ctx.make<UffdProcess>();
  if (int err = proc->setup(m, kPages, UFFDIO_REGISTER_MODE_MISSING)) {
    ctx.found(Outcome::warn, fmt::format("setup failed: {}", errname(err)));
    blkdev_put(src);
    return;
  }
  auto* st = ctx.make<UffdGupState>();
  auto* filp = ctx.make<dio_file>(blkdev_dio_file(src));

  userfaultfd_ctx* const uffd = userfaultfd_get(proc->uffd);  // the handler's, put when it ends
  task_struct* handler = ctx.spawn(
      "handler",
      [&ctx, proc, st, clock, uffd] {
        uffd_msg msg;
        while (userfaultfd_read(uffd, &msg) == static_cast<long>(sizeof(msg))) {
          const unsigned long dst = msg.arg.pagefault.address & PAGE_MASK;
          // The staging area: mapping it needs mmap_lock for write.
          const long stage = vm_mmap(proc->mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                     nullptr, 0);
          if (stage < 0) {
            ctx.found(Outcome::warn, fmt::format("handler: mmap: {}", errname(static_cast<int>(stage))));
            retry_fault(uffd, dst);
            continue;
          }
          PageImage img;
          stamp_fill_page(img.data(), dma_stamp{kHandlerWriter, static_cast<uint32_t>((dst - proc->addr) >> PAGE_SHIFT),
                                                clock->next()});
          int err = uaccess_write(proc->mm, static_cast<unsigned long>(stage), img.data(), PAGE_SIZE);
          uffdio_copy c{};
          c.dst = dst;
          c.src = static_cast<unsigned long>(stage);
          c.len = PAGE_SIZE;
          if (!err) err = userfaultfd_ioctl(uffd, UFFDIO_COPY, &c);
          if (!err) st->resolved++;
          else if (err != -EEXIST) {  // -EEXIST: another fault of the page was resolved first
            ctx.found(Outcome::warn, fmt::format("handler: resolving {:#x}: {}", dst, errname(err)));
            retry_fault(uffd, dst);
          }
          ctx.note(fmt::format("handler: fault at {:#x} resolved: {}", dst, err ? errname(err) : "copied"));
          vm_munmap(proc->mm, static_cast<unsigned long>(stage), PAGE_SIZE);
        }
        userfaultfd_put(uffd);
      },
      proc->mm);
  task_struct* dio = ctx.spawn(
      "dio",
      [proc, st, filp] { st->result = dio_pread(filp, proc->addr, kPages << PAGE_SHIFT, 0); },
      proc->mm);
  task_struct* user = nullptr;
  if (!scripted) {
    user = ctx.spawn(
        "user",
        [proc] {
          for (unsigned i = 0; i < kPages; i++) {
            char c;
            (void)uaccess_read(proc->mm, proc->addr + (static_cast<unsigned long>(i) << PAGE_SHIFT), &c, 1);
            yield_some(1);
          }
        },
        proc->mm);
  }
  ctx.join(dio);
  if (user) ctx.join(user);
  const int waiting = userfaultfd_nr_waiting(proc->uffd);
  proc->close_uffd();  // the handler's read returns 0
  ctx.join(handler);

  const long res = st->result.load();
  if (res != static_cast<long>(kPages << PAGE_SHIFT)) {
    ctx.found(Outcome::lost,
              res < 0 ? fmt::format("the direct read into the userfaultfd buffer failed: {}{}", errname(static_cast<int>(res)),
                                    ctx.params().gup_retry ? ""
                                                           : " (--gup-retry off: GUP's fault could not wait for the "
                                                             "handler, VM_FAULT_SIGBUS)")
                      : fmt::format("the direct read moved {} of {} bytes", res, kPages << PAGE_SHIFT));
  } else {
    ctx.found(Outcome::ok, fmt::format("the direct read completed into the pages the handler supplied ({} resolved "
                                       "by UFFDIO_COPY after mapping a staging page)",
                                       st->resolved.load()));
    for (unsigned i = 0; i < kPages; i++) {
      PageImage img;
      if (int err = uaccess_read(proc->mm, proc->addr + (static_cast<unsigned long>(i) << PAGE_SHIFT), img.data(),
                                 PAGE_SIZE)) {
        ctx.found(Outcome::warn, fmt::format("read back page {}: {}", i, errname(err)));
        continue;
      }
      check_lost(ctx, fmt::format("buffer page {}", i), img, disk[i]);
    }
  }
  if (waiting) ctx.found(Outcome::warn, fmt::format("{} faults still waiting for the handler", waiting));
  proc->exit();
  close_disk(ctx, src, "ram1");
  check_frames_free(ctx, "the process exited");
}

}  // namespace

const Scenario* uffd_gup_scenario() {
  static const UffdGup kScenario;
  return &kScenario;
}

}  // namespace guplab
