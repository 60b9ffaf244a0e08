// gup_test.h - `guplab gup_test`: the kernel selftest tools/testing/selftests/mm/gup_test
// run against the model, with side-by-side references.
//
// The flags are the selftest's (-u GUP_FAST, -a PIN_FAST, -L PIN_LONGTERM, -U/-b basic
// tests, -m MB, -n pages per call, -r repeats, -j threads, -t/-T THP on/off, -w/-W
// write or not, -S shared, -H MAP_HUGETLB, -z fault in through GUP) plus
// --hugetlb-size (MAP_HUGE_2MB or MAP_HUGE_1GB with -H), --ram, --design, --baseline (a bare
// atomic fetch_add over the same mem_map entries) and --host-baseline (the host
// kernel's FOLL_LONGTERM pin of an equal buffer through io_uring registration).
// Output: the selftest's TAP lines ("# PIN_FAST_BENCHMARK: Time: get:N put:N us"), then
// per-page costs and ratios, medians over the repeats. With --baseline there are at
// least 3 repeats, and each model pass is followed by one pass of each reference, all
// from cold caches: both sides of a ratio are medians of as many passes, taken in turn.
//
// Threading: runs on the calling thread; spawns -j model tasks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "machine/config.h"

namespace guplab::tools {

enum class GupTestCmd { GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK, GUP_BASIC_TEST, PIN_BASIC_TEST };
const char* to_string(GupTestCmd c);

struct GupTestOptions {
  GupTestCmd cmd = GupTestCmd::GUP_FAST_BENCHMARK;
  uint64_t size_mb = 128;
  int nr_pages_per_call = 1;
  int repeats = 1;
  int threads = 1;
  int thp = -1;  // -1 leave alone, 0 MADV_NOHUGEPAGE, 1 MADV_HUGEPAGE
  bool write = true;
  bool shared = false;
  bool fault_in_gup = false;  // -z
  /**
   * -H: MAP_HUGETLB | MAP_ANONYMOUS, as the selftest. The machine boots with a hugetlb
   * pool of just the pages the mapping needs (the selftest expects an administrator to
   * have set one up); mmap rounds the length up to the huge page size, GUP covers -m.
   */
  bool hugetlb = false;
  unsigned hugetlb_shift = 21;  // --hugetlb-size: 21 (MAP_HUGE_2MB) or 30 (MAP_HUGE_1GB, PUD leaves)
  uint64_t ram_bytes = 0;       // --ram: the machine's RAM (0: sized to the run)
  PinDesign design = PinDesign::folio_pincount;
  bool baseline = false;
  bool host_baseline = false;
  /**
   * Keep and release pins as io_uring keeps a registered buffer: after pinning, the
   * page array is coalesced into runs of one folio (timed with the pins, as
   * io_coalesce_buffer() is part of registration), and each run is released with one
   * unpin_user_page_range_dirty_lock() (as unregistration unpins folio by folio),
   * instead of unpin_user_pages() over the whole array.
   */
  bool coalesce = false;
  bool json = false;
};

/** One repeat of one thread: microseconds, as the selftest reports, plus ns detail. */
struct GupTestRun {
  uint64_t get_ns = 0;
  uint64_t put_ns = 0;
  uint64_t pages = 0;
  long status = 0;          // 0, or the first negative errno
  uint64_t not_pinned = 0;  // pages the pin design failed to report (false negatives)
};

struct GupTestReport {
  std::vector<GupTestRun> runs;
  double get_ns_per_page = 0, put_ns_per_page = 0;  // medians
  double baseline_get_ns_per_page = 0, baseline_put_ns_per_page = 0;
  // --baseline: the entries taken as GUP-fast takes them, bare (increment unless zero by
  // compare-and-swap, each page stored in the caller's array): what the kernel cannot avoid.
  double shaped_get_ns_per_page = 0;
  bool host_ok = false;
  std::string host_error;
  double host_get_ns_per_page = 0, host_put_ns_per_page = 0;
  bool host_thp = false;
  std::string vmstat;
  std::string oops;  // the model's first oops, if it had one (the run is then a failure)
  std::string error;  // the run could not start (boot refused, mmap failed): nothing ran
};

/**
 * gup_test_machine_config() - the machine a run of @opt boots: RAM sized to the buffer
 * (or --ram) and, with -H, a hugetlb pool of the pages the buffer needs.
 */
MachineConfig gup_test_machine_config(const GupTestOptions& opt);

/** gup_test_passes() - how many passes a run of @opt times: -r, at least 3 with --baseline. */
inline int gup_test_passes(const GupTestOptions& opt) { return opt.baseline && opt.repeats < 3 ? 3 : opt.repeats; }

/** run_gup_test() - the whole command, minus printing. */
GupTestReport run_gup_test(const GupTestOptions& opt);

/** gup_test_main() - parse @argv (after "gup_test"), run, print. Returns the exit code. */
int gup_test_main(int argc, char** argv);

}  // namespace guplab::tools
