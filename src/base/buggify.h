// buggify.h - seeded fault injection at named sites (FoundationDB's BUGGIFY).
//
// Model code marks a place where a rare but legal thing may happen (a short read, a
// delayed completion, a failed allocation) with `if (sim_buggify("site")) ...`. Under
// the sim backend each site is enabled or not once per run, from the run's seed, and an
// enabled site then fires with a fixed probability at each call; the same seed and the
// same schedule give the same faults. Under the native backend it is always false and
// costs one thread-local load.
//
// Threading: any task.
#pragma once

#include "base/sched.h"

namespace guplab {

/** sim_buggify() - should the fault at @site be injected now? False under native. */
inline bool sim_buggify(const char* site) {
  SimHooks* h = tls_sim_hooks;
  return unlikely(h != nullptr) && h->buggify(site);
}

/**
 * sim_buggify_arm() - from now on, may enabled sites fire (@on), or not? A run starts
 * armed unless SimOptions::buggify_armed says otherwise; a harness that wants faults
 * only after its setup (a scenario's tasks, not its mkfs) starts disarmed and arms
 * here. No-op under native.
 */
inline void sim_buggify_arm(bool on) {
  if (SimHooks* h = tls_sim_hooks) h->buggify_arm(on);
}

}  // namespace guplab
