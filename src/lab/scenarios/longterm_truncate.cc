// longterm_truncate.cc - seed 003's long-term pin vs truncate: a device pins a file's
// pages long-term (RDMA-like: reg_mr with FOLL_LONGTERM) and keeps writing; the file
// is truncated to nothing, and a second file, written and fsynced right after, gets the
// freed blocks (and, if the pins were released, the freed frames).
//
// Under every policy but `revoke` the device is a plain pinning driver: the truncated
// pages leave the page cache and live on, pinned; the device goes on writing them, and
// nobody tells it that they no longer belong to any file: those writes are lost. Under
// `revoke` the driver listens (rdma_config::listens, seed 003's "make every body listen")
// and its user holds a layout lease on the file: truncate breaks the lease (the user is
// told and given lease_break_time), then MMU_NOTIFY_TRUNCATE makes the device point its
// IOMMU entries at the scratch page and unpin; its later DMA lands in the scratch page,
// and the user has been told.
//
// Oracles: corrupt -- a device stamp in a page of /mnt/other (page cache or disk), its
// data reached another file's; lost -- a device write after the truncate that landed
// in a frame (not the scratch page) while nobody had told the device; ok -- what the
// device's user was told (lease break, lease revoked, revoke), that /mnt/other holds
// what was written into it, and that every frame came back.
//
// Tasks: "rdma0" (the device and its user: lease, reg_mr, writes, dereg) and
// "truncate" (ftruncate /mnt/data to 0, then write and fsync /mnt/other). Scripted: the
// device writes every page, the truncate and the other file's write happen, then the
// device writes every page again. Unscripted: the device writes while the truncating
// task works (at least Workers::kMinRounds rounds) and the scheduler decides; a device
// user that was told of a lease break deregisters (the cooperative path), and
// reg_mr() after the truncate fails (-EFAULT: nothing left to pin).
//
// Predictions: lost under every policy but revoke, every design (pins are references
// under all of them: the frames are not reused, the writes go nowhere); ok under
// revoke, every design (the notifier does not depend on pin tracking; under design
// get the machine acts as `ignore`, so the lease is not broken and only the notifier
// tells the user).
#include <fcntl.h>
#include <fmt/format.h>

#include <atomic>
#include <vector>

#include "base/errno.h"
#include "drivers/iommu.h"
#include "drivers/rdma_device.h"
#include "fs/file.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/file_world.h"
#include "lab/scenarios/skeleton.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"

namespace guplab {

namespace {

constexpr unsigned kPages = 2;
constexpr unsigned kWaitForDevice = 2000;  // unscripted: at most this many yields for the device's first write
constexpr unsigned kTruncateDelay = 4;     // then these before the truncate

class LongtermTruncate final : public Scenario {
 public:
  const char* name() const override { return "longterm-truncate"; }
  const char* description() const override {
    return "a device pins a file's pages long-term and keeps writing while the file is truncated and its blocks "
           "reused: lost, unless policy revoke breaks the lease and revokes the pins (MMU_NOTIFY_TRUNCATE)";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy p) const override {
    return p == WritebackPolicy::revoke ? Outcome::ok : Outcome::lost;
  }
  void run(ScenarioContext& ctx) const override;
};

/** What the tasks leave for the body's oracles. */
struct LtState {
  std::atomic<uint64_t> truncated{0};  // the StampClock's generation once the truncate returned (0: not yet)
  OtherFile other;                     // what "truncate" wrote into /mnt/other
};

// /mnt/other, page @i, straight from the medium.
int other_disk_page(const FileWorld& w, file* f, unsigned long i, PageImage* img, sector_t* sector) {
  inode* in = file_inode(f);
  const unsigned bbits = in->i_sb->s_blocksize_bits;
  sector_t block = static_cast<sector_t>(i) << (PAGE_SHIFT - bbits);
  if (bmap(in, &block) || !block) return -ENODATA;
  *sector = block << (bbits - SECTOR_SHIFT);
  return read_disk_page(w.bdev(), *sector, img);
}

// The other file must hold what was written into it and nothing of the device's.
void check_other(ScenarioContext& ctx, const FileWorld& w, LtState& st, uint32_t writer) {
  unsigned intact = 0;
  for (unsigned i = 0; i < st.other.written.size(); i++) {
    if (st.other.written[i].generation == 0) continue;  // its write failed (reported then): nothing to compare
    PageImage img;
    loff_t pos = static_cast<loff_t>(i) << PAGE_SHIFT;
    if (kernel_read(st.other.f, img.data(), PAGE_SIZE, &pos) != static_cast<ssize_t>(PAGE_SIZE)) {
      ctx.found(Outcome::warn, fmt::format("read /mnt/other page {} failed", i));
      continue;
    }
    const std::string cached = fmt::format("page {} of /mnt/other (page cache)", i);
    if (!check_corrupt(ctx, cached, img, writer)) continue;
    const PageStampScan scan = stamp_scan_page(img.data());
    if (scan.verdict == PageVerdict::whole && scan.stamp() == st.other.written[i]) {
      intact++;
    } else {
      ctx.found(Outcome::lost, fmt::format("{} holds {}, but {} was written into it", cached, scan.describe(),
                                           to_string(st.other.written[i])));
    }
    sector_t sector = 0;
    if (other_disk_page(w, st.other.f, i, &img, &sector) == 0)
      check_corrupt(ctx, fmt::format("page {} of /mnt/other (disk, sector {})", i, sector), img, writer);
  }
  if (intact == st.other.written.size() && intact)
    ctx.found(Outcome::ok, fmt::format("/mnt/other holds what was written into its {} pages", intact));
}

// The device's writes after the truncate: fenced and told, or lost.
void check_device(ScenarioContext& ctx, const RdmaDevice& dev, const LtState& st, bool listens) {
  const uint64_t truncated = st.truncated.load();
  const std::vector<rdma_revoke_event> told = dev.revoke_events();
  std::string said;
  for (const rdma_revoke_event& e : told)
    said += (said.empty() ? "" : ", ") + e.what +
            (e.what == "revoke" ? fmt::format(" ({}, {} pages unpinned)", e.event, e.unpinned) : "");
  if (listens && !told.empty()) ctx.found(Outcome::ok, fmt::format("the device's user was told: {}", said));
  auto told_before = [&told](uint64_t gen) {
    for (const rdma_revoke_event& e : told)
      if (e.generation < gen) return true;
    return false;
  };
  unsigned after = 0;
  for (unsigned long i = 0; i < kPages; i++) {
    const rdma_write_record r = dev.last_write(i);
    if (!truncated || r.stamp.generation <= truncated) continue;
    after++;
    if (r.scratch_chunks == r.chunks_done) {
      ctx.found(Outcome::ok, fmt::format("device write {} came after the truncate: fenced into the scratch page{}",
                                         to_string(r.stamp), told_before(r.stamp.generation) ? ", the user told" : ""));
    } else if (!told_before(r.stamp.generation)) {
      ctx.found(Outcome::lost, fmt::format("device write {} went to pfn {:#x} after the truncate took that page out "
                                           "of /mnt/data; nobody told the device: the write vanished",
                                           to_string(r.stamp), r.pfn));
    } else {
      ctx.found(Outcome::ok, fmt::format("device write {} reached pfn {:#x} after its user was told to let go ({})",
                                         to_string(r.stamp), r.pfn, said));
    }
  }
  if (!after)
    ctx.found(Outcome::ok, truncated ? "the device wrote nothing after the truncate" : "the truncate did not happen");
}

void LongtermTruncate::run(ScenarioContext& ctx) const {
  Machine& m = ctx.machine();
  const bool scripted = ctx.params().scripted;
  const bool listens = wb_policy_row(ctx.params().policy).truncate_revokes;  // revoke, or a policy registered as it
  Skeleton sk(ctx);
  if (!sk.setup_world(file_world_options{.npages = kPages})) return;
  StampClock* clock = sk.clock();
  FileWorld* w = sk.world();
  auto* script = ctx.make<Script>(ctx);
  rdma_config cfg;
  cfg.listens = listens;
  auto* dev = ctx.make<RdmaDevice>(&m, clock, cfg);
  auto* st = ctx.make<LtState>();
  auto* workers = ctx.make<Workers>(1);  // truncate
  if (scripted) script->order({{"lt:written", "lt:truncate"}, {"lt:other:written", "lt:write_again"}});

  ctx.spawn(
      "rdma0",
      [&ctx, dev, w, workers, listens, scripted] {
        if (listens) {
          if (int err = dev->set_layout_lease(w->filp()))
            ctx.found(Outcome::warn, fmt::format("layout lease: {}", errname(err)));
        }
        if (int err = dev->reg_mr(w->addr(), kPages)) {
          if (scripted || err != -EFAULT) ctx.found(Outcome::warn, fmt::format("reg_mr failed: {}", errname(err)));
          else
            ctx.found(Outcome::ok, "reg_mr came after the truncate: -EFAULT, nothing pinned");
          return;
        }
        if (scripted) {
          dev->dma_write_all();
          Script::pass("lt:written");
          Script::pass("lt:write_again");
          dev->dma_write_all();  // DMA the hardware had queued: it goes where the IOMMU says
        } else {
          unsigned g = 0;
          do {
            if (dev->lease_broken()) break;  // the user lets go when told
            dev->dma_write_all();
            yield_some(2);
          } while (workers->keep_going(++g));
        }
        dev->dereg_mr(true);
      },
      w->mm());
  ctx.spawn("truncate", [&ctx, dev, w, st, clock, workers, scripted] {
    Script::pass("lt:truncate");
    // Unscripted: the file is truncated while the device works, so give it time to pin
    // and start writing (bounded: the device may fail to pin, or be slow); from there
    // the scheduler decides how many of its writes come before the truncate.
    if (!scripted) {
      for (unsigned i = 0; i < kWaitForDevice && !dev->writes(); i++) cond_resched();
      yield_some(kTruncateDelay);
    }
    if (int err = vfs_truncate(w->filp(), 0)) ctx.found(Outcome::warn, fmt::format("truncate: {}", errname(err)));
    st->truncated = clock->next();
    ctx.note("truncate: /mnt/data to 0 bytes");
    if (!st->other.create(ctx, clock, "/mnt/other", kPages)) {
      workers->done();
      return;
    }
    if (int err = vfs_fsync(st->other.f, 0)) ctx.found(Outcome::warn, fmt::format("fsync /mnt/other: {}", errname(err)));
    ctx.note("/mnt/other written and fsynced (the freed blocks are reused)");
    Script::pass("lt:other:written");
    workers->done();
  });
  ctx.join_all();

  check_device(ctx, *dev, *st, listens);
  if (st->other.f) {
    if (int err = w->sync()) ctx.found(Outcome::warn, fmt::format("sync: {}", errname(err)));
    check_other(ctx, *w, *st, dev->writer());
    st->other.close();
  }
  close_and_check_frames(ctx, *w);
}

}  // namespace

const Scenario* longterm_truncate_scenario() {
  static const LongtermTruncate kScenario;
  return &kScenario;
}

}  // namespace guplab
