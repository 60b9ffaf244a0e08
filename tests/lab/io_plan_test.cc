// io_plan_test.cc - where a fio job's I/Os go: random order visits every block once per
// pass (any region size, including 1 block), sequential order wraps, mixed jobs keep a
// position per direction and follow rwmixread, norandommap stays inside the region.
#include "lab/fio/io_plan.h"

#include <gtest/gtest.h>

#include <set>

namespace guplab::fio {
namespace {

JobSpec spec(RwMode rw, uint64_t bs, uint64_t offset = 0) {
  JobSpec j;
  j.rw = rw;
  j.bs = bs;
  j.offset = offset;
  return j;
}

TEST(FioIoPlan, RandomMapVisitsEveryBlockOncePerPass) {
  for (uint64_t blocks : {1ull, 2ull, 3ull, 7ull, 64ull, 1000ull, 4097ull}) {
    const JobSpec j = spec(RwMode::randread, 4096, 8192);
    IoPlan p(j, blocks * 4096 + 100, blocks);  // a partial tail block is not used
    EXPECT_EQ(p.nr_blocks(), blocks);
    for (int pass = 0; pass < 2; pass++) {
      std::set<uint64_t> seen;
      for (uint64_t i = 0; i < blocks; i++) {
        const PlannedIo io = p.next();
        EXPECT_EQ(io.ddir, Ddir::read);
        EXPECT_EQ((io.offset - 8192) % 4096, 0u);
        EXPECT_LT(io.offset, 8192 + blocks * 4096);
        seen.insert(io.offset);
      }
      EXPECT_EQ(seen.size(), blocks) << blocks << " blocks, pass " << pass;
    }
  }
}

TEST(FioIoPlan, SameSeedSameOrderOtherSeedOther) {
  const JobSpec j = spec(RwMode::randwrite, 512);
  IoPlan a(j, 512 * 1000, 7), b(j, 512 * 1000, 7), c(j, 512 * 1000, 8);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    const uint64_t x = a.next().offset;
    EXPECT_EQ(x, b.next().offset);
    differ += x != c.next().offset;
  }
  EXPECT_GT(differ, 900);
}

TEST(FioIoPlan, SequentialWrapsAtTheEndOfTheRegion) {
  const JobSpec j = spec(RwMode::write, 8192, 4096);
  IoPlan p(j, 3 * 8192, 1);
  for (uint64_t want : {4096u, 12288u, 20480u, 4096u, 12288u}) {
    const PlannedIo io = p.next();
    EXPECT_EQ(io.ddir, Ddir::write);
    EXPECT_EQ(io.offset, want);
  }
}

TEST(FioIoPlan, MixedSequentialKeepsAPositionPerDirection) {
  JobSpec j = spec(RwMode::rw, 4096);
  j.rwmixread = 60;
  IoPlan p(j, 4096 * 100000, 3);
  uint64_t next_read = 0, next_write = 0, reads = 0;
  for (int i = 0; i < 10000; i++) {
    const PlannedIo io = p.next();
    uint64_t& next = io.ddir == Ddir::read ? next_read : next_write;
    EXPECT_EQ(io.offset, next * 4096) << i;
    next++;
    reads += io.ddir == Ddir::read;
  }
  EXPECT_NEAR(static_cast<double>(reads) / 10000.0, 0.60, 0.03);
}

TEST(FioIoPlan, MixExtremesAndNoRandomMap) {
  JobSpec j = spec(RwMode::randrw, 4096);
  j.rwmixread = 100;
  IoPlan all_reads(j, 4096 * 16, 1);
  for (int i = 0; i < 100; i++) EXPECT_EQ(all_reads.next().ddir, Ddir::read);
  j.rwmixread = 0;
  IoPlan all_writes(j, 4096 * 16, 1);
  for (int i = 0; i < 100; i++) EXPECT_EQ(all_writes.next().ddir, Ddir::write);
  j.norandommap = true;
  IoPlan uniform(j, 4096 * 16, 1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 16; i++) {
    const uint64_t off = uniform.next().offset;
    EXPECT_LT(off, 4096u * 16);
    seen.insert(off);
  }
  EXPECT_LT(seen.size(), 16u) << "uniform draws repeat blocks (with this seed)";
}

}  // namespace
}  // namespace guplab::fio
