// io_plan.h - where a fio job's next I/O goes and which way: the job's region
// [offset, offset + size) cut into bs-sized blocks, walked sequentially (each direction
// of a mixed rw job keeps its own position, as fio does) or in random order. Random
// order visits every block once per pass (fio's random map), by a full-period linear
// congruential sequence over the next power of two with the blocks past the end
// skipped, so it needs no per-block memory; norandommap draws blocks uniformly instead.
// A mixed job (rw, randrw) draws each I/O's direction with probability rwmixread.
//
// Random draws come from a base/ Random seeded by the caller (randrepeat: the same seed
// on every run).
//
// Threading: not thread-safe; one IoPlan per job task.
#pragma once
#include <array>
#include <cstdint>

#include "base/random.h"
#include "lab/fio/job_file.h"
#include "lab/fio/stats.h"

namespace guplab::fio {

/** One planned I/O. */
struct PlannedIo {
  Ddir ddir = Ddir::read;
  uint64_t offset = 0;  // bytes from the start of the device
};

class IoPlan {
 public:
  /**
   * IoPlan() - a plan for @job over @region_bytes bytes starting at job.offset.
   * REQUIRES: region_bytes >= job.bs; job.bs > 0.
   */
  IoPlan(const JobSpec& job, uint64_t region_bytes, uint64_t seed);

  /** next() - the next I/O: its direction, then its offset. */
  PlannedIo next();

  /** nr_blocks() - bs-sized blocks in the region (a partial tail block is not used). */
  uint64_t nr_blocks() const { return nr_blocks_; }

 private:
  Ddir pick_ddir();
  uint64_t next_random_block();

  const JobSpec& job_;
  const uint64_t nr_blocks_;
  Random rng_;
  std::array<uint64_t, kNumDdirs> seq_next_{};  // sequential: next block per direction
  // Random map: x <- (a * x + c) mod 2^k, full period for a = 1 mod 4 and odd c.
  uint64_t lcg_mask_ = 0;
  uint64_t lcg_a_ = 1;
  uint64_t lcg_c_ = 1;
  uint64_t lcg_x_ = 0;
};

}  // namespace guplab::fio
