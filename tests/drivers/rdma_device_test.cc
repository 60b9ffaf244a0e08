// rdma_device_test.cc - the long-term device: pin, stamped writes into the frames,
// records, sync points, seed 002's release, under every pin design.
#include "drivers/rdma_device.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "base/clock.h"
#include "drivers/iommu.h"
#include "lab/oracles.h"
#include "machine/sync_point.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/mmu_notifier.h"
#include "mm/page-flags.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

class RdmaDeviceTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config();
    c.pin_design = GetParam();
    c.trace = true;
    return c;
  }
  /** user_page() - what the process sees at @addr, as a page image. */
  PageImage user_page(unsigned long addr) {
    PageImage img;
    EXPECT_EQ(uaccess_read(mm_, addr, img.data(), PAGE_SIZE), 0);
    return img;
  }
  int64_t acquired() const { return vs(NR_FOLL_PIN_ACQUIRED); }
  int64_t released() const { return vs(NR_FOLL_PIN_RELEASED); }
  StampClock clock_;
};

TEST_P(RdmaDeviceTest, RegisterWriteDeregister) {
  const unsigned long a = map(4 * PAGE_SIZE);
  RdmaDevice dev(m_.get(), &clock_, rdma_config{});
  ASSERT_EQ(dev.reg_mr(a, 4), 0);
  EXPECT_TRUE(dev.registered());
  EXPECT_EQ(dev.nr_pages(), 4u);
  EXPECT_EQ(acquired(), 4);
  for (unsigned long i = 0; i < 4; i++) {
    EXPECT_EQ(dev.pinned_page(i), page_at(a + i * PAGE_SIZE)) << "the device holds the mapped frame";
    EXPECT_EQ(page_maybe_dma_pinned(dev.pinned_page(i)), GetParam() != PinDesign::get);
  }

  const dma_stamp s = dev.dma_write(1);
  EXPECT_EQ(s, (dma_stamp{1, 1, 1}));
  PageStampScan scan = stamp_scan_page(user_page(a + PAGE_SIZE).data());
  EXPECT_EQ(scan.verdict, PageVerdict::whole) << "the process sees the device's write";
  EXPECT_EQ(scan.stamp(), s);
  EXPECT_EQ(stamp_scan_page(user_page(a).data()).verdict, PageVerdict::unstamped);
  rdma_write_record rec = dev.last_write(1);
  EXPECT_EQ(rec.stamp, s);
  EXPECT_EQ(rec.chunks_done, kStampChunks);
  EXPECT_EQ(rec.pfn, page_to_pfn(page_at(a + PAGE_SIZE)));
  EXPECT_EQ(dev.last_write(0).stamp.generation, 0u);

  int pinned = 0;
  dev.for_each_pinned([&](unsigned long, page*) { pinned++; });
  EXPECT_EQ(pinned, 4);

  dev.dereg_mr(true);
  EXPECT_FALSE(dev.registered());
  EXPECT_EQ(released(), 4);
  pinned = 0;
  dev.for_each_pinned([&](unsigned long, page*) { pinned++; });
  EXPECT_EQ(pinned, 0);
  EXPECT_EQ(dev.last_write(1).stamp, s) << "records outlive the registration";
  EXPECT_TRUE(PageDirty(page_at(a + PAGE_SIZE))) << "set_page_dirty_lock() at release";
}

TEST_P(RdmaDeviceTest, PartialWriteLeavesATornPage) {
  const unsigned long a = map(PAGE_SIZE);
  RdmaDevice dev(m_.get(), &clock_, rdma_config{});
  ASSERT_EQ(dev.reg_mr(a, 1), 0);
  dev.dma_write(0);
  const dma_stamp half = dev.dma_write(0, 0, 4);
  EXPECT_EQ(dev.last_write(0).chunks_done, 4u);
  EXPECT_EQ(dev.last_write(0).stamp, half);
  EXPECT_EQ(stamp_scan_page(user_page(a).data()).describe(), "torn: [0..3]=dev1/p0/g2 [4..7]=dev1/p0/g1");
  dev.dereg_mr(false);
  EXPECT_EQ(acquired(), released());
}

TEST_P(RdmaDeviceTest, SyncPointsPlaceEachChunk) {
  const unsigned long a = map(2 * PAGE_SIZE);
  rdma_config cfg;
  cfg.name = "nic";
  RdmaDevice dev(m_.get(), &clock_, cfg);
  m_->sync_points().enable();
  // A CPU store that lands after chunk 3 of the device's write: seen as a torn page.
  std::atomic<int> chunks{0};
  m_->sync_points().set_callback("nic:chunk", [&] {
    if (++chunks == 4) {
      PageImage img;
      stamp_fill_page(img.data(), {0, 0, clock_.next()});
      ASSERT_EQ(uaccess_write(mm_, a, img.data(), PAGE_SIZE), 0);
    }
  });
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  dev.dma_write(0);
  EXPECT_EQ(m_->sync_points().hits("nic:reg_mr:done"), 1u);
  EXPECT_EQ(m_->sync_points().hits("nic:write:begin"), 1u);
  EXPECT_EQ(m_->sync_points().hits("nic:chunk"), kStampChunks);
  EXPECT_EQ(m_->sync_points().hits("nic:write:end"), 1u);
  EXPECT_EQ(stamp_scan_page(user_page(a).data()).describe(), "torn: [0..3]=task/p0/g2 [4..7]=dev1/p0/g1");
  dev.dereg_mr(true);
  EXPECT_EQ(m_->sync_points().hits("nic:dereg:begin"), 1u);
  EXPECT_EQ(m_->sync_points().hits("nic:dereg:done"), 1u);
  m_->sync_points().disable();
}

TEST_P(RdmaDeviceTest, PacedDeviceRunsInItsOwnTask) {
  const unsigned long a = map(3 * PAGE_SIZE);
  RdmaDevice dev(m_.get(), &clock_, rdma_config{});
  dev.start_paced(mm_, a, 3, 2, 100 * NSEC_PER_USEC);
  EXPECT_EQ(dev.join(), 0);
  EXPECT_FALSE(dev.registered());
  EXPECT_EQ(dev.writes(), 6u);
  for (unsigned long i = 0; i < 3; i++) {
    rdma_write_record rec = dev.last_write(i);
    EXPECT_EQ(rec.stamp.generation, 4 + i) << "the second round wrote generations 4..6";
    EXPECT_EQ(stamp_scan_page(user_page(a + i * PAGE_SIZE).data()).stamp(), rec.stamp);
  }
  EXPECT_EQ(acquired(), 3);
  EXPECT_EQ(released(), 3);
  bool traced = false;
  for (const auto& e : m_->recent_events()) traced |= e.find("rdma0-") == 0 && e.find("dma write dev1/p2/g6") != std::string::npos;
  EXPECT_TRUE(traced) << "each write is a line in the events ring, by the device's task";
}

TEST_P(RdmaDeviceTest, RegisterOfAHoleFailsAndPinsNothing) {
  const unsigned long a = map(2 * PAGE_SIZE);
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PAGE_SIZE), 0);
  RdmaDevice dev(m_.get(), &clock_, rdma_config{});
  EXPECT_EQ(dev.reg_mr(a, 2), -EFAULT);
  EXPECT_FALSE(dev.registered());
  EXPECT_EQ(acquired(), released());
}

TEST_P(RdmaDeviceTest, SlowPinPathWorksToo) {
  const unsigned long a = map(2 * PAGE_SIZE);
  rdma_config cfg;
  cfg.fast = false;
  RdmaDevice dev(m_.get(), &clock_, cfg);
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  dev.dma_write_all();
  EXPECT_EQ(dev.writes(), 2u);
  dev.dereg_mr(true);
  EXPECT_EQ(acquired(), 2);
  EXPECT_EQ(released(), 2);
}

// ---- listening: seed 003's revoke through the mmu notifier --------------------------

rdma_config listening(const char* name = "nic") {
  rdma_config cfg;
  cfg.name = name;
  cfg.listens = true;
  return cfg;
}

TEST_P(RdmaDeviceTest, TruncateMidWriteFencesTheRestIntoTheScratchPage) {
  const unsigned long a = map(2 * PAGE_SIZE);
  std::vector<rdma_revoke_event> told;
  rdma_config cfg = listening();
  cfg.on_revoke = [&](const rdma_revoke_event& e) { told.push_back(e); };
  RdmaDevice dev(m_.get(), &clock_, cfg);
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  const unsigned long pfn0 = page_to_pfn(dev.pinned_page(0));
  m_->sync_points().enable();
  std::atomic<int> chunks{0};
  m_->sync_points().set_callback("nic:chunk", [&] {
    if (++chunks == 3) MmuNotifierScope truncate(MMU_NOTIFY_TRUNCATE, mm_, a, a + PAGE_SIZE);
  });
  const dma_stamp s = dev.dma_write(0);
  m_->sync_points().disable();
  EXPECT_TRUE(dev.revoked());
  const rdma_write_record rec = dev.last_write(0);
  EXPECT_EQ(rec.pfn, pfn0) << "the write began in the frame";
  EXPECT_EQ(rec.chunks_done, kStampChunks);
  EXPECT_EQ(rec.scratch_chunks, kStampChunks - 3) << "chunks after the revoke land in the scratch page";
  const PageStampScan scan = stamp_scan_page(user_page(a).data());
  EXPECT_EQ(scan.describe(), fmt::format("torn: [0..2]={} [3..7]=unstamped", to_string(s)))
      << "the frame keeps only what landed before the revoke";
  EXPECT_EQ(acquired(), 2);
  EXPECT_EQ(released(), 2) << "the revoke unpinned the whole registration";
  EXPECT_EQ(dev.pinned_page(0), nullptr);
  EXPECT_EQ(dev.pinned_page(1), nullptr);
  ASSERT_EQ(told.size(), 1u) << "the user is told once";
  EXPECT_EQ(told[0].what, "revoke");
  EXPECT_EQ(told[0].event, "truncate");
  EXPECT_EQ(told[0].unpinned, 2u);
  EXPECT_EQ(dev.revoke_events().size(), 1u);
  // The device keeps writing: everything goes to the scratch page, nothing to the frames.
  dev.dma_write(1);
  EXPECT_EQ(dev.last_write(1).pfn, kScratchPfn);
  EXPECT_EQ(dev.last_write(1).scratch_chunks, kStampChunks);
  EXPECT_EQ(stamp_scan_page(user_page(a + PAGE_SIZE).data()).verdict, PageVerdict::unstamped);
  EXPECT_EQ(stamp_scan_page(m_->iommu().scratch()).stamp(), dev.last_write(1).stamp);
  dev.dereg_mr(true);
  EXPECT_EQ(released(), 2) << "dereg after a revoke releases nothing twice";
  EXPECT_FALSE(dev.registered());
}

TEST_P(RdmaDeviceTest, MunmapRevokesAListeningDevice) {
  const unsigned long a = map(2 * PAGE_SIZE);
  RdmaDevice dev(m_.get(), &clock_, listening());
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  dev.dma_write_all();
  ASSERT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);  // upstream's call site: MMU_NOTIFY_UNMAP
  EXPECT_TRUE(dev.revoked());
  ASSERT_EQ(dev.revoke_events().size(), 1u);
  EXPECT_EQ(dev.revoke_events()[0].event, "unmap");
  EXPECT_EQ(released(), 2);
  dev.dma_write(0);
  EXPECT_EQ(dev.last_write(0).pfn, kScratchPfn) << "never into a freed frame";
  dev.dereg_mr(true);
}

TEST_P(RdmaDeviceTest, OtherEventsAndOtherRangesLeaveTheRegistrationAlone) {
  const unsigned long a = map(4 * PAGE_SIZE);
  RdmaDevice dev(m_.get(), &clock_, listening());
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  { MmuNotifierScope clear(MMU_NOTIFY_CLEAR, mm_, a, a + 2 * PAGE_SIZE); }
  { MmuNotifierScope mkclean(MMU_NOTIFY_PROTECTION_PAGE, mm_, a, a + PAGE_SIZE); }
  { MmuNotifierScope elsewhere(MMU_NOTIFY_TRUNCATE, mm_, a + 2 * PAGE_SIZE, a + 4 * PAGE_SIZE); }
  EXPECT_FALSE(dev.revoked());
  EXPECT_TRUE(dev.revoke_events().empty());
  EXPECT_EQ(released(), 0);
  // A non-blocking invalidation cannot revoke (it sleeps on page locks): -EAGAIN.
  mmu_notifier_range r;
  mmu_notifier_range_init(&r, MMU_NOTIFY_UNMAP, 0, mm_, a, a + PAGE_SIZE);
  EXPECT_EQ(mmu_notifier_invalidate_range_start_nonblock(&r), -EAGAIN);
  EXPECT_FALSE(dev.revoked());
  dev.dereg_mr(true);
  EXPECT_EQ(released(), 2);
}

TEST_P(RdmaDeviceTest, ADeviceThatDoesNotListenIsNeverTold) {
  const unsigned long a = map(2 * PAGE_SIZE);
  RdmaDevice dev(m_.get(), &clock_, rdma_config{});
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  ASSERT_EQ(vm_munmap(mm_, a, 2 * PAGE_SIZE), 0);
  EXPECT_FALSE(dev.revoked());
  EXPECT_EQ(released(), 0) << "its pins hold the frames";
  dev.dma_write(0);
  EXPECT_EQ(dev.last_write(0).pfn, page_to_pfn(dev.pinned_page(0))) << "it writes a frame nobody maps";
  dev.dereg_mr(true);
  EXPECT_EQ(released(), 2);
}

// rdma_config::write_gap_max_ns on the sim backend: each write starts after a delay drawn
// from the device task's seeded stream, below the bound; the same seed draws the same
// delays, another seed others.
std::vector<uint64_t> write_delays(uint64_t seed, uint64_t gap_max_ns) {
  MachineConfig c = test::small_config();
  c.backend = Backend::sim;
  c.seed = seed;
  Machine m(c);
  std::vector<uint64_t> took;
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    current()->mm = mm;
    const long a = vm_mmap(mm, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    ASSERT_GT(a, 0);
    StampClock clock;
    RdmaDevice dev(&m, &clock, rdma_config{.write_gap_max_ns = gap_max_ns});
    ASSERT_EQ(dev.reg_mr(static_cast<unsigned long>(a), 2), 0);
    for (int w = 0; w < 16; w++) {
      const uint64_t t0 = ktime_get_ns();
      dev.dma_write(static_cast<unsigned long>(w % 2));
      took.push_back(ktime_get_ns() - t0);
    }
    dev.dereg_mr(true);
    current()->mm = nullptr;
    mmput(mm);
  });
  return took;
}

TEST(RdmaDeviceSimTest, WriteGapDelaysEachWriteBySeededDrawsBelowTheBound) {
  constexpr uint64_t kGap = 1000 * NSEC_PER_USEC;
  const std::vector<uint64_t> none = write_delays(1, 0);
  const std::vector<uint64_t> one = write_delays(1, kGap);
  ASSERT_EQ(one.size(), 16u);
  ASSERT_EQ(none.size(), 16u);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (size_t w = 0; w < one.size(); w++) {
    // A write without the gap costs the same scheduling steps (and one more: the draw).
    EXPECT_LT(one[w], none[w] + kGap + 100) << "write " << w;
    lo = std::min(lo, one[w]);
    hi = std::max(hi, one[w]);
  }
  EXPECT_GT(hi - lo, kGap / 10) << "16 draws uniform below 1 ms spread wider than 100 us";
  EXPECT_EQ(write_delays(1, kGap), one) << "the same seed draws the same delays";
  EXPECT_NE(write_delays(2, kGap), one) << "another seed draws others";
}

INSTANTIATE_TEST_SUITE_P(Designs, RdmaDeviceTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
