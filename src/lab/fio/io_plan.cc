// io_plan.cc - offsets and directions of a fio job's I/Os.
#include "lab/fio/io_plan.h"
#include "base/bug.h"

#include <bit>

namespace guplab::fio {

IoPlan::IoPlan(const JobSpec& job, uint64_t region_bytes, uint64_t seed)
    : job_(job), min_bs_(job.min_bs()), nr_blocks_(region_bytes / job.min_bs()), rng_(seed) {
  GUPLAB_CHECK(min_bs_ > 0 && region_bytes >= job.max_bs());
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

uint64_t IoPlan::pick_len(uint64_t room) {
  if (job_.bssplit.empty()) return job_.bs;
  // One draw by the percentages, then the largest size that fits if the draw does not.
  uint64_t want = job_.bssplit.back().bs;
  unsigned r = static_cast<unsigned>(rng_.uniform(100)), acc = 0;
  for (const BsSplit& e : job_.bssplit) {
    acc += e.percent;
    if (r < acc) {
      want = e.bs;
      break;
    }
  }
  if (want <= room) return want;
  uint64_t best = min_bs_;
  for (const BsSplit& e : job_.bssplit)
    if (e.bs <= room && e.bs > best) best = e.bs;
  return best;
}

PlannedIo IoPlan::next() {
  PlannedIo io;
  io.ddir = pick_ddir();
  const uint64_t end = pass_bytes();
  uint64_t at;
  if (is_random(job_.rw)) {
    at = next_random_block() * min_bs_;
    io.len = pick_len(end - at);
  } else {
    uint64_t& pos = seq_next_[static_cast<size_t>(io.ddir)];
    at = pos;
    io.len = pick_len(end - at);
    pos += io.len;
    if (pos >= end) pos = 0;  // wrap: the next pass (loops, time_based)
  }
  io.offset = job_.offset + at;
  return io;
}

}  // namespace guplab::fio
