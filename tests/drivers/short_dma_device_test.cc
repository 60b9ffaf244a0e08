// short_dma_device_test.cc - short-term pins: one stamped store, raw direct I/O
// through bios with GUP pages, and the pins' balance.
#include "drivers/short_dma_device.h"

#include <gtest/gtest.h>

#include <memory>

#include "block/genhd.h"
#include "block/ramdisk.h"
#include "lab/oracles.h"
#include "machine/sync_point.h"
#include "mm/gup.h"
#include "mm/page-flags.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

class ShortDmaTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config();
    c.pin_design = GetParam();
    return c;
  }
  ramdisk* ram() {
    std::unique_ptr<ramdisk> rd;
    EXPECT_EQ(ramdisk::create(m_.get(), "ram0", ramdisk_config{}, &rd), 0);
    ramdisk* raw = rd.get();
    EXPECT_EQ(add_disk(m_.get(), std::move(rd)), 0);
    return raw;
  }
  PageImage user_page(unsigned long addr) {
    PageImage img;
    EXPECT_EQ(uaccess_read(mm_, addr, img.data(), PAGE_SIZE), 0);
    return img;
  }
  int64_t acquired() const { return vs(NR_FOLL_PIN_ACQUIRED); }
  int64_t released() const { return vs(NR_FOLL_PIN_RELEASED); }
  StampClock clock_;
};

TEST_P(ShortDmaTest, DmaToUserStampsEachPageAndReleases) {
  const unsigned long a = map(2 * PAGE_SIZE);
  ShortDmaDevice dev(m_.get(), &clock_, short_dma_config{});
  m_->sync_points().enable();
  bool pinned_seen = false;
  m_->sync_points().set_callback("dma0:dma:done", [&] {
    pinned_seen = acquired() == 2 && released() == 0;
  });
  ASSERT_EQ(dev.dma_to_user(a, 2), 0);
  m_->sync_points().disable();
  EXPECT_TRUE(pinned_seen) << "the pages stay pinned while the device stores";
  for (unsigned long i = 0; i < 2; i++) {
    EXPECT_EQ(dev.last_stamp(i), (dma_stamp{2, static_cast<uint32_t>(i), i + 1}));
    EXPECT_EQ(stamp_scan_page(user_page(a + i * PAGE_SIZE).data()).stamp(), dev.last_stamp(i));
  }
  EXPECT_EQ(acquired(), 2);
  EXPECT_EQ(released(), 2);
}

TEST_P(ShortDmaTest, DirectWriteThenReadThroughTheBlockLayer) {
  ramdisk* rd = ram();
  const unsigned long a = map(3 * PAGE_SIZE);
  PageImage img;
  for (unsigned long i = 0; i < 3; i++) {
    stamp_fill_page(img.data(), {0, static_cast<uint32_t>(i), clock_.next()});
    ASSERT_EQ(uaccess_write(mm_, a + i * PAGE_SIZE, img.data(), PAGE_SIZE), 0);
  }
  ShortDmaDevice dev(m_.get(), &clock_, short_dma_config{});
  short_dio w;
  ASSERT_EQ(dev.submit(&w, false, a, 3, rd, 8), 0);
  EXPECT_EQ(ShortDmaDevice::wait(&w), 0);
  EXPECT_EQ(acquired(), released()) << "completion released the write's pins";
  for (unsigned long i = 0; i < 3; i++) {
    PageImage disk;
    ASSERT_EQ(read_disk_page(rd, 8 + i * 8, &disk), 0);
    EXPECT_EQ(stamp_scan_page(disk.data()).stamp(), (dma_stamp{0, static_cast<uint32_t>(i), i + 1}));
  }

  const unsigned long b = map(3 * PAGE_SIZE);
  short_dio r;
  ASSERT_EQ(dev.submit(&r, true, b, 3, rd, 8), 0);
  EXPECT_EQ(ShortDmaDevice::wait(&r), 0);
  for (unsigned long i = 0; i < 3; i++) {
    EXPECT_EQ(stamp_scan_page(user_page(b + i * PAGE_SIZE).data()).stamp(), (dma_stamp{0, static_cast<uint32_t>(i), i + 1}));
    EXPECT_TRUE(PageDirty(page_at(b + i * PAGE_SIZE))) << "a read dirties the user pages it filled";
  }
  EXPECT_EQ(acquired(), 6);
  EXPECT_EQ(released(), 6);
}

TEST_P(ShortDmaTest, IoErrorIsReportedAndPinsStillGo) {
  ramdisk* rd = ram();
  const unsigned long a = map(PAGE_SIZE);
  blk_fault_inject fi;
  fi.fail_nth = 1;
  rd->set_fault_inject(fi);
  ShortDmaDevice dev(m_.get(), &clock_, short_dma_config{});
  short_dio r;
  ASSERT_EQ(dev.submit(&r, true, a, 1, rd, 0), 0);
  EXPECT_EQ(ShortDmaDevice::wait(&r), -EIO);
  EXPECT_EQ(acquired(), 1);
  EXPECT_EQ(released(), 1);
}

TEST_P(ShortDmaTest, UnmappedRangeFailsWithNothingPinned) {
  ramdisk* rd = ram();
  ShortDmaDevice dev(m_.get(), &clock_, short_dma_config{});
  short_dio r;
  EXPECT_EQ(dev.submit(&r, true, 0x10000, 1, rd, 0), -EFAULT);
  EXPECT_EQ(dev.dma_to_user(0x10000, 1), -EFAULT);
  EXPECT_EQ(acquired(), released());
}

INSTANTIATE_TEST_SUITE_P(Designs, ShortDmaTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
