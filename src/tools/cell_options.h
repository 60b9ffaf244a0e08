// cell_options.h - what `guplab run` and `guplab explore` share on their command line:
// the scenario names, and the --design/--policy options with their checks.
// Threading: plain functions, called from main.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "lab/scenario.h"
#include "machine/config.h"
#include "machine/registry.h"

namespace guplab::tools {

/** scenario_names() - "ext4-bug, torn-writeback, ..." for messages. */
inline std::string scenario_names() {
  std::string s;
  for (const Scenario* sc : all_scenarios()) s += (s.empty() ? "" : ", ") + std::string(sc->name());
  return s;
}

/** pin_design_names() - "get, bias, ...": every design, built in and registered. */
inline std::string pin_design_names() {
  std::string s;
  for (PinDesign d : all_pin_designs()) s += (s.empty() ? "" : ", ") + std::string(to_string(d));
  return s;
}

/** wb_policy_names() - "ignore, skip, ...": every policy, built in and registered. */
inline std::string wb_policy_names() {
  std::string s;
  for (WritebackPolicy p : all_writeback_policies()) s += (s.empty() ? "" : ", ") + std::string(to_string(p));
  return s;
}

/** add_cell_options() - --design and --policy into @design and @policy (names checked). */
inline void add_cell_options(CLI::App& app, std::string* design, std::string* policy) {
  app.add_option("--design", *design, "pin design: " + pin_design_names())
      ->check([](const std::string& s) { return parse_pin_design(s) ? std::string() : "unknown design '" + s + "'"; });
  app.add_option("--policy", *policy, "writeback policy: " + wb_policy_names())
      ->check([](const std::string& s) {
        return parse_writeback_policy(s) ? std::string() : "unknown policy '" + s + "'";
      });
}

/**
 * add_gup_retry_option() - --gup-retry on|off into @value (MachineConfig::gup_retry:
 * off boots a kernel before seed 001, whose GUP never lets a fault drop mmap_lock).
 */
inline void add_gup_retry_option(CLI::App& app, std::string* value) {
  app.add_option("--gup-retry", *value, "on (default) or off: GUP's faults may drop mmap_lock and retry (seed 001)")
      ->check(CLI::IsMember({"on", "off"}));
}

}  // namespace guplab::tools
