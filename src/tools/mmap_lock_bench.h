// mmap_lock_bench.h - `guplab mmap-lock-bench`: seed 001's hold-time claim, measured.
//
//   guplab mmap-lock-bench [--latency-us N] [--pages N] [--gup-tasks N] [--writer-gap-us N]
//                          [--format text|json]
//
// Boots a machine on the native backend (real threads, real time) with ext4 on a
// ramdisk whose requests take --latency-us (default 100) to complete, and a file of
// --pages pages (default 1024) mapped MAP_SHARED with a cold page cache. --gup-tasks
// tasks (default 2) take references to its pages with get_user_pages_unlocked(), one
// page per call, each fault reading from the slow device; meanwhile a writer task
// mmaps and munmaps an anonymous page in a loop (pausing --writer-gap-us, default 50,
// between rounds, so that its samples are spread over the run), and for every munmap
// measures how long it waited for mmap_lock for write. This runs twice in one invocation, on two fresh
// machines: with the retry protocol (the fault drops mmap_lock while the read is in
// flight: FAULT_FLAG_ALLOW_RETRY) and without (MachineConfig::gup_retry off: the fault
// sleeps on the I/O holding mmap_lock for read). It prints the writer's wait (p50, p99,
// max, microseconds) and the GUP throughput (pages per second) side by side; --format
// json prints {"retry_on": {...}, "retry_off": {...}}, each with writer_wait_us {p50,
// p99, max}, gup_pages_per_s, writer_samples and gup_pages. Bad options exit 2.
//
// Threading: runs on the calling thread (the model's tasks are host threads).
#pragma once
#include <cstdint>

namespace guplab::tools {

struct MmapLockBenchOptions {
  uint64_t latency_us = 100;
  uint64_t pages = 1024;
  unsigned gup_tasks = 2;
  uint64_t writer_gap_us = 50;
};

struct MmapLockBenchResult {
  double p50_us = 0, p99_us = 0, max_us = 0;  // the writer's mmap_lock wait
  double gup_pages_per_s = 0;
  uint64_t writer_samples = 0, gup_pages = 0;
  int error = 0;  // -errno if the run could not be set up or a GUP failed
};

/** run_mmap_lock_bench() - one machine, with the retry protocol on (@gup_retry) or off. */
MmapLockBenchResult run_mmap_lock_bench(const MmapLockBenchOptions& o, bool gup_retry);

int mmap_lock_bench_main(int argc, char** argv);

}  // namespace guplab::tools
