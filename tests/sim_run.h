// sim_run.h - run a test's body on a sim-backend machine, seed after seed, so that a
// concurrency test is exact: the sim scheduler decides every interleaving from the seed,
// virtual time moves only when every task is parked, and a failure names the seed that
// replays it (with the wait-for picture of a deadlock, at once, instead of a hang).
//
// Threading: call from the test thread; the body runs as the machine's first task, on
// fibers of the calling thread.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "machine/machine.h"
#include "mm/page_alloc.h"
#include "sim_explore.h"

namespace guplab::testing {

/**
 * sim_run() - boot a sim machine from @cfg with @seed, run @body(machine) as its first
 * task, and return "" or what went wrong: the sim outcome (deadlock picture, step limit),
 * the first oops, or pages the run did not give back.
 */
inline std::string sim_run(MachineConfig cfg, uint64_t seed, const std::function<void(Machine&)>& body,
                           const SimOptions* opts = nullptr) {
  cfg.backend = Backend::sim;
  cfg.seed = seed;
  Machine m(cfg);
  if (opts) m.set_sim_options(*opts);
  m.run([&] { body(m); });
  if (m.sim_result() && !m.sim_result()->ok()) return m.sim_result()->format();
  if (m.nr_oops()) return m.oopses()[0].format();
  if (nr_free_pages(&m) != m.boot_free_pages()) return "pages leaked by the run";
  return "";
}

/**
 * expect_every_seed() - sim_run() for seeds 1..@nseeds, through explore_seeds(): a failure
 * is reported with the seed and the command that replays it (GUPLAB_SIM_SEED=<seed>), and
 * ends the loop.
 */
inline void expect_every_seed(const MachineConfig& cfg, uint64_t nseeds, const std::function<void(Machine&)>& body) {
  explore_seeds(nseeds, [&](uint64_t seed) { return sim_run(cfg, seed, body); });
}

}  // namespace guplab::testing
