// ramdisk_test.cc - the in-memory device: data round trips, the oracle hooks and the
// per-sector write generations, latency, configuration checks.
#include "block/ramdisk.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "tests/block/block_test_util.h"

namespace guplab {
namespace {

using RamdiskTest = testing::BlockTest;
using testing::page_has;

constexpr unsigned kPageSectors = PAGE_SIZE >> SECTOR_SHIFT;

TEST_F(RamdiskTest, WriteThenReadReturnsEqualData) {
  ramdisk* rd = ram("ram0");
  std::vector<page*> out, in;
  for (unsigned i = 0; i < 8; i++) out.push_back(kpage(100 + i));
  for (unsigned i = 0; i < 8; i++) in.push_back(kpage(0));
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 64, out), 0);
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 64, in), 0);
  for (unsigned i = 0; i < 8; i++) EXPECT_TRUE(page_has(in[i], 100 + i)) << "page " << i;
  // The oracle hook sees the same bytes.
  std::vector<char> buf(PAGE_SIZE);
  ASSERT_EQ(rd->read_sectors(64 + 3 * kPageSectors, kPageSectors, buf.data()), 0);
  EXPECT_EQ(std::memcmp(buf.data(), page_address(out[3]), PAGE_SIZE), 0);
}

TEST_F(RamdiskTest, PartialPagesAndOffsetsLandOnTheRightSectors) {
  ramdisk* rd = ram("ram0");
  page* src = kpage(7);
  bio* b = bio_alloc(rd, 1, REQ_OP_WRITE);
  b->bi_iter.bi_sector = 10;
  get_page(src);
  ASSERT_EQ(bio_add_page(b, src, 1024, 2048, false), 1024u);  // bytes 2048..3071 of the page
  ASSERT_EQ(submit_bio_wait(b), 0);
  bio_release_pages(b, false);
  bio_put(b);
  char buf[1024];
  ASSERT_EQ(rd->read_sectors(10, 2, buf), 0);
  EXPECT_EQ(std::memcmp(buf, static_cast<char*>(page_address(src)) + 2048, 1024), 0);
  EXPECT_EQ(rd->sector_generation(9), 0u);
  EXPECT_EQ(rd->sector_generation(10), 1u);
  EXPECT_EQ(rd->sector_generation(11), 1u);
  EXPECT_EQ(rd->sector_generation(12), 0u);
}

TEST_F(RamdiskTest, UnwrittenSectorsReadAsZero) {
  ramdisk* rd = ram("ram0");
  page* in = kpage(55);
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 1000, {in}), 0);
  auto* w = static_cast<uint64_t*>(page_address(in));
  for (unsigned i = 0; i < PAGE_SIZE / 8; i++) ASSERT_EQ(w[i], 0u);
}

TEST_F(RamdiskTest, GenerationsRecordTheLastWritePerSector) {
  ramdisk* rd = ram("ram0");
  EXPECT_EQ(rd->write_generation(), 0u);
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 0, {kpage(1)}), 0);  // sectors 0..7: gen 1
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 4, {kpage(2)}), 0);  // sectors 4..11: gen 2
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 0, {kpage(0)}), 0);   // reads are not generations
  EXPECT_EQ(rd->write_generation(), 2u);
  uint64_t gens[13];
  std::vector<char> buf(13 * SECTOR_SIZE);
  ASSERT_EQ(rd->read_sectors(0, 13, buf.data(), gens), 0);
  for (unsigned s = 0; s < 4; s++) EXPECT_EQ(gens[s], 1u) << s;
  for (unsigned s = 4; s < 12; s++) EXPECT_EQ(gens[s], 2u) << s;
  EXPECT_EQ(gens[12], 0u);

  // A write that fails never reaches the medium: no new generation, old data kept.
  rd->set_fault_inject({.fail_nth = 1});
  page* lost = kpage(3);
  EXPECT_EQ(rw_sync(rd, REQ_OP_WRITE, 0, {lost}), -EIO);
  EXPECT_EQ(rd->write_generation(), 2u);
  EXPECT_EQ(rd->sector_generation(0), 1u);
  std::vector<char> sec(SECTOR_SIZE);
  ASSERT_EQ(rd->read_sectors(0, 1, sec.data()), 0);
  EXPECT_NE(std::memcmp(sec.data(), page_address(lost), SECTOR_SIZE), 0);
}

TEST_F(RamdiskTest, WriteSectorsHookIsWhatBiosRead) {
  ramdisk* rd = ram("ram0");
  page* pattern = kpage(9);
  ASSERT_EQ(rd->write_sectors(80, kPageSectors, page_address(pattern)), 0);
  EXPECT_EQ(rd->write_generation(), 1u);
  EXPECT_EQ(rd->sector_generation(80 + kPageSectors - 1), 1u);
  page* in = kpage(0);
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 80, {in}), 0);
  EXPECT_TRUE(page_has(in, 9));
  // Out of range.
  EXPECT_EQ(rd->write_sectors(rd->nr_sectors() - 1, 2, page_address(pattern)), -EINVAL);
  EXPECT_EQ(rd->read_sectors(rd->nr_sectors(), 1, page_address(in)), -EINVAL);
  EXPECT_EQ(rd->sector_generation(rd->nr_sectors()), 0u);
}

TEST_F(RamdiskTest, GenerationTrackingCanBeOff) {
  ramdisk_config cfg;
  cfg.track_generations = false;
  ramdisk* rd = ram("ram0", cfg);
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 0, {kpage(1)}), 0);
  EXPECT_EQ(rd->sector_generation(0), 0u);
  EXPECT_EQ(rd->write_generation(), 1u) << "writes are still counted";
  uint64_t gens[2] = {9, 9};
  char buf[2 * SECTOR_SIZE];
  ASSERT_EQ(rd->read_sectors(0, 2, buf, gens), 0);
  EXPECT_EQ(gens[0], 0u);
  EXPECT_EQ(gens[1], 0u);
}

TEST_F(RamdiskTest, LatencyDelaysEachRequest) {
  // On the sim backend: the latency passes in virtual time, exactly, whatever the host's load.
  const std::string run = run_on_sim(testing::small_config(), 1, [&] {
    ramdisk_config cfg;
    cfg.latency_ns = 20 * NSEC_PER_MSEC;
    ramdisk* rd = ram("ram0", cfg);
    const uint64_t t0 = ktime_get_ns();
    ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 0, {kpage(1)}), 0);
    const uint64_t took = ktime_get_ns() - t0;
    EXPECT_GE(took, 20 * NSEC_PER_MSEC);
    EXPECT_LT(took, 21 * NSEC_PER_MSEC) << "virtual time: the latency and a few steps";
  });
  EXPECT_EQ(run, "");
}

TEST_F(RamdiskTest, SmallDmaChunksStillCopyEverything) {
  ramdisk_config cfg;
  cfg.dma_chunk = 8;
  ramdisk* rd = ram("ram0", cfg);
  page* in = kpage(0);
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 16, {kpage(77)}), 0);
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 16, {in}), 0);
  EXPECT_TRUE(page_has(in, 77));
}

TEST_F(RamdiskTest, ChunkSyncPointLandsAStoreBetweenTwoChunks) {
  ramdisk* rd = ram("ram0");
  page* a = kpage(1);
  page* b = kpage(2);
  std::vector<unsigned> seen;
  m().sync_points().enable();
  m().sync_points().set_callback("ramdisk:dma:chunk", [&] {
    ramdisk::dma_cursor_t c = rd->dma_cursor();
    ASSERT_TRUE(c.active);
    EXPECT_TRUE(c.write);
    EXPECT_EQ(c.sector, 16u);
    seen.push_back(c.bytes_done);
    // A store into page a after its first chunk went out: the disk gets a torn page.
    if (c.page_ == a && c.bytes_done == SECTOR_SIZE) testing::fill_page(a, 3);
  });
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 16, {a, b}), 0);
  m().sync_points().disable();
  ASSERT_EQ(seen.size(), 2 * kPageSectors) << "one point per 512-byte chunk";
  EXPECT_EQ(seen.front(), SECTOR_SIZE);
  EXPECT_EQ(seen.back(), 2 * PAGE_SIZE);
  std::vector<uint64_t> disk(PAGE_SIZE / 8);
  ASSERT_EQ(rd->read_sectors(16, kPageSectors, disk.data()), 0);
  EXPECT_EQ(disk[0], (1ull << 16) ^ 0) << "chunk 0 went out before the store";
  EXPECT_EQ(disk[SECTOR_SIZE / 8], (3ull << 16) ^ (SECTOR_SIZE / 8)) << "chunk 1 after it";
}

TEST_F(RamdiskTest, CreateRejectsBadConfigs) {
  std::unique_ptr<ramdisk> rd;
  auto bad = [&](auto edit) {
    ramdisk_config cfg;
    edit(cfg);
    return ramdisk::create(&m(), "ramX", cfg, &rd);
  };
  EXPECT_EQ(bad([](ramdisk_config& c) { c.size_bytes = 0; }), -EINVAL);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.size_bytes = 1000; }), -EINVAL);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.queue_depth = 0; }), -EINVAL);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.limits.logical_block_size = 1000; }), -EINVAL);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.limits.dma_alignment = 3; }), -EINVAL);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.limits.max_sectors = 0; }), -EINVAL);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.dma_chunk = 12; }), -EINVAL);
  EXPECT_EQ(rd, nullptr);
  EXPECT_EQ(bad([](ramdisk_config& c) { c.size_bytes = 1 << 20; }), 0);
  EXPECT_EQ(rd->nr_sectors(), (1u << 20) / SECTOR_SIZE);
}

TEST_F(RamdiskTest, DescribeNamesTheSettings) {
  ramdisk_config cfg;
  cfg.latency_ns = 20 * NSEC_PER_USEC;
  cfg.queue_depth = 8;
  ramdisk* rd = ram("ram3", cfg);
  EXPECT_EQ(rd->describe(), "ram3: ramdisk 64 MiB, lbs 512, depth 8, latency 20us, generations on");
}

}  // namespace
}  // namespace guplab

namespace guplab {
namespace {

/** The ramdisk under the sim backend: latency in virtual time, same result every seed. */
TEST(RamdiskSim, VirtualLatencyAndDeterministicCompletion) {
  for (uint64_t seed : {1, 2, 3}) {
    MachineConfig cfg = testing::small_config();
    cfg.backend = Backend::sim;
    cfg.seed = seed;
    Machine m(cfg);
    uint64_t elapsed = 0;
    int status[4] = {-1, -1, -1, -1};
    bool data_ok = false;
    m.run([&] {
      block_device* d = blkdev_get_by_path(&m, "ram0,latency=5ms,depth=2");
      ASSERT_FALSE(IS_ERR(d));
      page* out = alloc_page(gfp_t::GFP_KERNEL);
      page* in = alloc_page(gfp_t::GFP_KERNEL);
      testing::fill_page(out, 31);
      const uint64_t t0 = ktime_get_ns();
      // Two writers in parallel, then a read of each.
      task_struct* w[2];
      for (int i = 0; i < 2; i++)
        w[i] = m.spawn("writer", [&, i] {
          bio* b = bio_alloc(d, 1, REQ_OP_WRITE);
          b->bi_iter.bi_sector = i * 8;
          get_page(out);
          bio_add_page(b, out, PAGE_SIZE, 0, false);
          status[i] = submit_bio_wait(b);
          bio_release_pages(b, false);
          bio_put(b);
        });
      for (task_struct* t : w) task_join(t);
      for (int i = 0; i < 2; i++) {
        bio* b = bio_alloc(d, 1, REQ_OP_READ);
        b->bi_iter.bi_sector = i * 8;
        get_page(in);
        bio_add_page(b, in, PAGE_SIZE, 0, false);
        status[2 + i] = submit_bio_wait(b);
        bio_release_pages(b, false);
        bio_put(b);
      }
      elapsed = ktime_get_ns() - t0;
      data_ok = testing::page_has(in, 31);
      put_page(out);
      put_page(in);
      blkdev_put(d);
      EXPECT_EQ(del_gendisk(&m, "ram0"), 0);  // the completion task ends inside the run
    });
    ASSERT_NE(m.sim_result(), nullptr);
    EXPECT_TRUE(m.sim_result()->ok()) << m.sim_result()->format();
    for (int s : status) EXPECT_EQ(s, 0) << "seed " << seed;
    EXPECT_TRUE(data_ok);
    // Writes overlap (depth 2): 5 ms; then two reads one after the other: 10 ms.
    EXPECT_GE(elapsed, 15 * NSEC_PER_MSEC) << "seed " << seed;
    EXPECT_LT(elapsed, 16 * NSEC_PER_MSEC) << "virtual time: no host jitter";
    EXPECT_EQ(m.nr_oops(), 0u);
  }
}

}  // namespace
}  // namespace guplab
