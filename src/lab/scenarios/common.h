// common.h - what the seed scenarios share: the small machine they boot, the names of
// their own sync points, and the matrix predictions in one place.
//
// Every scenario runs in two modes (ScenarioParams::scripted): scripted, its tasks are
// ordered through sync points into the interleaving the seed describes; unscripted, the
// same tasks run with no ordering (they loop a little more, so that the bad interleaving
// is one of many) and only the scheduler decides. The oracles look at the same points in
// both modes.
//
// Threading: plain functions.
#pragma once
#include "base/atomic.h"
#include "base/sched.h"
#include "lab/scenario.h"
#include "machine/config.h"
#include "mm/pin_design.h"

namespace guplab {

/** scenario_machine() - what every seed scenario boots: 4 MiB of RAM, no THP. */
inline MachineConfig scenario_machine() {
  MachineConfig c;
  c.ram_bytes = 4ull << 20;
  c.thp = false;
  return c;
}

/** yield_some() - @n voluntary scheduling points (unscripted tasks let others in). */
inline void yield_some(unsigned n) {
  for (unsigned i = 0; i < n; i++) cond_resched();
}

/**
 * Workers - how many of an unscripted scenario's tasks (of one side: the device, or
 * those that act on its pages) are still at work, so that the other side keeps going
 * "for a while" (seed 002's words) while they run: at least kMinRounds, at most
 * kMaxRounds rounds, so every task ends.
 */
class Workers {
 public:
  static constexpr unsigned kMinRounds = 3;
  static constexpr unsigned kMaxRounds = 12;
  explicit Workers(int n) { atomic_set(&left_, n); }
  void done() { atomic_dec(&left_); }
  bool busy() const { return atomic_read(&left_) > 0; }
  /** keep_going() - may a task of the other side that has done @rounds rounds do another? */
  bool keep_going(unsigned rounds) const { return rounds < kMinRounds || (rounds < kMaxRounds && busy()); }

 private:
  atomic_t left_;
};

/** tracks_pins() - does design @d answer page_maybe_dma_pinned() (all but get)? */
inline bool tracks_pins(PinDesign d) { return pin_design_props(d).tracks_pins; }
/** acts_on_pins() - does the machine act on pins at writeback and reclaim? */
inline bool acts_on_pins(PinDesign d, WritebackPolicy p) { return tracks_pins(d) && wb_policy_row(p).acts_on_pins; }
/**
 * writes_pinned() - does background writeback (WB_SYNC_NONE) write a pinned page itself
 * and clear its dirty bit? Where pins are not acted on, and under rfc002 (seed 002 as
 * posted: page_mkclean() skips it, clear_page_dirty_for_io() still clears and writes).
 */
inline bool writes_pinned(PinDesign d, WritebackPolicy p) {
  if (!acts_on_pins(d, p)) return true;
  const PinnedWrite w = wb_policy_row(p).sync_none;
  return w == PinnedWrite::write || w == PinnedWrite::write_unprotected;
}

// The registered scenarios (lab/registry.cc lists them).
const Scenario* ext4_bug_scenario();
const Scenario* torn_writeback_scenario();
const Scenario* lost_update_scenario();
const Scenario* dio_vs_truncate_scenario();
const Scenario* fork_pin_scenario();
const Scenario* gup_put_page_leak_scenario();
const Scenario* uffd_gup_scenario();
const Scenario* uffd_wp_pin_scenario();
const Scenario* longterm_truncate_scenario();
const Scenario* migrate_pinned_scenario();
const Scenario* dax_truncate_scenario();

}  // namespace guplab
