// genhd_test.cc - devices by name: specs, re-opening, option checks, removal rules.
#include "block/genhd.h"

#include <gtest/gtest.h>

#include "base/errno.h"
#include "tests/block/block_test_util.h"

namespace guplab {
namespace {

using GenhdTest = testing::BlockTest;

TEST_F(GenhdTest, RamSpecCreatesOnFirstOpenAndReopensTheSameDevice) {
  std::string err;
  block_device* a = blkdev_get_by_path(&m(), "ram0", &err);
  ASSERT_FALSE(IS_ERR(a)) << err;
  EXPECT_EQ(a->name(), "ram0");
  EXPECT_EQ(a->limits().logical_block_size, 512u);
  EXPECT_NE(dynamic_cast<ramdisk*>(a), nullptr);
  block_device* b = blkdev_get_by_path(&m(), "ram0");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->bd_openers.load(), 2);
  EXPECT_EQ(m().block().lookup("ram0"), a);
  EXPECT_EQ(m().block().names(), std::vector<std::string>{"ram0"});
  blkdev_put(b);
  blkdev_put(a);
  EXPECT_EQ(a->bd_openers.load(), 0);
}

TEST_F(GenhdTest, RamOptionsApply) {
  std::string err;
  block_device* d = blkdev_get_by_path(&m(), "ram7,size=8M,latency=1ms,depth=8,lbs=4096,chunk=64,generations=off", &err);
  ASSERT_FALSE(IS_ERR(d)) << err;
  auto* rd = dynamic_cast<ramdisk*>(d);
  ASSERT_NE(rd, nullptr);
  EXPECT_EQ(bdev_nr_sectors(d), (8u << 20) / 512);
  EXPECT_EQ(d->queue_depth(), 8u);
  EXPECT_EQ(bdev_logical_block_size(d), 4096u);
  EXPECT_EQ(rd->config().latency_ns, 1000000u);
  EXPECT_EQ(rd->config().dma_chunk, 64u);
  EXPECT_FALSE(rd->config().track_generations);
  // The same options again are fine; different ones are not.
  EXPECT_EQ(blkdev_get_by_path(&m(), "ram7,size=8M,latency=1ms,depth=8,lbs=4096,chunk=64,generations=off"), d);
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram7,depth=16", &err)), -EEXIST);
  EXPECT_NE(err.find("exists"), std::string::npos) << err;
  blkdev_put(d);
  blkdev_put(d);
}

TEST_F(GenhdTest, BadSpecsAreRefusedWithAReason) {
  std::string err;
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "nvme0", &err)), -ENODEV);
  EXPECT_NE(err.find("no such device"), std::string::npos) << err;
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram", &err)), -ENODEV);
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "", &err)), -EINVAL);
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,speed=fast", &err)), -EINVAL);
  EXPECT_NE(err.find("unknown option 'speed'"), std::string::npos) << err;
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,latency=5parsecs", &err)), -EINVAL);
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,depth=0", &err)), -EINVAL);
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,size=1000", &err)), -EINVAL) << "not a multiple of 512";
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,novalue", &err)), -EINVAL);
  EXPECT_TRUE(m().block().names().empty()) << "nothing half-created is left behind";
}

TEST_F(GenhdTest, RamBlockSizeAndSizeAreCheckedByName) {
  std::string err;
  // A block larger than a page can never be transferred (the spec's DMA alignment is the
  // block size, a bio_vec at most a page): refused at open, not by every I/O later.
  for (const char* lbs : {"8192", "65536", "0", "1000", "256", "x"}) {
    err.clear();
    EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), std::string("ram0,lbs=") + lbs, &err)), -EINVAL) << lbs;
    EXPECT_NE(err.find(std::string("ram0: bad option lbs=") + lbs), std::string::npos) << err;
    EXPECT_NE(err.find("a power of two from 512 to 4096"), std::string::npos) << err;
  }
  err.clear();
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,size=0", &err)), -EINVAL);
  EXPECT_EQ(err, "ram0: bad option size=0: the size must be a positive multiple of the logical block size (512)");
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "ram0,size=6k,lbs=4096", &err)), -EINVAL);
  EXPECT_EQ(err, "ram0: bad option size=6144: the size must be a positive multiple of the logical block size (4096)");
  EXPECT_TRUE(m().block().names().empty());
  for (const char* lbs : {"512", "1024", "2048", "4096"}) {
    block_device* d = blkdev_get_by_path(&m(), std::string("ram0,size=1M,lbs=") + lbs, &err);
    ASSERT_FALSE(IS_ERR(d)) << lbs << ": " << err;
    EXPECT_EQ(bdev_logical_block_size(d), std::stoul(lbs));
    blkdev_put(d);
    EXPECT_EQ(del_gendisk(&m(), "ram0"), 0);
  }
}

TEST_F(GenhdTest, UringOfAMissingFileIsENOENTWithAMessage) {
  std::string err;
  block_device* d = blkdev_get_by_path(&m(), "uring:/nonexistent/guplab/disk.img", &err);
  EXPECT_EQ(PTR_ERR(d), -ENOENT);
  EXPECT_NE(err.find("/nonexistent/guplab/disk.img"), std::string::npos) << err;
  EXPECT_NE(err.find("ENOENT"), std::string::npos) << err;
  EXPECT_EQ(PTR_ERR(blkdev_get_by_path(&m(), "uring:/x,depth=0", &err)), -EINVAL);
}

TEST_F(GenhdTest, OpenDevicesCannotBeRemoved) {
  block_device* d = blkdev_get_by_path(&m(), "ram1");
  ASSERT_FALSE(IS_ERR(d));
  EXPECT_EQ(del_gendisk(&m(), "ram1"), -EBUSY);
  blkdev_put(d);
  EXPECT_EQ(del_gendisk(&m(), "ram1"), 0);
  EXPECT_EQ(del_gendisk(&m(), "ram1"), -ENOENT);
  EXPECT_EQ(m().block().lookup("ram1"), nullptr);
}

TEST_F(GenhdTest, AddDiskRefusesADuplicateName) {
  std::unique_ptr<ramdisk> a, b;
  ASSERT_EQ(ramdisk::create(&m(), "ram2", {}, &a), 0);
  ASSERT_EQ(ramdisk::create(&m(), "ram2", {}, &b), 0);
  EXPECT_EQ(add_disk(&m(), std::move(a)), 0);
  EXPECT_EQ(add_disk(&m(), std::move(b)), -EEXIST);
  EXPECT_EQ(m().block().names().size(), 1u);
}

TEST_F(GenhdTest, UnbalancedPutWarns) {
  block_device* d = blkdev_get_by_path(&m(), "ram0");
  blkdev_put(d);
  blkdev_put(d);
  EXPECT_EQ(m().nr_warnings(), 1u);
  EXPECT_EQ(d->bd_openers.load(), 0);
}

}  // namespace
}  // namespace guplab
