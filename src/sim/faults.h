// faults.h - seeded fault injection for one sim run: buggify sites, spurious wakeups.
//
// Whether a buggify site is enabled depends only on (seed, site name), never on the
// order of calls, so adding a site elsewhere does not reshuffle the others. Whether an
// enabled site fires, and whether a futex wait wakes spuriously, is drawn from the run's
// fault stream, which is separate from the scheduling strategy's stream.
//
// Threading: single-threaded, owned by one run.
#pragma once
#include <cstdint>

#include "base/random.h"
#include "sim/options.h"

namespace guplab {

class FaultInjector {
 public:
  FaultInjector(uint64_t seed, const SimOptions& opts);

  /** site_enabled() - is buggify site @site on for this run? */
  bool site_enabled(const char* site) const;
  /** buggify() - fire at @site now? False unless SimOptions::buggify. */
  bool buggify(const char* site);
  /** arm() - may enabled sites fire from now on? (SimOptions::buggify_armed at start.) */
  void arm(bool on) { armed_ = on; }
  bool armed() const { return armed_; }
  /** spurious_wakeup() - should this futex wait return at once? */
  bool spurious_wakeup();

  uint64_t buggify_fired() const { return buggify_fired_; }
  uint64_t spurious_wakeups() const { return spurious_; }

 private:
  uint64_t seed_;
  Random rng_;
  bool buggify_on_;
  bool armed_;
  double site_p_;
  double fire_p_;
  double spurious_p_;
  uint64_t buggify_fired_ = 0;
  uint64_t spurious_ = 0;
};

}  // namespace guplab
