// conform_cmd.cc - `guplab conform` (see conform_cmd.h).
#include "tools/conform_cmd.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <regex>

#include "lab/conform/runner.h"
#include "machine/config.h"
#include "tools/strict_number.h"
#include "tools/usage_exit.h"

namespace guplab::tools {

int conform_main(int argc, char** argv) {
  CLI::App app{"Linux conformance: the cases of cow.c, gup_longterm.c and more, on the host kernel and the model",
               "guplab conform"};
  bool host = false, list = false;
  std::vector<std::string> designs;
  std::string cow_reuse = "refcount", filter, format;
  int timeout = 30;
  app.add_flag("--host", host, "run the cases on the host kernel");
  app.add_option("--design", designs, "run the cases on the model under this pin design (repeatable)")
      ->check([](const std::string& s) { return parse_pin_design(s) ? std::string() : "unknown design '" + s + "'"; });
  app.add_option("--cow-reuse", cow_reuse,
                 "the model's COW reuse rule: refcount (upstream) or mapcount (before 5.8: CVE-2020-29374)")
      ->check(CLI::IsMember({"refcount", "mapcount"}));
  app.add_option("--filter", filter, "only the cases whose names match this regular expression")
      ->check([](const std::string& s) {
        try {
          std::regex re(s);
        } catch (const std::regex_error& e) {
          return std::string("bad regular expression: ") + e.what();
        }
        return std::string();
      });
  app.add_option("--format", format, "tap, json or table (default: tap for one side, table for several)")
      ->check(CLI::IsMember({"tap", "json", "table"}));
  app.add_option("--timeout", timeout, "seconds a host case may take")->check(Whole(1, 3600));
  app.add_flag("--list", list, "list the cases and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }

  using namespace conform;
  const std::vector<const Case*> cases = select_cases(filter);
  if (list) {
    for (const Case* c : cases) fmt::print("{}\t{}\n", c->source, c->name);
    return 0;
  }
  if (cases.empty()) {
    fmt::print(stderr, "guplab conform: no case matches --filter '{}'\n", filter);
    return 2;
  }
  const CowReuse reuse = *parse_cow_reuse(cow_reuse);
  std::vector<SideSpec> sides;
  if (host || designs.empty()) sides.push_back(SideSpec{});
  if (designs.empty() && !host)
    for (PinDesign d : kAllPinDesigns) sides.push_back(SideSpec{ModelSide{d, reuse}});
  for (const std::string& d : designs) sides.push_back(SideSpec{ModelSide{*parse_pin_design(d), reuse}});
  if (format.empty()) format = sides.size() == 1 ? "tap" : "table";

  FILE* progress = isatty(STDERR_FILENO) ? stderr : nullptr;
  std::vector<SideRun> runs;
  for (const SideSpec& s : sides) {
    SideRun r;
    r.side = s.name();
    for (const Case* c : cases) {
      r.outcomes.push_back(run_case(*c, s, timeout));
      if (progress) fmt::print(progress, "\r{}: {}/{}", r.side, r.outcomes.size(), cases.size());
    }
    if (progress) fmt::print(progress, "\r\033[K");
    runs.push_back(std::move(r));
  }

  if (format == "tap") {
    for (const SideRun& r : runs) print_tap(stdout, cases, r);
  } else if (format == "json") {
    if (runs.size() == 1) {
      fmt::print("{}\n", to_json(cases, runs[0]));
    } else {
      nlohmann::json all = nlohmann::json::array();
      for (const SideRun& r : runs) all.push_back(nlohmann::json::parse(to_json(cases, r)));
      fmt::print("{}\n", all.dump(2));
    }
  } else {
    print_table(stdout, cases, runs);
  }

  if (runs.size() == 1) {
    for (const Outcome& o : runs[0].outcomes)
      if (o.result == Result::fail) return 1;
    return 0;
  }
  if (runs[0].side != "host") return 0;
  for (size_t i = 1; i < runs.size(); i++)
    if (runs[i].side == "folio_pincount" && !compare(runs[0], runs[i]).differ.empty()) return 1;
  return 0;
}

}  // namespace guplab::tools
