// io_plan.h - where a fio job's next I/O goes in one of its files, which way and how long:
// the file's region [offset, offset + region) cut into blocks of the job's smallest block
// size, walked sequentially (each direction of a mixed rw job keeps its own position, as
// fio does) or in random order. Each I/O is bs bytes, or, with bssplit, a size drawn by
// the split's percentages; one that would run past the region's end takes the largest
// size of the split that fits (fio does the same), so a pass moves exactly the region.
// A random I/O of several blocks may overlap blocks the random map hands out later in
// the pass (fio marks them all used; guplab does not). Random
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
  uint64_t len = 0;     // bytes
  unsigned file = 0;    // which of the job's files (set by the caller)
};

class IoPlan {
 public:
  /**
   * IoPlan() - a plan for @job over @region_bytes bytes starting at job.offset.
   * REQUIRES: region_bytes >= job.max_bs(); job.min_bs() > 0.
   */
  IoPlan(const JobSpec& job, uint64_t region_bytes, uint64_t seed);

  /** next() - the next I/O: its direction, then its offset. */
  PlannedIo next();

  /** nr_blocks() - min_bs()-sized blocks in the region (a partial tail block is not used). */
  uint64_t nr_blocks() const { return nr_blocks_; }
  /** pass_bytes() - bytes one pass over the region moves. */
  uint64_t pass_bytes() const { return nr_blocks_ * min_bs_; }

 private:
  Ddir pick_ddir();
  uint64_t pick_len(uint64_t room);
  uint64_t next_random_block();

  const JobSpec& job_;
  const uint64_t min_bs_;
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
