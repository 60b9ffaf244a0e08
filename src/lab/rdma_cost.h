// rdma_cost.h - what each way of giving an RDMA-like device user memory costs and what
// it guarantees (issue 11, seed 003: pinning vs pinned+notifier vs on-demand paging);
// what `guplab rdma-cost` prints.
//
// A mode is one line of kRdmaCostModes: a name, what it guarantees, and how to make its
// device behind the CostDevice interface (register / deregister / write one page). For
// each mode, on a fresh native Machine with an anonymous range of `pages` pages that the
// process has already touched:
//
//   reg   `rounds` times: register the whole range, deregister it. Host ns per page.
//         (pin: pin_user_pages_fast(FOLL_LONGTERM) + unpin_user_pages_dirty_lock();
//          odp: interval notifier insert + hmm_range_fault prefetch + remove.)
//   inval registered once, `invalidations` times: MADV_DONTNEED one page (i % pages),
//         the device writes that page, the process stores to it. Host ns per round:
//         one zap, one page fault and one device write in every mode; ODP adds its
//         ->invalidate and a device page fault (hmm_range_fault). The same rounds
//         without the zap give `write`; `inval` = round - write is what an
//         invalidation costs (to be read against the no-device figure: the zap and
//         the process's fault alone). Then, untimed, the
//         same round on min(pages, 64) pages with a read-back: `coherent` counts those
//         whose device write is what the process then sees at that address.
//
// The no-device baseline is round - write with no device at all. Each figure is the median
// of `runs` runs. pins_held is NR_FOLL_PIN_ACQUIRED minus
// _RELEASED while the range is registered (what the mode keeps out of reclaim and
// migration).
//
// Threading: measure_rdma_cost() boots its own machines and runs on the calling thread.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "drivers/dma_stamp.h"
#include "lab/result.h"

namespace guplab {

class Machine;

/** The device of one mode, as the measurement drives it. */
class CostDevice {
 public:
  virtual ~CostDevice() = default;
  /** Register [@addr, +@npages) of current->mm. Returns 0 or -errno. */
  virtual int reg(unsigned long addr, unsigned long npages) = 0;
  virtual void dereg() = 0;
  /** One stamped whole-page write of page @i; its stamp in *@out. Returns 0 or -errno. */
  virtual int write(unsigned long i, dma_stamp* out) = 0;
};

struct rdma_cost_mode {
  const char* name;       // "pin", "odp", ...
  const char* guarantee;  // one line: what the device's user can rely on
  std::function<std::unique_ptr<CostDevice>(Machine*, StampClock*)> make;
};

/** The modes, in table order (a new device mode is one more entry here). */
const std::vector<rdma_cost_mode>& rdma_cost_modes();

struct RdmaCostOptions {
  unsigned long pages = 1024;
  unsigned rounds = 50;
  unsigned invalidations = 20000;
  unsigned runs = 3;
  std::string only;  // one mode by name ("" for all)
};

struct RdmaCostRow {
  std::string mode;
  std::string guarantee;
  double reg_ns_per_page = 0;  // median over runs
  double round_ns = 0;         // median over runs: one invalidation round (zap, fault, write)
  double write_ns = 0;         // median over runs: the same round without the zap
  /** inval_ns() - what the invalidation adds to a round: round_ns - write_ns. */
  double inval_ns() const { return round_ns - write_ns; }
  unsigned long coherent = 0;  // checked rounds (of the last run) whose write the process saw
  unsigned long checked = 0;   // rounds checked for that: min(pages, 64), untimed
  long pins_held = 0;          // while registered
  int error = 0;               // a -errno that stopped the mode (then the figures are 0)
};

/**
 * measure_rdma_cost() - one row per mode (or just @opt.only), or an Error "EINVAL"
 * (code -EINVAL) for an unknown mode or zero pages/rounds/runs.
 */
Result<std::vector<RdmaCostRow>> measure_rdma_cost(const RdmaCostOptions& opt);

/**
 * measure_rdma_baseline() - what a zap and the process's fault on that page cost with
 * no device at all (round - write without a device): median host ns over @opt.runs runs.
 */
double measure_rdma_baseline(const RdmaCostOptions& opt);

/** format_rdma_cost() - the text table `guplab rdma-cost` prints (@baseline_ns <= 0: no baseline line). */
std::string format_rdma_cost(const std::vector<RdmaCostRow>& rows, const RdmaCostOptions& opt, double baseline_ns);

}  // namespace guplab
