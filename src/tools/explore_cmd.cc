// explore_cmd.cc - `guplab explore`: many schedules of one scenario cell, or one replayed.
//
// Exit status: 0 when no run failed (or, with --check, when the outcomes are what the
// scenario predicts for its unscripted variant), 1 otherwise, 2 on bad usage.
#include "tools/explore_cmd.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "tools/usage_exit.h"
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lab/explorer.h"
#include "lab/matrix.h"
#include "lab/scenario.h"
#include "tools/cell_options.h"
#include "tools/strict_number.h"
#include "lab/trace/trace_recorder.h"

namespace guplab::tools {

namespace {

// "random", "pct" (depth 3) or "pct:D".
bool parse_strategy(const std::string& s, SimStrategy* st, unsigned* depth) {
  if (s == "random") {
    *st = SimStrategy::random;
    return true;
  }
  if (s == "pct") {
    *st = SimStrategy::pct;
    return true;
  }
  if (s.rfind("pct:", 0) == 0) {
    try {
      size_t used = 0;
      const unsigned long d = std::stoul(s.substr(4), &used);
      if (used != s.size() - 4 || d == 0 || d > 64) return false;
      *st = SimStrategy::pct;
      *depth = static_cast<unsigned>(d);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

// A seed as printed ("0x1f") or decimal; no sign, no spaces, at most 2^64-1.
bool parse_seed(const std::string& s, uint64_t* out) {
  const auto v = parse_whole(s, true);
  if (v) *out = *v;
  return v.has_value();
}

std::string histogram_line(const ExploreResult& r) {
  std::string s;
  for (Outcome o : kAllOutcomes)
    if (r.count(o)) s += fmt::format("{}{} {}", s.empty() ? "" : "  ", to_string(o), r.count(o));
  return s.empty() ? "(no runs)" : s;
}

// Does the exploration show what the scenario predicts for the unscripted cell? Failures
// that injected faults explain do not count against an ok prediction.
bool as_predicted(const ExploreResult& r, Outcome expected) {
  if (expected == Outcome::ok) return r.unexplained() == 0;
  return r.count(expected) > 0;
}

constexpr uint64_t kMaxSeeds = 1'000'000'000;  // --seeds, --pct-steps
constexpr uint64_t kMaxJobs = 1024;            // --jobs

// What the command line asked for, parsed and checked.
struct ExploreArgs {
  std::string name, design = "folio_pincount", policy = "skip", strategy = "random", shard = "1/1", format = "text";
  std::string replay, trace_file, base_seed_s = "1", gup_retry = "on";
  uint64_t seeds = 1000, pct_steps = 0;
  unsigned jobs = 1;
  double spurious = 0;
  bool scripted = false, buggify = false, ftrace = false, until_fail = false, check = false, quiet = false;
  ExploreOptions o;
  Outcome expected = Outcome::ok;  // what the scenario predicts for the cell explored
};

// Parses and checks the command line into @a. Returns -1 to go on, or the exit status
// (0 after --help, 2 on bad usage, with the message printed).
int parse_explore(int argc, char** argv, ExploreArgs* a) {
  CLI::App app{"explore a scenario's schedules on the sim backend, or replay one exactly", "guplab explore"};
  app.add_option("scenario", a->name, "the scenario to explore (guplab run --list)");
  add_cell_options(app, &a->design, &a->policy);
  add_gup_retry_option(app, &a->gup_retry);
  app.add_option("--seeds", a->seeds, "schedules to run (the whole exploration, over every shard)")
      ->check(Whole(1, kMaxSeeds));
  app.add_option("--base-seed", a->base_seed_s, "where the exploration's seeds start (run i gets a seed mixed from it and i)");
  app.add_option("--strategy", a->strategy, "random (random walk) or pct:D (PCT of depth D; pct = pct:3)");
  app.add_option("--pct-steps", a->pct_steps, "PCT's estimate k of a run's steps (default: measured on the seed-0 run)")
      ->check(Whole(0, kMaxSeeds));
  app.add_option("--jobs,-j", a->jobs, "host threads running schedules")->check(Whole(1, kMaxJobs));
  app.add_option("--shard", a->shard, "K/N: run the K-th of N interleaved slices of the seeds (1-based)");
  app.add_flag("--scripted", a->scripted, "explore the scripted variant (its sync-point order holds) instead");
  app.add_flag("--buggify", a->buggify, "enable the fault-injection sites (device delays, I/O errors, allocation failures, ...)");
  app.add_option("--spurious-wakeups", a->spurious, "probability that a wait wakes spuriously")->check(Fraction(0.0, 1.0));
  app.add_flag("--until-fail", a->until_fail, "stop at the first failing schedule (the lowest failing run, whatever -j)");
  app.add_flag("--check", a->check, "exit 0 when outcomes are as the scenario predicts (no failure where it predicts ok)");
  app.add_option("--replay", a->replay, "run the schedule of this seed (as printed) again, exactly");
  app.add_option("--trace", a->trace_file, "with --replay: write a Chrome/Perfetto JSON trace to this file");
  app.add_flag("--ftrace", a->ftrace, "with --replay: print the run's events as trace_pipe lines");
  app.add_option("--format", a->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--quiet,-q", a->quiet, "no progress line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }

  ExploreOptions& o = a->o;
  const std::string& name = a->name;
  if (name.empty()) {
    fmt::print(stderr, "guplab explore: give a scenario ({})\n", scenario_names());
    return 2;
  }
  o.scenario = find_scenario(name);
  if (!o.scenario) {
    fmt::print(stderr, "guplab explore: unknown scenario '{}' (known: {})\n", name, scenario_names());
    return 2;
  }
  o.design = *parse_pin_design(a->design);
  o.gup_retry = a->gup_retry == "on";
  o.policy = *parse_writeback_policy(a->policy);
  if (!o.scenario->applies(prediction_design(o.design), prediction_policy(o.policy))) {
    fmt::print(stderr, "guplab explore: {} does not run under design {} with policy {}\n", name, a->design, a->policy);
    return 2;
  }
  if (!parse_strategy(a->strategy, &o.strategy, &o.pct_depth)) {
    fmt::print(stderr, "guplab explore: --strategy: '{}' is not random, pct or pct:D (1 <= D <= 64)\n", a->strategy);
    return 2;
  }
  if (const auto kn = parse_shard(a->shard, a->seeds)) {
    o.shard = static_cast<unsigned>(kn->first - 1);  // --seeds <= kMaxSeeds fits
    o.shards = static_cast<unsigned>(kn->second);
  } else {
    fmt::print(stderr, "guplab explore: --shard: '{}' is not K/N with 1 <= K <= N <= --seeds ({})\n", a->shard,
               a->seeds);
    return 2;
  }
  if (!parse_seed(a->base_seed_s, &o.base_seed)) {
    fmt::print(stderr, "guplab explore: --base-seed: '{}' is not a whole number (decimal or 0x hex); allowed: from 0 to 2^64-1\n", a->base_seed_s);
    return 2;
  }
  if (a->jobs == 0) {
    fmt::print(stderr, "guplab explore: --jobs must be at least 1\n");
    return 2;
  }
  if ((app.count("--trace") || a->ftrace) && a->replay.empty()) {
    fmt::print(stderr, "guplab explore: --trace and --ftrace go with --replay SEED\n");
    return 2;
  }
  if (app.count("--trace") && a->trace_file.empty()) {
    fmt::print(stderr, "guplab explore: --trace: an empty file name\n");
    return 2;
  }
  // Options that would be ignored are refused: a reader of the command line would
  // believe they took effect.
  if (!a->replay.empty()) {
    for (const char* opt : {"--seeds", "--jobs", "--shard", "--until-fail", "--check", "--base-seed"})
      if (app.count(opt)) {
        fmt::print(stderr, "guplab explore: {} is for an exploration; --replay runs one schedule\n", opt);
        return 2;
      }
    if (a->ftrace && a->format == "json") {
      fmt::print(stderr, "guplab explore: --ftrace prints text lines; with --format json use --trace FILE.json\n");
      return 2;
    }
  }
  if (app.count("--pct-steps") && a->strategy.rfind("pct", 0) != 0) {
    fmt::print(stderr, "guplab explore: --pct-steps goes with --strategy pct or pct:D\n");
    return 2;
  }
  o.seeds = a->seeds;
  o.pct_steps = a->pct_steps;
  o.scripted = a->scripted;
  o.buggify = a->buggify;
  o.spurious_wakeup_p = a->spurious;
  o.jobs = a->jobs;
  o.stop_at_first_failure = a->until_fail;
  // Design, policy and boot options; a registered design or policy is predicted as the
  // built-in one it is registered like.
  ScenarioParams predicted_for = explore_params(o, 1, 1);
  predicted_for.design = prediction_design(o.design);
  predicted_for.policy = prediction_policy(o.policy);
  a->expected = a->scripted ? o.scenario->expected_for(predicted_for)
                            : o.scenario->expected_unscripted_for(predicted_for);
  return -1;
}

// --replay SEED: one run, exactly, with its trace if asked. Returns the exit status.
int replay_one(const ExploreArgs& a) {
  const ExploreOptions& o = a.o;
  uint64_t seed = 0;
  if (!parse_seed(a.replay, &seed)) {
    fmt::print(stderr, "guplab explore: --replay: '{}' is not a seed (decimal or 0x hex, as printed); allowed: from 0 to 2^64-1\n", a.replay);
    return 2;
  }
  const std::string title = fmt::format("{}{} design {} policy {} strategy {} seed {:#x}", a.name,
                                        a.scripted ? "" : " (unscripted)", a.design, a.policy, a.strategy, seed);
  TraceRecorder rec(title);
  ScenarioParams p = explore_params(o, seed, explore_pct_steps(o));
  p.trace = true;
  const bool tracing = !a.trace_file.empty() || a.ftrace;
  if (tracing) {
    p.sim.sink = &rec;
    p.trace_sink = &rec;
  }
  const ScenarioResult r = run_scenario(*o.scenario, p);
  if (!a.trace_file.empty()) {
    std::ofstream out(a.trace_file, std::ios::binary | std::ios::trunc);
    if (out) rec.write_json(out);
    if (!out) {
      fmt::print(stderr, "guplab explore: cannot write {}: {}\n", a.trace_file, std::strerror(errno));
      return 2;
    }
  }
  if (a.ftrace) fmt::print("{}", rec.ftrace());
  if (a.format == "json") {
    nlohmann::json j = result_json(r, a.expected);
    j["seed"] = seed;
    j["choices"] = r.choices.size();
    j["buggify_fired"] = r.buggify_fired;
    j["spurious_wakeups"] = r.spurious_wakeups;
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{}", format_result(r, a.expected));
    fmt::print("schedule: {} steps, {} choices, {} faults injected, {} spurious wakeups\n", r.steps, r.choices.size(),
               r.buggify_fired, r.spurious_wakeups);
    if (!a.trace_file.empty()) fmt::print("trace:    {} ({} events; open in ui.perfetto.dev)\n", a.trace_file, rec.size());
  }
  return r.outcome == Outcome::ok || (a.check && r.outcome == a.expected) ? 0 : 1;
}

// The exploration itself, with a progress line on a terminal. Returns 0, or the exit
// status when the explorer refused the options.
int explore_many(const ExploreArgs& a, ExploreResult* r) {
  ExploreOptions o = a.o;
  const bool tty = !a.quiet && a.format == "text" && isatty(STDERR_FILENO);
  if (tty)
    o.progress = [](uint64_t done, uint64_t total, uint64_t failed) {
      fmt::print(stderr, "\r  {}/{} schedules, {} failing ", done, total, failed);
      std::fflush(stderr);
    };
  Result<ExploreResult> res = explore(o);
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!res) {
    fmt::print(stderr, "guplab explore: {}\n", res.error());
    return 2;
  }
  *r = std::move(*res);
  return 0;
}

// What a schedule's steps are, per schedule: how many were a choice among runnable
// tasks (the others had one task to run), and the kinds of point, most frequent first.
std::string step_profile(const ExploreResult& r) {
  std::vector<std::pair<uint64_t, SchedPoint>> kinds;
  for (size_t k = 0; k < kSchedPointKinds; k++)
    if (r.steps_by_kind[k]) kinds.emplace_back(r.steps_by_kind[k], static_cast<SchedPoint>(k));
  std::stable_sort(kinds.begin(), kinds.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string s = fmt::format("{} choices per schedule; by kind:", r.choices / r.runs);
  for (const auto& [n, why] : kinds) s += fmt::format(" {} {}", to_string(why), n / r.runs);
  return s + fmt::format("; and {} setup and {} teardown steps, not explored", r.setup_steps / r.runs,
                         r.teardown_steps / r.runs);
}

// The exploration's report (text or json). Returns the exit status.
int print_exploration(const ExploreArgs& a, const ExploreResult& r) {
  const ExploreOptions& o = a.o;
  const Outcome expected = a.expected;
  const bool good = a.check ? as_predicted(r, expected) : r.unexplained() == 0;
  const std::string strat = o.strategy == SimStrategy::pct ? fmt::format("pct:{} (k={})", o.pct_depth, r.pct_steps)
                                                          : std::string("random");
  if (a.format == "json") {
    nlohmann::json j;
    j["scenario"] = a.name;
    j["scripted"] = a.scripted;
    j["design"] = a.design;
    j["policy"] = a.policy;
    j["strategy"] = strat;
    j["base_seed"] = o.base_seed;
    j["seeds"] = a.seeds;
    j["shard"] = a.shard;
    j["jobs"] = r.jobs;
    j["buggify"] = a.buggify;
    j["runs"] = r.runs;
    j["failed"] = r.failed;
    j["explained_by_faults"] = r.explained;
    j["expected"] = to_string(expected);
    j["as_predicted"] = as_predicted(r, expected);
    for (Outcome oc : kAllOutcomes) j["outcomes"][to_string(oc)] = r.count(oc);
    if (r.first_failure) {
      j["first_failure"] = {{"run", r.first_failure->index},
                            {"seed", r.first_failure->seed},
                            {"outcome", to_string(r.first_failure->outcome)},
                            {"reason", r.first_failure->reason}};
    }
    j["seconds"] = r.seconds;
    j["schedules_per_second"] = r.per_second();
    j["steps_per_schedule"] = r.runs ? r.steps / r.runs : 0;
    fmt::print("{}\n", j.dump(2));
    return good ? 0 : 1;
  }
  fmt::print("explore:  {}{} under design {}, policy {}, strategy {}{}{}\n", a.name, a.scripted ? "" : " (unscripted)",
             a.design, a.policy, strat, a.buggify ? ", fault injection on" : "", o.gup_retry ? "" : ", --gup-retry off");
  fmt::print("seeds:    {} runs from base seed {} (shard {}), {} done\n", r.total, o.base_seed, a.shard, r.runs);
  fmt::print("outcomes: {}\n", histogram_line(r));
  if (a.buggify)
    fmt::print("faults:   {} failing runs are lost updates or failed calls after injected faults (legitimate); {} are not\n",
               r.explained, r.unexplained());
  if (r.first_failure) {
    const ExploreRun& f = *r.first_failure;
    fmt::print("first failure: run {} seed {:#x}: {}: {}\n", f.index, f.seed, to_string(f.outcome), f.reason);
    fmt::print("  replay: guplab explore {} --design {} --policy {} --strategy {}{}{}{} --replay {:#x} --trace {}.json\n",
               a.name, a.design, a.policy, a.strategy, a.scripted ? " --scripted" : "", a.buggify ? " --buggify" : "",
               o.gup_retry ? "" : " --gup-retry off", f.seed, a.name);
    for (Outcome oc : kAllOutcomes) {
      const auto& fo = r.first_by_outcome[static_cast<size_t>(oc)];
      if (oc == Outcome::ok || !fo || fo->index == f.index) continue;
      fmt::print("first {}: run {} seed {:#x}: {}\n", to_string(oc), fo->index, fo->seed, fo->reason);
    }
  } else {
    fmt::print("first failure: none\n");
  }
  fmt::print("predicted: {} ({})\n", to_string(expected),
             as_predicted(r, expected) ? "as found" : expected == Outcome::ok ? "NOT as found: some runs failed"
                                                                                : "not found in these runs");
  fmt::print("speed:    {:.0f} schedules/s ({} in {:.2f} s, {} job{}), {} steps per schedule\n", r.per_second(), r.runs,
             r.seconds, r.jobs, r.jobs == 1 ? "" : "s", r.runs ? r.steps / r.runs : 0);
  if (r.runs) fmt::print("steps:    {}\n", step_profile(r));
  return good ? 0 : 1;
}

}  // namespace

int explore_main(int argc, char** argv) {
  ExploreArgs a;
  if (const int rc = parse_explore(argc, argv, &a); rc >= 0) return rc;
  if (!a.replay.empty()) return replay_one(a);
  ExploreResult r;
  if (const int rc = explore_many(a, &r)) return rc;
  return print_exploration(a, r);
}

}  // namespace guplab::tools
