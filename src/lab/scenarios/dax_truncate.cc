// dax_truncate.cc - seed 003's O3: truncate of an fs-DAX file whose pages a device has
// pinned. On fs-DAX the page *is* the disk block (a frame of the pmem region, block/pmem.h),
// so a block freed under a pin is a frame the device keeps writing after the filesystem
// gave it to somebody else.
//
// Two acts, on ext4 -o dax on pmem0 with a 4-page file mapped shared by one process:
//  1. "rdma0" reads every page through the mapping (the DAX frames get mapped), then
//     asks for a long-term pin of it (pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)), as an
//     RDMA registration would. Upstream refuses fs-DAX (-EOPNOTSUPP); under a policy
//     that revokes pins at truncate it is allowed, and the revoke is that policy's
//     business (longterm-truncate): the pin is dropped at once.
//  2. "dio" reads a raw disk (ram1) with O_DIRECT into the mapping: the DAX frames are
//     pinned short-term and put in bios; "truncate" truncates the file to nothing while
//     the read is in flight. dax_layout_busy_page() finds the pinned frames and truncate
//     waits for the read to complete before any block is freed. Scripted: the truncate
//     comes once the bios are submitted, and the read's DMA runs only once truncate
//     sleeps on the busy page (or has returned). Unscripted: the scheduler decides (a
//     pin after the truncate faults beyond EOF: -EFAULT, nothing pinned). ram1 has a
//     latency, so the read is often still in flight when truncate comes.
//
// Oracles: the long-term pin must be refused (ok) unless the policy revokes; in act 2 a
// local `corrupt` check on every chunk of the read's DMA: a frame the device writes
// must still belong to the file (a frame whose block truncate freed has lost its
// page->mapping; reported as lost, "corrupt: ..."). Scripted, truncate must have waited.
// Then nothing may leak (pins, frames).
//
// Predictions: ok under every design and policy. DAX needs no pin tracking to be safe
// here: a DAX frame has no page-cache reference, so any reference left after the unmap
// is GUP's, and design get (plain references) makes truncate wait as well as the
// tracking designs do.
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
#include "mm/gup.h"
#include "mm/memremap.h"
#include "mm/mm_struct.h"
#include "mm/pagemap.h"
#include "mm/uaccess.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 4;
constexpr uint32_t kDiskWriter = 3;  // the stamps ram1 holds

class DaxTruncate final : public Scenario {
 public:
  const char* name() const override { return "dax-truncate"; }
  const char* description() const override {
    return "fs-DAX: long-term pin refused; truncate waits for an O_DIRECT read's short-term pin of the DAX frames";
  }
  MachineConfig config(const ScenarioParams&) const override {
    MachineConfig c = scenario_machine();
    c.ram_bytes = 8ull << 20;   // room for a 2 MiB pmem region in ZONE_MOVABLE
    c.pmem_bytes = 2ull << 20;  // pmem0: 512 blocks of 4 KiB
    return c;
  }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override;
};

struct DaxState {
  short_dio dio;
  std::atomic<long> longterm{0};  // the long-term pin's result
  std::atomic<long> result{0};    // the direct read's submit() or wait() result
  std::atomic<bool> truncated{false};
};

void DaxTruncate::run(ScenarioContext& ctx) const {
  Machine& m = ctx.machine();
  const bool scripted = ctx.params().scripted;
  Skeleton sk(ctx);
  if (!sk.setup_world(file_world_options{.npages = kPages, .dax = true})) return;
  StampClock* clock = sk.clock();
  FileWorld* w = sk.world();
  auto* st = ctx.make<DaxState>();

  // ---- act 1: a long-term pin of fs-DAX ----------------------------------------------
  task_struct* rdma = ctx.spawn(
      "rdma0",
      [w, st] {
        std::vector<page*> pages(kPages);
        mm_struct* mm = current()->mm;
        // The process has read its mapping: the DAX frames are mapped (faulted in).
        for (unsigned i = 0; i < kPages; i++) {
          char c;
          if (uaccess_read(mm, w->addr() + i * PAGE_SIZE, &c, 1)) return;
        }
        mmap_read_lock(mm);
        const long r = pin_user_pages(w->addr(), kPages, FOLL_WRITE | FOLL_LONGTERM, pages.data());
        mmap_read_unlock(mm);
        st->longterm = r;
        if (r > 0) unpin_user_pages(pages.data(), static_cast<unsigned long>(r));
      },
      w->mm());
  ctx.join(rdma);
  const long lt = st->longterm.load();
  if (lt == -EOPNOTSUPP)
    ctx.found(Outcome::ok, "the long-term pin of the fs-DAX mapping was refused: -EOPNOTSUPP (as upstream)");
  else if (lt > 0 && m.wb().truncate_revokes)
    ctx.found(Outcome::ok, fmt::format("the long-term pin was granted ({} pages): policy {} revokes it at truncate",
                                       lt, to_string(m.wb_policy())));
  else
    ctx.found(Outcome::warn, fmt::format("the long-term pin of fs-DAX returned {}, not -EOPNOTSUPP",
                                         lt < 0 ? errname(static_cast<int>(lt)) : std::to_string(lt)));

  // ---- act 2: O_DIRECT in flight while the file is truncated -------------------------
  // A latency keeps the read in flight for a while (virtual time under sim), so that
  // unscripted schedules often truncate in the middle of it.
  block_device* src = open_stamped_disk(ctx, "ram1,size=64K,latency=20us", clock, kPages, kDiskWriter);
  if (!src) {
    close_and_check_frames(ctx, *w);
    return;
  }
  auto* rd = static_cast<ramdisk*>(src);
  auto* script = ctx.make<Script>(ctx);
  auto* dev = ctx.make<ShortDmaDevice>(&m, clock, short_dma_config{});
  // corrupt (local oracle): each chunk of ram1's DMA into a DAX frame must land in a
  // frame that still belongs to the file.
  auto* corrupt = ctx.make<std::atomic<unsigned>>(0);
  // The sync point is every ramdisk's (pmem0's too) and outlives ram1: look at ram1 only
  // while it exists.
  auto* rd_open = ctx.make<std::atomic<bool>>(true);
  script->on(sp::kRamdiskDmaChunk, [&ctx, rd, rd_open, corrupt] {
    if (!rd_open->load(std::memory_order_acquire) || !rd->in_completion_context()) return;
    const ramdisk::dma_cursor_t c = rd->dma_cursor();
    if (c.write || !c.page_ || !is_fsdax_page(c.page_) || page_mapping(c.page_)) return;
    if (corrupt->fetch_add(1) == 0)
      ctx.found(Outcome::lost, fmt::format("corrupt: the direct read wrote pmem frame {} after truncate freed its block",
                                           page_to_pfn(c.page_)));
  });
  if (scripted) {
    // The read's DMA runs once truncate sleeps on a busy page - or, in a kernel that
    // does not wait, once truncate has returned (then the corrupt check sees it).
    script->mark_any("dax:truncate:waits-or-returned", {sp::kDaxBreakLayoutsWait, "dio:truncated"});
    script->order({{sp::device_sync_point(dev->name(), sp::kDevSubmitted), "dio:truncate"}, {"dax:truncate:waits-or-returned", sp::kRamdiskDmaChunk}});
  }

  ctx.spawn(
      "dio",
      [dev, w, src, st] {
        const int err = dev->submit(&st->dio, /*read=*/true, w->addr(), kPages, src, 0);
        st->result = err ? err : ShortDmaDevice::wait(&st->dio);
      },
      w->mm());
  ctx.spawn("truncate", [&ctx, w, st, scripted] {
    Script::pass("dio:truncate");
    if (!scripted) yield_some(4);
    if (int err = vfs_truncate(w->filp(), 0)) ctx.found(Outcome::warn, fmt::format("truncate: {}", errname(err)));
    st->truncated = true;
    ctx.note("truncate: /mnt/data to 0 bytes");
    Script::pass("dio:truncated");
  });
  ctx.join_all();

  const long res = st->result.load();
  if (res < 0 && res != -EFAULT)
    ctx.found(Outcome::warn, fmt::format("the direct read failed: {}", errname(static_cast<int>(res))));
  else
    ctx.found(Outcome::ok, res < 0 ? "the direct read began after the truncate: -EFAULT, nothing pinned"
                                   : "the direct read completed into the DAX frames");
  const unsigned long waits = script->passed(sp::kDaxBreakLayoutsWait);
  if (waits)
    ctx.found(Outcome::ok, fmt::format("truncate waited {} time(s) in dax_layout_busy_page() for the read's pins",
                                       waits));
  else if (scripted)
    ctx.found(Outcome::warn, "truncate did not wait for the pinned DAX frames");
  if (corrupt->load() == 0) ctx.found(Outcome::ok, "no DMA reached a frame after its block was freed");
  rd_open->store(false, std::memory_order_release);
  close_disk(ctx, src, "ram1");
  close_and_check_frames(ctx, *w);
}

}  // namespace

const Scenario* dax_truncate_scenario() {
  static const DaxTruncate kScenario;
  return &kScenario;
}

}  // namespace guplab
