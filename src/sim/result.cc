// result.cc - printing a sim run's result.
#include "sim/result.h"

#include <fmt/format.h>

#include <iterator>

namespace guplab {

const char* to_string(SimOutcome o) {
  switch (o) {
    case SimOutcome::completed: return "completed";
    case SimOutcome::deadlock: return "deadlock";
    case SimOutcome::halted: return "halted";
    case SimOutcome::step_limit: return "step_limit";
  }
  return "?";
}

const char* to_string(SchedPoint why) {
  static constexpr const char* kNames[] = {"atomic_read", "atomic_write", "lock",  "wait",   "wake",
                                           "rcu",         "clock",        "random", "spawn", "io",
                                           "yield",       "sync_point"};
  static_assert(std::size(kNames) == kSchedPointKinds, "a name for every SchedPoint kind");
  const auto i = static_cast<size_t>(why);
  return i < kSchedPointKinds ? kNames[i] : "?";
}

std::string SimRunResult::format() const {
  std::string out = fmt::format(
      "sim run: {} seed={} strategy={} steps={} switches={} tasks={} choices={} "
      "virtual_time={}ns\n",
      to_string(outcome), seed, strategy, steps, switches, tasks, choices.size(), end_ns - start_ns);
  if (replay_diverged) out += "  replay diverged from the recorded choices\n";
  if (spurious_wakeups || buggify_fired)
    out += fmt::format("  faults: spurious_wakeups={} buggify_fired={}\n", spurious_wakeups, buggify_fired);
  if (!blocked.empty()) {
    out += "  wait-for picture (every task blocked, no timer pending):\n";
    for (const BlockedTask& b : blocked)
      out += fmt::format("    pid {} ({}) blocked in {} on {} [key {:#x}]\n", b.pid, b.comm, b.kind,
                         b.what, b.key);
  }
  return out;
}

}  // namespace guplab
