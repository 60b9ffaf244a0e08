// odp_device_test.cc - the on-demand-paging device: mirrors without pinning, faults on
// a cleared entry, follows the mm through MADV_DONTNEED, munmap, mprotect and exit, and
// restarts a write whose frame moved mid-burst; on the sim backend, from seeds, a device
// writing while the range is zapped never writes a freed or reused frame.
#include "drivers/odp_device.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "block/genhd.h"
#include "lab/oracles.h"
#include "machine/sync_point.h"
#include "mm/gup.h"
#include "mm/page_ref.h"
#include "tests/fs/fs_fixture.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

class OdpDeviceTest : public test::MmTest {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config();
    c.trace = true;
    return c;
  }
  PageStampScan scan_user(unsigned long addr) {
    PageImage img;
    EXPECT_EQ(uaccess_read(mm_, addr, img.data(), PAGE_SIZE), 0);
    return stamp_scan_page(img.data());
  }
  StampClock clock_;
};

TEST_F(OdpDeviceTest, RegisterMirrorsTheMappedFramesWithoutPinning) {
  const unsigned long a = map(4 * PAGE_SIZE);
  OdpDevice dev(m_.get(), &clock_, odp_config{});
  ASSERT_EQ(dev.reg_mr(a, 4), 0);
  EXPECT_TRUE(dev.registered());
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 0) << "on-demand paging never pins";
  for (unsigned long i = 0; i < 4; i++) {
    page* p = page_at(a + i * PAGE_SIZE);
    ASSERT_NE(p, nullptr) << "prefetch faulted it in";
    EXPECT_EQ(dev.mapped_pfn(i), page_to_pfn(p));
    EXPECT_EQ(page_ref_count(p), 1) << "no reference either";
    EXPECT_FALSE(page_maybe_dma_pinned(p));
  }
  dma_stamp s;
  ASSERT_EQ(dev.dma_write(1, 0, kStampChunks, &s), 0);
  PageStampScan scan = scan_user(a + PAGE_SIZE);
  EXPECT_EQ(scan.verdict, PageVerdict::whole);
  EXPECT_EQ(scan.stamp(), s);
  EXPECT_EQ(dev.last_write(1).pfn, page_to_pfn(page_at(a + PAGE_SIZE)));
  EXPECT_EQ(dev.last_write(1).chunks_done, kStampChunks);
  EXPECT_EQ(dev.stats().faults, 1u) << "one prefetch round, no fault for the write";
  dev.dereg_mr();
  EXPECT_FALSE(dev.registered());
}

TEST_F(OdpDeviceTest, WithoutPrefetchTheFirstWriteIsADevicePageFault) {
  const unsigned long a = map(2 * PAGE_SIZE);
  odp_config cfg;
  cfg.prefetch = false;
  OdpDevice dev(m_.get(), &clock_, cfg);
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  EXPECT_EQ(dev.mapped_pfn(0), 0ul);
  EXPECT_EQ(page_at(a), nullptr);
  ASSERT_EQ(dev.dma_write(0), 0);
  EXPECT_EQ(dev.stats().faults, 1u);
  ASSERT_NE(page_at(a), nullptr);
  EXPECT_EQ(dev.mapped_pfn(0), page_to_pfn(page_at(a)));
  EXPECT_EQ(dev.mapped_pfn(1), 0ul) << "only the page written";
  EXPECT_EQ(scan_user(a).verdict, PageVerdict::whole);
  dev.dereg_mr();
}

TEST_F(OdpDeviceTest, AnInvalidationClearsTheOverlapAndTheNextWriteRefaults) {
  const unsigned long a = map(4 * PAGE_SIZE);
  OdpDevice dev(m_.get(), &clock_, odp_config{});
  ASSERT_EQ(dev.reg_mr(a, 4), 0);
  const unsigned long pfn2 = dev.mapped_pfn(2);
  { MmuNotifierScope scope(MMU_NOTIFY_CLEAR, mm_, a + PAGE_SIZE, a + 3 * PAGE_SIZE); }
  EXPECT_NE(dev.mapped_pfn(0), 0ul);
  EXPECT_EQ(dev.mapped_pfn(1), 0ul);
  EXPECT_EQ(dev.mapped_pfn(2), 0ul);
  EXPECT_NE(dev.mapped_pfn(3), 0ul);
  EXPECT_EQ(dev.stats().invalidations, 1u);
  EXPECT_EQ(dev.stats().cleared, 2u);
  ASSERT_EQ(dev.dma_write(2), 0);
  EXPECT_EQ(dev.stats().faults, 2u) << "prefetch, then the device page fault";
  EXPECT_EQ(dev.mapped_pfn(2), pfn2) << "nothing changed in the mm: the same frame again";
  dev.dereg_mr();
  { MmuNotifierScope scope(MMU_NOTIFY_CLEAR, mm_, a, a + 4 * PAGE_SIZE); }
  EXPECT_EQ(dev.stats().invalidations, 1u) << "the notifier is gone";
}

TEST_F(OdpDeviceTest, MadviseDontneedSendsTheNextWriteToTheNewFrame) {
  const unsigned long a = map(2 * PAGE_SIZE);
  OdpDevice dev(m_.get(), &clock_, odp_config{});
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  ASSERT_EQ(dev.dma_write(0), 0);
  const unsigned long old_pfn = dev.mapped_pfn(0);
  ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_EQ(dev.mapped_pfn(0), 0ul) << "zap invalidated the device entry";
  EXPECT_NE(dev.mapped_pfn(1), 0ul);
  EXPECT_EQ(scan_user(a).verdict, PageVerdict::unstamped) << "the process sees a fresh zero page";
  dma_stamp s;
  ASSERT_EQ(dev.dma_write(0, 0, kStampChunks, &s), 0);
  page* now = page_at(a);
  ASSERT_NE(now, nullptr);
  EXPECT_EQ(dev.mapped_pfn(0), page_to_pfn(now));
  EXPECT_EQ(dev.last_write(0).pfn, page_to_pfn(now));
  EXPECT_EQ(scan_user(a).stamp(), s) << "the write reached what the process maps";
  (void)old_pfn;
  dev.dereg_mr();
}

TEST_F(OdpDeviceTest, AfterMunmapAWriteFailsAndLandsNowhere) {
  const unsigned long a = map(2 * PAGE_SIZE);
  OdpDevice dev(m_.get(), &clock_, odp_config{});
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  ASSERT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  EXPECT_EQ(dev.mapped_pfn(0), 0ul);
  EXPECT_EQ(dev.mapped_pfn(1), 0ul);
  EXPECT_EQ(dev.dma_write(1), -EFAULT);
  EXPECT_EQ(dev.stats().errors, 1u);
  EXPECT_EQ(dev.last_write(1).chunks_done, 0u) << "no chunk landed";
  dev.dereg_mr();
}

TEST_F(OdpDeviceTest, MprotectReadOnlyMakesWritesFailWithEperm) {
  const unsigned long a = map(PAGE_SIZE);
  OdpDevice dev(m_.get(), &clock_, odp_config{});
  ASSERT_EQ(dev.reg_mr(a, 1), 0);
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ), 0);
  EXPECT_EQ(dev.mapped_pfn(0), 0ul) << "PROTECTION_VMA cleared the writable entry";
  EXPECT_EQ(dev.dma_write(0), -EPERM);
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(dev.dma_write(0), 0);
  dev.dereg_mr();
}

TEST_F(OdpDeviceTest, ExitClearsTheMirrorAndLaterWritesFail) {
  const unsigned long a = map(2 * PAGE_SIZE);
  OdpDevice dev(m_.get(), &clock_, odp_config{});
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  drop_mm();  // exit_mmap(): RELEASE for the interval notifier
  EXPECT_EQ(dev.mapped_pfn(0), 0ul);
  EXPECT_EQ(dev.dma_write(0), -EFAULT) << "the mm is gone: no device fault can succeed";
  dev.dereg_mr();  // drops the device's mmgrab
}

TEST_F(OdpDeviceTest, AFrameThatMovesMidWriteGetsTheWholeWriteAgain) {
  const unsigned long a = map(PAGE_SIZE);
  odp_config cfg;
  cfg.name = "odp";
  OdpDevice dev(m_.get(), &clock_, cfg);
  ASSERT_EQ(dev.reg_mr(a, 1), 0);
  ASSERT_EQ(dev.dma_write(0), 0);
  const unsigned long old_pfn = dev.mapped_pfn(0);
  m_->sync_points().enable();
  int chunks = 0;
  m_->sync_points().set_callback("odp:chunk", [&] {
    if (++chunks == 4) ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), 0);  // after chunk 3 landed
  });
  dma_stamp s;
  ASSERT_EQ(dev.dma_write(0, 0, kStampChunks, &s), 0);
  m_->sync_points().disable();
  EXPECT_EQ(chunks, 4 + static_cast<int>(kStampChunks)) << "four chunks in the old frame, then all eight again";
  EXPECT_EQ(dev.stats().restarts, 1u);
  PageStampScan scan = scan_user(a);
  EXPECT_EQ(scan.verdict, PageVerdict::whole) << scan.describe();
  EXPECT_EQ(scan.stamp(), s);
  EXPECT_EQ(dev.last_write(0).chunks_done, kStampChunks);
  EXPECT_EQ(dev.last_write(0).pfn, page_to_pfn(page_at(a)));
  (void)old_pfn;
  dev.dereg_mr();
}

// ---- truncate of a mirrored shared file mapping -----------------------------------------

class OdpTruncateTest : public fstest::FsTest {};

// The device writes a MAP_SHARED file; mid-write (after chunk 3) the file is truncated
// to 0 (MMU_NOTIFY_TRUNCATE clears the device's entries) and a second file takes the
// freed blocks and page frames. The rest of the write faults beyond EOF and fails: no
// chunk reaches the second file, in memory or on disk.
TEST_F(OdpTruncateTest, TruncateMidWriteStopsTheDeviceAndTheReuserKeepsItsData) {
  constexpr unsigned long kPages = 4;
  write_file("/mnt/a", pattern(kPages * PAGE_SIZE, 1), true);
  file* f = open("/mnt/a");
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, kPages * PAGE_SIZE);
  StampClock clock;
  odp_config cfg;
  cfg.name = "odp";
  OdpDevice dev(m_.get(), &clock, cfg);
  ASSERT_EQ(dev.reg_mr(a, kPages), 0);
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 0);
  ASSERT_EQ(dev.dma_write_all(), 0);
  m_->sync_points().enable();
  int chunks = 0;
  m_->sync_points().set_callback("odp:chunk", [&] {
    if (++chunks != 4) return;
    ASSERT_EQ(vfs_truncate(f, 0), 0);
    write_file("/mnt/b", pattern(2 * kPages * PAGE_SIZE, 2), true);
  });
  EXPECT_EQ(dev.dma_write(1), -EFAULT) << "the page is beyond EOF now: the device fault fails";
  m_->sync_points().disable();
  EXPECT_EQ(chunks, 4);
  for (unsigned long i = 0; i < kPages; i++) EXPECT_EQ(dev.mapped_pfn(i), 0ul);
  EXPECT_GE(dev.stats().invalidations, 1u);
  EXPECT_EQ(dev.stats().errors, 1u);
  EXPECT_EQ(dev.dma_write(0), -EFAULT);
  EXPECT_EQ(read_file("/mnt/b"), pattern(2 * kPages * PAGE_SIZE, 2)) << "no device chunk in the second file";
  dev.dereg_mr();
  ASSERT_EQ(vm_munmap(mm_, a, kPages * PAGE_SIZE), 0);
  filp_close(f);
  // And on disk, after the page cache is gone.
  ASSERT_EQ(umount(), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/b"), pattern(2 * kPages * PAGE_SIZE, 2));
}

// ---- the sim-backend race --------------------------------------------------------------

enum class Zap { munmap, dontneed };

struct RaceOutcome {
  long reused_with_device_data = 0;  // pages of the later mapping that hold a device stamp
  long failed_writes = 0;
  long restarts = 0;
  long invalidations = 0;
  bool final_write_seen = true;  // dontneed: the last write after the race is what the process sees
};

// The device writes whole generations to its 8 pages; meanwhile another task zaps half
// the range and at once fills other memory of the process (its faults reuse the freed
// frames) with the task's own stamps. No device chunk may reach that memory, and (dontneed)
// a write after the race reaches the frame the process maps.
RaceOutcome race_once(uint64_t seed, Zap zap) {
  MachineConfig c = test::small_config();
  c.backend = Backend::sim;
  c.seed = seed;
  Machine m(c);
  RaceOutcome out;
  m.run([&] {
    constexpr unsigned long kPages = 8;
    StampClock clock;
    mm_struct* mm = mm_alloc(&m);
    long r = vm_mmap(mm, 0, kPages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    ASSERT_GT(r, 0);
    const auto a = static_cast<unsigned long>(r);
    // The memory that will reuse the freed frames: mapped now (so not at the zapped
    // addresses, which the device may legitimately reach again), touched after the zap.
    long b = vm_mmap(mm, 0, kPages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    ASSERT_GT(b, 0);
    const auto reused = static_cast<unsigned long>(b);
    OdpDevice dev(&m, &clock, odp_config{});
    current()->mm = mm;
    ASSERT_EQ(dev.reg_mr(a, kPages), 0);
    task_struct* device = m.spawn("odp0", [&] {
      for (int g = 0; g < 3; g++)
        for (unsigned long i = 0; i < kPages; i++)
          if (dev.dma_write(i) != 0) out.failed_writes++;
    }, mm);
    task_struct* zapper = m.spawn("zapper", [&] {
      for (uint64_t i = 0; i < seed % 5; i++) cond_resched();
      if (zap == Zap::munmap)
        vm_munmap(mm, a, kPages / 2 * PAGE_SIZE);
      else
        do_madvise(mm, a, kPages / 2 * PAGE_SIZE, MADV_DONTNEED);
      for (unsigned long i = 0; i < kPages; i++) {
        PageImage img;
        stamp_fill_page(img.data(), dma_stamp{0, static_cast<uint32_t>(i), clock.next()});
        ASSERT_EQ(uaccess_write(mm, reused + i * PAGE_SIZE, img.data(), PAGE_SIZE), 0);
      }
    }, mm);
    task_join(device);
    task_join(zapper);
    for (unsigned long i = 0; i < kPages; i++) {
      PageImage img;
      ASSERT_EQ(uaccess_read(mm, reused + i * PAGE_SIZE, img.data(), PAGE_SIZE), 0);
      PageStampScan scan = stamp_scan_page(img.data());
      if (scan.verdict != PageVerdict::whole || scan.stamp().writer != 0) out.reused_with_device_data++;
    }
    if (zap == Zap::dontneed) {
      dma_stamp s;
      ASSERT_EQ(dev.dma_write(0, 0, kStampChunks, &s), 0);
      PageImage img;
      ASSERT_EQ(uaccess_read(mm, a, img.data(), PAGE_SIZE), 0);
      PageStampScan scan = stamp_scan_page(img.data());
      out.final_write_seen = scan.verdict == PageVerdict::whole && scan.stamp() == s;
    }
    odp_stats st = dev.stats();
    out.restarts = static_cast<long>(st.restarts);
    out.invalidations = static_cast<long>(st.invalidations);
    dev.dereg_mr();
    current()->mm = nullptr;
    mmput(mm);
  });
  EXPECT_TRUE(m.sim_result() && m.sim_result()->ok()) << (m.sim_result() ? m.sim_result()->format() : "");
  EXPECT_EQ(m.nr_oops(), 0u) << (m.nr_oops() ? m.oopses()[0].format() : "");
  EXPECT_EQ(m.nr_warnings(), 0u) << (m.nr_warnings() ? m.warnings()[0].format() : "") << " (a write into a free frame?)";
  EXPECT_EQ(m.vmstat().read(NR_FOLL_PIN_ACQUIRED), 0);
  return out;
}

class OdpSimRaceTest : public ::testing::TestWithParam<Zap> {};

TEST_P(OdpSimRaceTest, NoWriteLandsInAFreedOrReusedFrame) {
  long failed = 0, invalidated = 0;
  for (uint64_t seed = 1; seed <= 24; seed++) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    RaceOutcome o = race_once(seed, GetParam());
    EXPECT_EQ(o.reused_with_device_data, 0) << "a device write reached memory it does not mirror";
    EXPECT_TRUE(o.final_write_seen) << "after re-fault the write goes to the new frame";
    failed += o.failed_writes;
    invalidated += o.invalidations > 0;
  }
  EXPECT_EQ(invalidated, 24) << "every seed zaps part of the mirrored range";
  if (GetParam() == Zap::munmap) EXPECT_GT(failed, 0) << "some writes must come after the munmap";
  if (GetParam() == Zap::dontneed) EXPECT_EQ(failed, 0) << "DONTNEED leaves the vma: writes re-fault";
}

INSTANTIATE_TEST_SUITE_P(Zaps, OdpSimRaceTest, ::testing::Values(Zap::munmap, Zap::dontneed),
                         [](const auto& info) { return std::string(info.param == Zap::munmap ? "munmap" : "dontneed"); });

// The same race against truncate of a MAP_SHARED file on the sim backend: the device
// writes its 4 mirrored file pages while another task truncates the file to 0 and
// writes a second file that takes the freed blocks and page frames. No device chunk may
// reach the second file; the device's writes after the truncate fail.
TEST(OdpSimTruncateTest, NoWriteReachesTheFileThatReusesTheBlocksAndFrames) {
  constexpr unsigned long kPages = 4;
  long failed = 0, invalidated = 0;
  for (uint64_t seed = 1; seed <= 12; seed++) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    MachineConfig c = test::small_config();
    c.backend = Backend::sim;
    c.seed = seed;
    Machine m(c);
    bool second_intact = false;
    m.run([&] {
      const char* disk = "ram0,size=4M";
      ASSERT_EQ(ext4_mkfs(&m, disk, ext4_mkfs_options{4096, 0}), 0);
      std::string err;
      ASSERT_EQ(m.mounts().mount(disk, "/mnt", "ext4", "", &err), 0) << err;
      current()->files = files_alloc();
      mm_struct* mm = mm_alloc(&m);
      current()->mm = mm;
      auto fill = [](const char* path, unsigned long pages, unsigned seed_byte) {
        std::vector<char> data(pages * PAGE_SIZE, static_cast<char>(seed_byte));
        file* f = filp_open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        ASSERT_FALSE(IS_ERR(f));
        loff_t pos = 0;
        ASSERT_EQ(kernel_write(f, data.data(), data.size(), &pos), static_cast<ssize_t>(data.size()));
        ASSERT_EQ(vfs_fsync(f, 0), 0);
        filp_close(f);
      };
      fill("/mnt/a", kPages, 0x11);
      file* f = filp_open("/mnt/a", O_RDWR, 0);
      ASSERT_FALSE(IS_ERR(f));
      long r = file_mmap(mm, f, 0, kPages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
      ASSERT_GT(r, 0);
      const auto a = static_cast<unsigned long>(r);
      StampClock clock;
      OdpDevice dev(&m, &clock, odp_config{});
      ASSERT_EQ(dev.reg_mr(a, kPages), 0);
      std::atomic<bool> done{false};
      task_struct* device = m.spawn("odp0", [&] {
        // Keeps writing until the second file is on disk (bounded).
        for (int g = 0; g < 64 && !done.load(std::memory_order_relaxed); g++)
          for (unsigned long i = 0; i < kPages; i++)
            if (dev.dma_write(i) != 0) failed++;
      }, mm);
      task_struct* truncater = m.spawn("truncate", [&] {
        for (uint64_t i = 0; i < seed % 5; i++) cond_resched();
        ASSERT_EQ(vfs_truncate(f, 0), 0);
        fill("/mnt/b", 2 * kPages, 0x22);
        done.store(true, std::memory_order_relaxed);
      }, mm);
      task_join(device);
      task_join(truncater);
      {
        std::vector<char> got(2 * kPages * PAGE_SIZE);
        file* b = filp_open("/mnt/b", O_RDONLY, 0);
        ASSERT_FALSE(IS_ERR(b));
        loff_t pos = 0;
        ASSERT_EQ(kernel_read(b, got.data(), got.size(), &pos), static_cast<ssize_t>(got.size()));
        filp_close(b);
        second_intact = got == std::vector<char>(got.size(), 0x22);
      }
      invalidated += dev.stats().invalidations > 0;
      dev.dereg_mr();
      ASSERT_EQ(vm_munmap(mm, a, kPages * PAGE_SIZE), 0);
      filp_close(f);
      current()->mm = nullptr;
      mmput(mm);
      put_files_struct(current()->files);
      current()->files = nullptr;
      ASSERT_EQ(m.mounts().umount("/mnt"), 0);
      ASSERT_EQ(del_gendisk(&m, "ram0"), 0);  // its completion task must end inside the run
    });
    EXPECT_TRUE(m.sim_result() && m.sim_result()->ok()) << (m.sim_result() ? m.sim_result()->format() : "");
    EXPECT_EQ(m.nr_oops(), 0u) << (m.nr_oops() ? m.oopses()[0].format() : "");
    EXPECT_EQ(m.nr_warnings(), 0u) << (m.nr_warnings() ? m.warnings()[0].format() : "");
    EXPECT_TRUE(second_intact) << "a device write reached the file that reused the blocks or frames";
  }
  EXPECT_EQ(invalidated, 12) << "TRUNCATE reached the mirror on every seed";
  EXPECT_GT(failed, 0) << "some writes come after the truncate";
}

}  // namespace
}  // namespace guplab
