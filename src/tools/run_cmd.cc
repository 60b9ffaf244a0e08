// run_cmd.cc - `guplab run`: scenarios, one cell or the matrix.
#include "tools/run_cmd.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "tools/usage_exit.h"
#include <nlohmann/json.hpp>

#include "lab/matrix.h"
#include "lab/scenario.h"
#include "tools/cell_options.h"
#include "tools/strict_number.h"

namespace guplab::tools {

int run_main(int argc, char** argv) {
  CLI::App app{"run the seed scenarios under a pin design and a writeback policy", "guplab run"};
  std::string name, design = "folio_pincount", policy = "skip", format = "text", backend = "sim";
  uint64_t seed = 1;
  bool all = false, list = false, unscripted = false;
  app.add_option("scenario", name, "the scenario to run (see --list)");
  add_cell_options(app, &design, &policy);
  std::string gup_retry = "on";
  add_gup_retry_option(app, &gup_retry);
  app.add_option("--seed", seed, "seed of the machine (and of the sim scheduler)")->check(Whole(0, UINT64_MAX, true));
  app.add_option("--backend", backend, "sim (deterministic fibers; default) or native (threads)")
      ->check(CLI::IsMember({"sim", "native"}));
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--unscripted", unscripted,
               "leave the scenario's sync-point script out: the scheduler alone orders its tasks (sim: by --seed)");
  app.add_flag("--all", all, "run every scenario under every design and policy");
  app.add_flag("--list", list, "list the scenarios");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }

  if (list) {
    for (const Scenario* s : all_scenarios()) fmt::print("{:<18} {}\n", s->name(), s->description());
    return 0;
  }
  ScenarioParams base;
  base.seed = seed;
  base.backend = backend == "sim" ? Backend::sim : Backend::native;
  base.trace = true;
  base.scripted = !unscripted;
  base.gup_retry = gup_retry == "on";

  if (all) {
    if (!name.empty()) {
      fmt::print(stderr, "guplab run: give a scenario or --all, not both\n");
      return 2;
    }
    if (app.count("--design") || app.count("--policy")) {
      fmt::print(stderr, "guplab run: --all runs every design and policy; --design and --policy are for one scenario\n");
      return 2;
    }
    std::vector<MatrixCell> cells = run_matrix(all_scenarios(), base);
    bool same = true;
    for (const auto& c : cells) same = same && c.matches();
    if (format == "json") {
      nlohmann::json j;
      j["seed"] = seed;
      j["backend"] = backend;
      j["cells"] = nlohmann::json::array();
      for (const auto& c : cells) j["cells"].push_back(cell_json(c));
      size_t differ = 0;
      for (const auto& c : cells) differ += !c.matches();
      j["differ"] = differ;
      fmt::print("{}\n", j.dump(2));
    } else {
      fmt::print("{}", format_matrix(cells));
    }
    return same ? 0 : 1;
  }

  if (name.empty()) {
    fmt::print(stderr, "guplab run: give a scenario ({}) or --all\n", scenario_names());
    return 2;
  }
  const Scenario* s = find_scenario(name);
  if (!s) {
    fmt::print(stderr, "guplab run: unknown scenario '{}' (known: {})\n", name, scenario_names());
    return 2;
  }
  const PinDesign d = *parse_pin_design(design);
  const WritebackPolicy p = *parse_writeback_policy(policy);
  if (!s->applies(prediction_design(d), prediction_policy(p))) {
    fmt::print(stderr, "guplab run: {} does not run under design {} with policy {}\n", name, design, policy);
    return 2;
  }
  MatrixCell c = run_cell(*s, d, p, base);
  if (format == "json")
    fmt::print("{}\n", result_json(c.result, c.expected).dump(2));
  else
    fmt::print("{}", format_result(c.result, c.expected));
  return c.matches() ? 0 : 1;
}

}  // namespace guplab::tools
