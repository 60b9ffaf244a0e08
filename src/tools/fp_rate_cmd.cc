// fp_rate_cmd.cc - `guplab fp-rate`.
#include "tools/fp_rate_cmd.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "tools/usage_exit.h"
#include <nlohmann/json.hpp>

#include "lab/fp_rate.h"
#include "machine/config.h"
#include "mm/pin_design.h"
#include "tools/strict_number.h"

namespace guplab::tools {

int fp_rate_main(int argc, char** argv) {
  CLI::App app{"false-positive rate of page_maybe_dma_pinned() per pin design and workload", "guplab fp-rate"};
  std::string design, format = "text";
  FpOptions opt;
  app.add_option("--design", design, "one pin design (default: every design)")
      ->check([](const std::string& s) { return parse_pin_design(s) ? std::string() : "unknown design '" + s + "'"; });
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--max-refs", opt.max_refs, "refs, thp_refs: N = 1..this many references")
      ->check(Whole(1, 1 << 20));
  app.add_option("--max-forks", opt.max_forks, "fork: N = 1..this many children")->check(Whole(1, 8192));
  app.add_option("--mix-pages", opt.mix_pages, "mix: this many pages, odd ones pinned")->check(Whole(2, 4096));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }

  std::vector<PinDesign> designs;
  if (design.empty())
    designs.assign(std::begin(kAllPinDesigns), std::end(kAllPinDesigns));
  else
    designs.push_back(*parse_pin_design(design));
  std::vector<FpRow> rows;
  for (PinDesign d : designs)
    for (FpRow& r : measure_fp_rate(d, opt)) rows.push_back(std::move(r));

  bool false_negative = false;
  for (const FpRow& r : rows) false_negative = false_negative || (pin_design_props(r.design).tracks_pins && r.false_negatives);
  if (format == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const FpRow& r : rows)
      j.push_back({{"design", to_string(r.design)},
                   {"workload", to_string(r.workload)},
                   {"samples", r.samples},
                   {"false_positives", r.false_positives},
                   {"rate", r.rate()},
                   {"first_fp_n", r.first_fp_n},
                   {"first_fp_refcount", r.first_fp_refcount},
                   {"pinned_samples", r.pinned_samples},
                   {"false_negatives", r.false_negatives},
                   {"tracking", pin_design_props(r.design).tracks_pins},
                   {"note", r.note}});
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{}", format_fp_table(rows));
  }
  if (false_negative) fmt::print(stderr, "guplab fp-rate: a tracking design reported a pinned page as not pinned\n");
  return false_negative ? 1 : 0;
}

}  // namespace guplab::tools
