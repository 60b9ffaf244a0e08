// sim_test_util.h - small machines on the sim backend for tests of sim/.
#pragma once
#include <cstdint>
#include <memory>

#include "machine/machine.h"

namespace guplab::testing {

inline MachineConfig sim_config(uint64_t seed) {
  MachineConfig c;
  c.ram_bytes = 4ull << 20;
  c.backend = Backend::sim;
  c.seed = seed;
  return c;
}

inline std::unique_ptr<Machine> sim_machine(uint64_t seed, const SimOptions& opts = {}) {
  auto m = std::make_unique<Machine>(sim_config(seed));
  m->set_sim_options(opts);
  return m;
}

/** Counts destructor runs: proves that a task's stack was unwound. */
struct UnwindProbe {
  int* count;
  ~UnwindProbe() { ++*count; }
};

}  // namespace guplab::testing
