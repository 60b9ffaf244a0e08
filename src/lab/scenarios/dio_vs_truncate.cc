// dio_vs_truncate.cc - O_DIRECT in flight while the file it targets is truncated.
// A process reads a raw disk with O_DIRECT into its MAP_SHARED mapping of an ext4 file:
// the file's page-cache pages are pinned (FOLL_WRITE) and put into GUP bios. While the
// read is in flight the file is truncated to nothing: its pages leave the page cache
// but must live on until the bios complete and unpin them, and their frames must not be
// handed to anybody else meanwhile. To catch a frame freed too early, the truncating
// task then writes another file, whose new page-cache pages are the first frames the
// allocator would hand out; when the read completes, that file must still hold exactly
// what was written into it.
//
// Tasks: "dio" (the process: submit the direct read of ram1 into the mapping, wait) and
// "truncate" (ftruncate to 0, then write /mnt/other). Scripted: the read is submitted,
// the truncate and the other file's write happen, then the read's DMA runs. Unscripted:
// the scheduler decides (the pin may also come after the truncate: then it faults
// beyond EOF and the read fails with -EFAULT, nothing pinned).
//
// Predictions: ok under every design and policy (pins hold references; design get
// too): the oracles check that nothing leaks (pins, frames), nothing oopses, and the
// other file is intact.
#include <fcntl.h>
#include <fmt/format.h>

#include <atomic>
#include <vector>

#include "base/errno.h"
#include "block/genhd.h"
#include "block/ramdisk.h"
#include "drivers/short_dma_device.h"
#include "fs/file.h"
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

constexpr unsigned kPages = 4;
constexpr uint32_t kDiskWriter = 3;  // the stamps ram1 holds

class DioVsTruncate final : public Scenario {
 public:
  const char* name() const override { return "dio-vs-truncate"; }
  const char* description() const override {
    return "O_DIRECT read into a shared mapping of a file that is truncated while the read is in flight";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override;
};

/** What the tasks leave for the body's oracles. */
struct DioState {
  short_dio dio;
  std::atomic<long> result{0};  // submit()'s or wait()'s result
  OtherFile other;  // what "truncate" wrote into /mnt/other (written before the join)
};

void DioVsTruncate::run(ScenarioContext& ctx) const {
  Machine& m = ctx.machine();
  const bool scripted = ctx.params().scripted;
  Skeleton sk(ctx);
  if (!sk.setup_world(file_world_options{.npages = kPages})) return;
  StampClock* clock = sk.clock();
  FileWorld* w = sk.world();
  // The raw disk the process reads from, stamped as a device of its own.
  block_device* src = open_stamped_disk(ctx, "ram1,size=64K", clock, kPages, kDiskWriter);
  if (!src) return;
  auto* script = ctx.make<Script>(ctx);
  auto* dev = ctx.make<ShortDmaDevice>(&m, clock, short_dma_config{});
  auto* st = ctx.make<DioState>();
  if (scripted)
    script->order({{sp::device_sync_point(dev->name(), sp::kDevSubmitted), "dio:truncate"}, {"dio:other:written", sp::kRamdiskDmaChunk}});

  ctx.spawn(
      "dio",
      [dev, w, src, st] {
        const int err = dev->submit(&st->dio, /*read=*/true, w->addr(), kPages, src, 0);
        st->result = err ? err : ShortDmaDevice::wait(&st->dio);
      },
      w->mm());
  ctx.spawn("truncate", [&ctx, w, st, clock, scripted] {
    Script::pass("dio:truncate");
    if (int err = vfs_truncate(w->filp(), 0)) ctx.found(Outcome::warn, fmt::format("truncate: {}", errname(err)));
    ctx.note("truncate: /mnt/data to 0 bytes");
    if (!scripted) yield_some(2);
    if (!st->other.create(ctx, clock, "/mnt/other", kPages)) return;
    Script::pass("dio:other:written");
  });
  ctx.join_all();

  const long res = st->result.load();
  if (res < 0 && res != -EFAULT) ctx.found(Outcome::warn, fmt::format("the direct read failed: {}", errname(static_cast<int>(res))));
  else
    ctx.found(Outcome::ok, res < 0 ? "the direct read began after the truncate: -EFAULT, nothing pinned"
                                   : "the direct read completed into the truncated pages");
  // The other file must hold what was written into it, page for page.
  bool intact = true;
  for (unsigned i = 0; i < st->other.written.size(); i++) {
    if (st->other.written[i].generation == 0) {  // its write failed (reported then): nothing to compare
      intact = false;
      continue;
    }
    PageImage img;
    loff_t pos = static_cast<loff_t>(i) << PAGE_SHIFT;
    if (kernel_read(st->other.f, img.data(), PAGE_SIZE, &pos) != static_cast<ssize_t>(PAGE_SIZE)) {
      ctx.found(Outcome::warn, fmt::format("read /mnt/other page {} failed", i));
      continue;
    }
    const PageStampScan scan = stamp_scan_page(img.data());
    if (scan.verdict != PageVerdict::whole || !(scan.stamp() == st->other.written[i])) {
      intact = false;
      ctx.found(Outcome::lost, fmt::format("/mnt/other page {} holds {}, but {} was written into it (the write "
                                           "succeeded)",
                                           i, scan.describe(), to_string(st->other.written[i])));
    }
  }
  if (intact && !st->other.written.empty())
    ctx.found(Outcome::ok, fmt::format("/mnt/other holds what was written into its {} pages", st->other.written.size()));
  st->other.close();
  close_disk(ctx, src, "ram1");
  close_and_check_frames(ctx, *w);
}

}  // namespace

const Scenario* dio_vs_truncate_scenario() {
  static const DioVsTruncate kScenario;
  return &kScenario;
}

}  // namespace guplab
