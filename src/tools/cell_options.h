// cell_options.h - what `guplab run` and `guplab explore` share on their command line:
// the scenario names, and the --design/--policy options with their checks.
// Threading: plain functions, called from main.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "lab/scenario.h"
#include "machine/config.h"

namespace guplab::tools {

/** scenario_names() - "ext4-bug, torn-writeback, ..." for messages. */
inline std::string scenario_names() {
  std::string s;
  for (const Scenario* sc : all_scenarios()) s += (s.empty() ? "" : ", ") + std::string(sc->name());
  return s;
}

/** add_cell_options() - --design and --policy into @design and @policy (names checked). */
inline void add_cell_options(CLI::App& app, std::string* design, std::string* policy) {
  app.add_option("--design", *design, "pin design: get, bias, dma_count, fake_vma, folio_pincount, bias_all")
      ->check([](const std::string& s) { return parse_pin_design(s) ? std::string() : "unknown design '" + s + "'"; });
  app.add_option("--policy", *policy, "writeback policy: ignore, skip, wait, bounce, keep_dirty")
      ->check([](const std::string& s) {
        auto p = parse_writeback_policy(s);
        if (!p) return "unknown policy '" + s + "'";
        if (*p == WritebackPolicy::revoke) return std::string("policy revoke is not built");
        return std::string();
      });
}

}  // namespace guplab::tools
