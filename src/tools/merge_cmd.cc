// merge_cmd.cc - `guplab merge`: shards of one exploration into one result.
#include "tools/merge_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tools/read_input.h"
#include "tools/strict_number.h"
#include "tools/usage_exit.h"

namespace guplab::tools {

namespace {

// The fields that say which exploration a shard belongs to.
constexpr const char* kIdentity[] = {"scenario", "scripted", "design", "policy", "strategy",
                                     "base_seed", "seeds",    "buggify", "expected"};

constexpr uint64_t kMaxSeeds = 1'000'000'000;  // explore --seeds allows no more

struct Shard {
  std::string file;
  nlohmann::json j;
  uint64_t k = 0, n = 0;
};

// Read and check one input; an error message, or "" when it is a shard whose fields
// have the types explore writes and whose counts are consistent (what the merge reads
// can then not throw, and its sums cannot wrap).
std::string load(const std::string& file, Shard* out) {
  std::string text;
  if (std::string err = read_input(file, &text); !err.empty()) return err;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fmt::format("{}: not a JSON object (guplab explore --format json)", file);
  for (const char* f : kIdentity)
    if (!j.contains(f)) return fmt::format("{}: no \"{}\": not the output of guplab explore --format json", file, f);
  for (const char* f : {"scenario", "design", "policy", "strategy"})
    if (!j[f].is_string()) return fmt::format("{}: \"{}\" is not a string", file, f);
  if (!j["scripted"].is_boolean()) return fmt::format("{}: \"scripted\" is not true or false", file);
  if (!j["expected"].is_string() && !j["expected"].is_null())
    return fmt::format("{}: \"expected\" is not an outcome name", file);
  if (!j["seeds"].is_number_unsigned() || j["seeds"].get<uint64_t>() == 0 || j["seeds"].get<uint64_t>() > kMaxSeeds)
    return fmt::format("{}: \"seeds\" is not a count from 1 to {} (explore's --seeds)", file, kMaxSeeds);
  const uint64_t seeds = j["seeds"].get<uint64_t>();
  for (const char* f : {"runs", "failed", "explained_by_faults"})
    if (!j.contains(f) || !j[f].is_number_unsigned() || j[f].get<uint64_t>() > seeds)
      return fmt::format("{}: \"{}\" missing or not a count of at most \"seeds\" ({})", file, f, seeds);
  if (j["failed"].get<uint64_t>() > j["runs"].get<uint64_t>() ||
      j["explained_by_faults"].get<uint64_t>() > j["failed"].get<uint64_t>())
    return fmt::format("{}: counts do not add up: runs {} >= failed {} >= explained_by_faults {} must hold", file,
                       j["runs"].dump(), j["failed"].dump(), j["explained_by_faults"].dump());
  if (!j.contains("outcomes") || !j["outcomes"].is_object()) return fmt::format("{}: no \"outcomes\"", file);
  for (auto it = j["outcomes"].begin(); it != j["outcomes"].end(); ++it)
    if (!it.value().is_number_unsigned() || it.value().get<uint64_t>() > j["runs"].get<uint64_t>())
      return fmt::format("{}: outcome \"{}\" is not a count of at most \"runs\"", file, it.key());
  if (j.contains("first_failure")) {
    const nlohmann::json& ff = j["first_failure"];
    if (!ff.is_object() || !ff.contains("run") || !ff["run"].is_number_unsigned() || !ff.contains("outcome") ||
        !ff["outcome"].is_string() || !ff.contains("reason") || !ff["reason"].is_string() || !ff.contains("seed"))
      return fmt::format("{}: \"first_failure\" lacks a numeric \"run\", a \"seed\", or an \"outcome\" and "
                         "\"reason\" string", file);
  }
  const auto kn = j.contains("shard") && j["shard"].is_string() ? parse_shard(j["shard"].get<std::string>(), seeds)
                                                                 : std::nullopt;
  if (!kn) return fmt::format("{}: \"shard\" missing or not K/N with 1 <= K <= N <= \"seeds\" ({})", file, seeds);
  out->k = kn->first;
  out->n = kn->second;
  out->file = file;
  out->j = std::move(j);
  return "";
}

}  // namespace

int merge_main(int argc, char** argv) {
  CLI::App app{"merge the JSON outputs of an exploration's shards into one result", "guplab merge"};
  std::vector<std::string> files;
  std::string format = "text";
  bool check = false;
  app.add_option("files", files, "explore --format json outputs, one per shard (- for stdin)")->required();
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--check", check, "exit 0 when the outcomes are as the scenario predicts");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }

  std::vector<Shard> shards;
  for (const std::string& f : files) {
    Shard s;
    if (std::string err = load(f, &s); !err.empty()) {
      fmt::print(stderr, "guplab merge: {}\n", err);
      return 2;
    }
    shards.push_back(std::move(s));
  }
  const Shard& first = shards.front();
  std::set<uint64_t> seen;
  for (const Shard& s : shards) {
    for (const char* f : kIdentity)
      if (s.j[f] != first.j[f]) {
        fmt::print(stderr, "guplab merge: {}: \"{}\" is {}, but {} has {}: not the same exploration\n", s.file, f,
                   s.j[f].dump(), first.file, first.j[f].dump());
        return 2;
      }
    if (s.n != first.n) {
      fmt::print(stderr, "guplab merge: {}: shard {}/{}, but {} is of {} shards\n", s.file, s.k, s.n, first.file,
                 first.n);
      return 2;
    }
    if (!seen.insert(s.k).second) {
      fmt::print(stderr, "guplab merge: {}: shard {}/{} given twice\n", s.file, s.k, s.n);
      return 2;
    }
  }

  nlohmann::json out;
  for (const char* f : kIdentity) out[f] = first.j[f];
  uint64_t runs = 0, failed = 0, explained = 0, steps = 0;
  double seconds = 0;
  std::map<std::string, uint64_t> outcomes;
  std::optional<nlohmann::json> first_failure;
  for (const Shard& s : shards) {
    const uint64_t r = s.j["runs"].get<uint64_t>();
    runs += r;
    failed += s.j["failed"].get<uint64_t>();
    explained += s.j["explained_by_faults"].get<uint64_t>();
    if (s.j.contains("steps_per_schedule") && s.j["steps_per_schedule"].is_number_unsigned())
      steps += s.j["steps_per_schedule"].get<uint64_t>() * r;
    if (s.j.contains("seconds") && s.j["seconds"].is_number()) seconds += s.j["seconds"].get<double>();
    for (auto it = s.j["outcomes"].begin(); it != s.j["outcomes"].end(); ++it)
      outcomes[it.key()] += it.value().get<uint64_t>();
    if (s.j.contains("first_failure")) {
      const nlohmann::json& ff = s.j["first_failure"];
      if (!first_failure || ff["run"].get<uint64_t>() < (*first_failure)["run"].get<uint64_t>()) first_failure = ff;
    }
  }
  // The missing shards: how many, and the first kMaxListed of them (N may be large).
  constexpr size_t kMaxListed = 100;
  const uint64_t nr_missing = first.n - shards.size();
  std::vector<uint64_t> missing;
  for (uint64_t k = 1; k <= first.n && missing.size() < std::min<uint64_t>(nr_missing, kMaxListed); k++)
    if (!seen.count(k)) missing.push_back(k);
  if (runs > first.j["seeds"].get<uint64_t>()) {
    fmt::print(stderr, "guplab merge: the shards ran {} schedules, more than the exploration's {} seeds\n", runs,
               first.j["seeds"].dump());
    return 2;
  }

  out["shards"] = fmt::format("{} of {}", shards.size(), first.n);
  out["missing_shards"] = missing;
  out["nr_missing_shards"] = nr_missing;
  out["runs"] = runs;
  out["failed"] = failed;
  out["explained_by_faults"] = explained;
  for (const auto& [k, v] : outcomes) out["outcomes"][k] = v;
  if (first_failure) out["first_failure"] = *first_failure;
  out["cpu_seconds"] = seconds;
  out["steps_per_schedule"] = runs ? steps / runs : 0;

  const std::string expected = first.j["expected"].is_string() ? first.j["expected"].get<std::string>() : "ok";
  const uint64_t unexplained = failed - explained;
  bool predicted;
  if (expected == "ok") predicted = unexplained == 0;
  else predicted = outcomes.count(expected) && outcomes[expected] > 0;
  out["as_predicted"] = predicted;
  out["complete"] = nr_missing == 0;
  // An exploration with shards missing proves nothing either way: it is not a pass.
  const bool good = nr_missing == 0 && (check ? predicted : unexplained == 0);

  if (format == "json") {
    fmt::print("{}\n", out.dump(2));
    return good ? 0 : 1;
  }
  fmt::print("merge:    {} under design {}, policy {}{}: {} of {} shards\n", first.j["scenario"].get<std::string>(),
             first.j["design"].get<std::string>(), first.j["policy"].get<std::string>(),
             first.j["scripted"].get<bool>() ? " (scripted)" : "", shards.size(), first.n);
  if (nr_missing)
    fmt::print("missing:  {} shards: {}{}\n", nr_missing, fmt::join(missing, ", "), nr_missing > missing.size() ? ", ..." : "");
  fmt::print("runs:     {} of {} seeds, {} failed ({} explained by injected faults)\n", runs,
             first.j["seeds"].dump(), failed, explained);
  std::string hist;
  for (const auto& [k, v] : outcomes)
    if (v) hist += fmt::format("{}{} {}", hist.empty() ? "" : ", ", k, v);
  fmt::print("outcomes: {}\n", hist);
  if (first_failure)
    fmt::print("first:    run {} seed {} {}: {}\n", (*first_failure)["run"].dump(), (*first_failure)["seed"].dump(),
               (*first_failure)["outcome"].get<std::string>(), (*first_failure)["reason"].get<std::string>());
  fmt::print("verdict:  {} (expected {}){}\n", predicted ? "as predicted" : "NOT as predicted", expected,
             nr_missing ? fmt::format(" over {} of {} shards: incomplete", shards.size(), first.n) : "");
  return good ? 0 : 1;
}

}  // namespace guplab::tools
