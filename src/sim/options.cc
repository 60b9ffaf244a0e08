// options.cc - strategy names and option helpers.
#include "sim/options.h"

#include <fmt/format.h>

#include "sim/result.h"

namespace guplab {

const char* to_string(SimStrategy s) {
  switch (s) {
    case SimStrategy::random: return "random";
    case SimStrategy::pct: return "pct";
    case SimStrategy::replay: return "replay";
  }
  return "?";
}

std::optional<SimStrategy> parse_sim_strategy(std::string_view s) {
  for (SimStrategy k : {SimStrategy::random, SimStrategy::pct, SimStrategy::replay})
    if (s == to_string(k)) return k;
  return std::nullopt;
}

SimOptions SimOptions::replay_of(const SimRunResult& r) const {
  SimOptions o = *this;
  o.strategy = SimStrategy::replay;
  o.replay = r.choices;
  return o;
}

std::string SimOptions::describe() const {
  switch (strategy) {
    case SimStrategy::random: return "random";
    case SimStrategy::pct: return fmt::format("pct(d={},k={})", pct_depth, pct_steps);
    case SimStrategy::replay: return fmt::format("replay(n={})", replay.size());
  }
  return "?";
}

}  // namespace guplab
