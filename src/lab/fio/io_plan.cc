// io_plan.cc - offsets and directions of a fio job's I/Os.
#include "lab/fio/io_plan.h"
#include "base/bug.h"

#include <bit>

namespace guplab::fio {

IoPlan::IoPlan(const JobSpec& job, uint64_t region_bytes, uint64_t seed)
    : job_(job), nr_blocks_(region_bytes / job.bs), rng_(seed) {
  GUPLAB_CHECK(job.bs > 0 && region_bytes >= job.bs);
  const uint64_t span = std::bit_ceil(nr_blocks_);
  lcg_mask_ = span - 1;
  lcg_a_ = (rng_.next_u64() << 2) | 1;  // = 1 mod 4
  lcg_c_ = rng_.next_u64() | 1;         // odd
  lcg_x_ = rng_.next_u64() & lcg_mask_;
}

Ddir IoPlan::pick_ddir() {
  switch (job_.rw) {
    case RwMode::read:
    case RwMode::randread:
      return Ddir::read;
    case RwMode::write:
    case RwMode::randwrite:
      return Ddir::write;
    case RwMode::rw:
    case RwMode::randrw:
      if (job_.rwmixread >= 100) return Ddir::read;
      if (job_.rwmixread == 0) return Ddir::write;
      return rng_.uniform(100) < job_.rwmixread ? Ddir::read : Ddir::write;
  }
  return Ddir::read;
}

uint64_t IoPlan::next_random_block() {
  if (job_.norandommap) return rng_.uniform(nr_blocks_);
  // Every value below 2^k comes once per period; fewer than half are skipped.
  do {
    lcg_x_ = (lcg_a_ * lcg_x_ + lcg_c_) & lcg_mask_;
  } while (lcg_x_ >= nr_blocks_);
  return lcg_x_;
}

PlannedIo IoPlan::next() {
  PlannedIo io;
  io.ddir = pick_ddir();
  uint64_t block;
  if (is_random(job_.rw)) {
    block = next_random_block();
  } else {
    uint64_t& pos = seq_next_[static_cast<size_t>(io.ddir)];
    block = pos;
    pos = pos + 1 == nr_blocks_ ? 0 : pos + 1;  // wrap: the next pass (loops, time_based)
  }
  io.offset = job_.offset + block * job_.bs;
  return io;
}

}  // namespace guplab::fio
