// rdma_cost_cmd.cc - `guplab rdma-cost`.
#include "tools/rdma_cost_cmd.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/errno.h"
#include "lab/rdma_cost.h"
#include "tools/strict_number.h"
#include "tools/usage_exit.h"

namespace guplab::tools {

int rdma_cost_main(int argc, char** argv) {
  CLI::App app{"cost per registered page and per invalidation of each RDMA device mode", "guplab rdma-cost"};
  RdmaCostOptions opt;
  std::string format = "text";
  std::vector<std::string> names;
  for (const rdma_cost_mode& m : rdma_cost_modes()) names.push_back(m.name);
  app.add_option("--mode", opt.only, "one mode (default: every mode)")->check(CLI::IsMember(names));
  app.add_option("--pages", opt.pages, "pages in the registered range")->check(Whole(1, 16384));
  app.add_option("--rounds", opt.rounds, "register + deregister rounds per run")->check(Whole(1, 100000));
  app.add_option("--invalidations", opt.invalidations, "invalidation rounds per run")->check(Whole(1, 10000000));
  app.add_option("--runs", opt.runs, "runs per mode (the figures are their median)")->check(Whole(1, 101));
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }
  Result<std::vector<RdmaCostRow>> measured = measure_rdma_cost(opt);
  if (!measured) {
    fmt::print(stderr, "guplab rdma-cost: {}\n", measured.error());
    return 2;
  }
  const std::vector<RdmaCostRow>& rows = *measured;
  const double baseline = measure_rdma_baseline(opt);
  bool failed = false;
  for (const RdmaCostRow& r : rows) failed = failed || r.error;
  if (format == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const RdmaCostRow& r : rows)
      j.push_back({{"mode", r.mode},
                   {"guarantee", r.guarantee},
                   {"reg_ns_per_page", r.reg_ns_per_page},
                   {"ns_per_round", r.round_ns},
                   {"ns_per_write", r.write_ns},
                   {"ns_per_invalidation", r.inval_ns()},
                   {"coherent", r.coherent},
                   {"checked", r.checked},
                   {"pins_held", r.pins_held},
                   {"error", r.error ? errname(r.error) : ""}});
    nlohmann::json doc = {{"pages", opt.pages},
                          {"rounds", opt.rounds},
                          {"invalidations", opt.invalidations},
                          {"runs", opt.runs},
                          {"baseline_ns_per_invalidation", baseline},
                          {"modes", j}};
    fmt::print("{}\n", doc.dump(2));
  } else {
    fmt::print("{}", format_rdma_cost(rows, opt, baseline));
  }
  return failed ? 1 : 0;
}

}  // namespace guplab::tools
