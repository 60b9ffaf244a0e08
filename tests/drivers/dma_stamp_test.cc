// dma_stamp_test.cc - the stamp format: whole, torn, damaged and unstamped pages.
#include "drivers/dma_stamp.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/random.h"
#include "lab/oracles.h"

namespace guplab {
namespace {

char* chunk_of(PageImage& img, unsigned c) { return static_cast<char*>(img.data()) + c * kStampChunkSize; }

TEST(DmaStampTest, WholePageReadsBackItsStamp) {
  PageImage img;
  const dma_stamp s{1, 3, 42};
  stamp_fill_page(img.data(), s);
  PageStampScan scan = stamp_scan_page(img.data());
  EXPECT_EQ(scan.verdict, PageVerdict::whole);
  EXPECT_EQ(scan.stamp(), s);
  for (unsigned c = 0; c < kStampChunks; c++) EXPECT_EQ(scan.state[c], ChunkState::stamped);
  EXPECT_EQ(scan.describe(), "whole dev1/p3/g42");
}

TEST(DmaStampTest, BodyIsAStepRunFromTheHashOfTheHeader) {
  // The format, word by word: header, then h + i * step, h being splitmix64 of a seed
  // mixed of words 1..3.
  PageImage img;
  const dma_stamp s{7, 5, 1234567};
  stamp_fill_page(img.data(), s);
  for (unsigned c = 0; c < kStampChunks; c++) {
    uint64_t w[kStampChunkSize / 8];
    std::memcpy(w, chunk_of(img, c), sizeof w);
    EXPECT_EQ(w[1], uint64_t{7} << 32 | 5);
    EXPECT_EQ(w[2], 1234567u);
    EXPECT_EQ(w[3], c);
    uint64_t x = (uint64_t{7} << 32 | 5) ^ (uint64_t{1234567} * 0x9e3779b97f4a7c15ull) ^ (uint64_t{c} << 56);
    const uint64_t h = Random::splitmix64(x);
    for (unsigned i = 4; i < kStampChunkSize / 8; i++)
      ASSERT_EQ(w[i], h + i * 0x9e3779b97f4a7c15ull) << "chunk " << c << " word " << i;
  }
}

TEST(DmaStampTest, ZeroPageIsUnstamped) {
  PageImage img;
  PageStampScan scan = stamp_scan_page(img.data());
  EXPECT_EQ(scan.verdict, PageVerdict::unstamped);
  EXPECT_EQ(scan.describe(), "unstamped");
}

TEST(DmaStampTest, TwoWritesMakeATornPage) {
  PageImage img;
  stamp_fill_page(img.data(), {1, 0, 2});
  for (unsigned c = 1; c < kStampChunks; c++) stamp_fill_chunk(chunk_of(img, c), {1, 0, 3}, c);
  PageStampScan scan = stamp_scan_page(img.data());
  EXPECT_EQ(scan.verdict, PageVerdict::torn);
  EXPECT_EQ(scan.chunk[0].generation, 2u);
  EXPECT_EQ(scan.chunk[7].generation, 3u);
  EXPECT_EQ(scan.describe(), "torn: [0]=dev1/p0/g2 [1..7]=dev1/p0/g3");
}

TEST(DmaStampTest, TaskAndDeviceWritesMixAreTorn) {
  PageImage img;
  stamp_fill_page(img.data(), {0, 0, 1});
  for (unsigned c = 4; c < kStampChunks; c++) stamp_fill_chunk(chunk_of(img, c), {1, 0, 2}, c);
  EXPECT_EQ(stamp_scan_page(img.data()).describe(), "torn: [0..3]=task/p0/g1 [4..7]=dev1/p0/g2");
}

TEST(DmaStampTest, HalfStampedHalfZeroIsTorn) {
  PageImage img;
  for (unsigned c = 0; c < 4; c++) stamp_fill_chunk(chunk_of(img, c), {1, 0, 5}, c);
  PageStampScan scan = stamp_scan_page(img.data());
  EXPECT_EQ(scan.verdict, PageVerdict::torn);
  EXPECT_EQ(scan.describe(), "torn: [0..3]=dev1/p0/g5 [4..7]=unstamped");
}

TEST(DmaStampTest, DamageInsideAChunkIsCaught) {
  PageImage img;
  stamp_fill_page(img.data(), {1, 0, 7});
  // A word of chunk 2's body from another write: torn inside the chunk.
  reinterpret_cast<uint64_t*>(chunk_of(img, 2))[40] ^= 1;
  PageStampScan scan = stamp_scan_page(img.data());
  EXPECT_EQ(scan.verdict, PageVerdict::torn);
  EXPECT_EQ(scan.state[2], ChunkState::damaged);
  EXPECT_EQ(scan.describe(), "torn: [0..1]=dev1/p0/g7 [2]=dev1/p0/g7(damaged) [3..7]=dev1/p0/g7");
}

TEST(DmaStampTest, ChunkAtTheWrongPlaceIsDamaged) {
  PageImage img;
  stamp_fill_page(img.data(), {1, 0, 7});
  std::memcpy(chunk_of(img, 0), chunk_of(img, 1), kStampChunkSize);
  PageStampScan scan = stamp_scan_page(img.data());
  EXPECT_EQ(scan.verdict, PageVerdict::torn);
  EXPECT_EQ(scan.state[0], ChunkState::damaged);
}

TEST(DmaStampTest, SamePageOtherWritersDiffer) {
  PageImage a, b;
  stamp_fill_page(a.data(), {1, 0, 9});
  stamp_fill_page(b.data(), {2, 0, 9});
  EXPECT_NE(std::memcmp(a.data(), b.data(), PAGE_SIZE), 0);
  EXPECT_EQ(stamp_scan_page(b.data()).stamp(), (dma_stamp{2, 0, 9}));
}

TEST(DmaStampTest, ClockOrdersWritersAndNewerPicksTheLast) {
  StampClock clock;
  EXPECT_EQ(clock.next(), 1u);
  const dma_stamp a{0, 0, clock.next()};
  const dma_stamp b{1, 0, clock.next()};
  EXPECT_EQ(newer(a, b), b);
  EXPECT_EQ(newer(b, a), b);
  EXPECT_EQ(newer(dma_stamp{}, a), a);
  EXPECT_EQ(clock.last(), 3u);
  EXPECT_EQ(to_string(dma_stamp{}), "nothing");
}

}  // namespace
}  // namespace guplab
