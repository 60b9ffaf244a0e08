// skeleton_test.cc - the scenario authors' kit: frame_at() and the Skeleton builder.
#include "lab/scenarios/skeleton.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>

#include "base/errno.h"
#include "lab/scenario.h"
#include "lab/oracles.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "block/blkdev.h"
#include "fs/file.h"
#include "machine/machine.h"
#include "machine/sync_point_names.h"
#include "mm/fork.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"

namespace guplab {
namespace {

ScenarioParams sim_params(bool scripted) {
  ScenarioParams p;
  p.backend = Backend::sim;
  p.seed = 3;
  p.scripted = scripted;
  return p;
}

// frame_at() on a page the process wrote, and on an address nothing maps.
class FrameAt : public Scenario {
 public:
  const char* name() const override { return "frame-at"; }
  const char* description() const override { return "frame_at() looks a page up"; }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    mm_struct* mm = mm_alloc(&ctx.machine());
    ASSERT_NE(mm, nullptr);
    const long a = vm_mmap(mm, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    ASSERT_GT(a, 0);
    const unsigned long addr = static_cast<unsigned long>(a);
    const char c = 'x';
    ASSERT_EQ(uaccess_write(mm, addr, &c, 1), 0);
    const long pfn = frame_at(mm, addr);
    EXPECT_GT(pfn, 0);
    EXPECT_EQ(frame_at(mm, addr), pfn) << "the same frame, asked twice";
    EXPECT_NE(frame_at(mm, addr + PAGE_SIZE), pfn) << "the second page is another frame";
    EXPECT_EQ(frame_at(mm, addr + 16 * PAGE_SIZE), -EFAULT) << "nothing mapped there";
    mmput(mm);
    ctx.found(Outcome::ok, "looked up");
  }
};

TEST(SkeletonTest, FrameAtFindsTheFrameAndLeavesNoPin) {
  const ScenarioResult r = run_scenario(FrameAt(), sim_params(true));
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
  EXPECT_EQ(r.pins_acquired, r.pins_released);
  EXPECT_GT(r.pins_acquired, 0u) << "frame_at() pins to look up";
}

// A lost-update-like scenario built on the Skeleton: the device's writes after a
// flusher pass, released with or without dirtying.
struct Passes {
  std::atomic<unsigned> flush{0}, reclaim{0};
};

class Built : public Scenario {
 public:
  Built(bool make_dirty, bool kswapd, Passes* passes) : make_dirty_(make_dirty), kswapd_(kswapd), passes_(passes) {}
  const char* name() const override { return "built"; }
  const char* description() const override { return "a scenario from the Skeleton"; }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    Skeleton sk(ctx);
    if (!sk.setup(file_world_options{.npages = 1})) return;
    sk.witness()->ask_at(sp::kWritebackClearDirtyBefore);
    if (ctx.params().scripted)
      sk.script()->order({{sp::device_sync_point(sk.dev()->name(), sp::kDevRegMrDone), "built:flush"},
                          {"built:flushed", sp::device_sync_point(sk.dev()->name(), sp::kDevWriteBegin)}});
    Passes* passes = passes_;
    sk.device({.make_dirty = make_dirty_});
    sk.flusher({.begin = "built:flush", .end = "built:flushed", .after_pass = [passes](unsigned, long) {
                  passes->flush++;
                }});
    if (kswapd_) sk.kswapd({.after_pass = [passes](unsigned, long) { passes->reclaim++; }}, 1);
    sk.run();
    sk.finish();
  }

 private:
  bool make_dirty_;
  bool kswapd_;
  Passes* passes_;
};

TEST(SkeletonTest, ScriptedOnePassEachAndTheOraclesJudge) {
  // design get: nothing stops writeback cleaning the pinned page before the DMA.
  ScenarioParams p = sim_params(true);
  p.design = PinDesign::get;
  p.policy = WritebackPolicy::ignore;
  Passes dirty, clean;
  const ScenarioResult redirtied = run_scenario(Built(true, false, &dirty), p);
  EXPECT_EQ(redirtied.outcome, Outcome::ok) << redirtied.reason;
  EXPECT_EQ(dirty.flush.load(), 1u);
  EXPECT_EQ(dirty.reclaim.load(), 0u);
  const ScenarioResult lost = run_scenario(Built(false, false, &clean), p);
  EXPECT_EQ(lost.outcome, Outcome::lost) << "released without dirtying after writeback cleaned it: " << lost.reason;
}

TEST(SkeletonTest, UnscriptedTheKernelTasksLoopWhileTheDeviceWrites) {
  Passes passes;
  const ScenarioResult r = run_scenario(Built(true, true, &passes), sim_params(false));
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
  EXPECT_GE(passes.flush.load(), Workers::kMinRounds);
  EXPECT_LE(passes.flush.load(), Workers::kMaxRounds);
  EXPECT_GE(passes.reclaim.load(), Workers::kMinRounds);
}

// The kit the other scenarios take from the Skeleton: a stamped raw disk, a second file,
// an anonymous process and a device's rounds over it, and the frame check.
struct KitSeen {
  std::vector<dma_stamp> disk;
  bool disk_page0_whole = false;
  std::vector<dma_stamp> other;
  bool other_opened = false;
  uint64_t device_writes = 0;
  bool frames_free = false;
};

class Kit : public Scenario {
 public:
  explicit Kit(KitSeen* seen) : seen_(seen) {}
  const char* name() const override { return "kit"; }
  const char* description() const override { return "the Skeleton's kit"; }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    KitSeen* seen = seen_;
    Skeleton sk(ctx);
    ASSERT_TRUE(sk.setup_world(file_world_options{.npages = 1}));
    block_device* disk = open_stamped_disk(ctx, "ram1,size=64K", sk.clock(), 2, 7, &seen->disk);
    ASSERT_NE(disk, nullptr);
    PageImage img;
    ASSERT_EQ(read_disk_page(disk, 0, &img), 0);
    const PageStampScan scan = stamp_scan_page(img.data());
    seen->disk_page0_whole = scan.verdict == PageVerdict::whole && scan.stamp() == seen->disk.at(0);
    close_disk(ctx, disk, "ram1");
    auto* other = ctx.make<OtherFile>();
    seen->other_opened = other->create(ctx, sk.clock(), "/mnt/other", 2);
    seen->other = other->written;
    other->close();

    sk.setup_device();
    auto* proc = ctx.make<AnonProcess>();
    ASSERT_TRUE(proc->setup(ctx, 2));
    auto* body = ctx.make<Workers>(1);  // the body is the other side, for Workers::kMinRounds rounds
    RdmaDevice* dev = sk.dev();
    ctx.spawn("rdma0", [&ctx, dev, proc, body] { device_rounds(ctx, dev, proc->addr, 2, body, {}); }, proc->mm);
    body->done();
    ctx.join_all();
    seen->device_writes = dev->writes();
    proc->exit();
    close_and_check_frames(ctx, *sk.world());
    seen->frames_free = check_frames_free(ctx, "the kit's run");
  }

 private:
  KitSeen* seen_;
};

TEST(SkeletonTest, KitStampsTheDiskWritesTheOtherFileAndTheDeviceRoundsEnd) {
  KitSeen seen;
  const ScenarioResult r = run_scenario(Kit(&seen), sim_params(false));
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
  ASSERT_EQ(seen.disk.size(), 2u);
  EXPECT_EQ(seen.disk[0].writer, 7u);
  EXPECT_EQ(seen.disk[1].page, 1u);
  EXPECT_TRUE(seen.disk_page0_whole) << "page 0 of ram1 holds its stamp";
  EXPECT_TRUE(seen.other_opened);
  ASSERT_EQ(seen.other.size(), 2u);
  EXPECT_NE(seen.other[0].generation, 0u) << "a write that went through is recorded";
  // unscripted: at least Workers::kMinRounds rounds of 2 pages, at most kMaxRounds
  EXPECT_GE(seen.device_writes, 2u * Workers::kMinRounds);
  EXPECT_LE(seen.device_writes, 2u * Workers::kMaxRounds);
  EXPECT_TRUE(seen.frames_free);
  EXPECT_EQ(r.pins_acquired, r.pins_released);
}

TEST(SkeletonTest, KitScriptedDeviceMakesOneRound) {
  KitSeen seen;
  const ScenarioResult r = run_scenario(Kit(&seen), sim_params(true));
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
  EXPECT_EQ(seen.device_writes, 2u) << "scripted: one round over the 2 pages";
}

}  // namespace
}  // namespace guplab
