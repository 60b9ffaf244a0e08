// matrix.cc - the design x policy matrix: running cells and printing them.
#include "lab/matrix.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "machine/registry.h"

namespace guplab {

std::vector<PinDesign> matrix_designs() { return all_pin_designs(); }

std::vector<WritebackPolicy> matrix_policies() { return all_writeback_policies(); }

MatrixCell run_cell(const Scenario& s, PinDesign d, WritebackPolicy p, const ScenarioParams& base) {
  MatrixCell c;
  c.scenario = &s;
  c.design = d;
  c.policy = p;
  // A registered design or policy is predicted as the built-in one it is registered like.
  const PinDesign pd = prediction_design(d);
  const WritebackPolicy pp = prediction_policy(p);
  c.applies = s.applies(pd, pp);
  ScenarioParams predicted_for = base;
  predicted_for.design = pd;
  predicted_for.policy = pp;
  c.expected = base.scripted ? s.expected_for(predicted_for) : s.expected_unscripted_for(predicted_for);
  ScenarioParams params = base;
  params.design = d;
  params.policy = p;
  c.result.params = base;
  if (!c.applies) return c;
  c.result = run_scenario(s, params);
  return c;
}

std::vector<MatrixCell> run_matrix(const std::vector<const Scenario*>& scenarios, const ScenarioParams& base,
                                   const std::function<void(const MatrixCell&)>& progress) {
  std::vector<MatrixCell> cells;
  for (const Scenario* s : scenarios)
    for (PinDesign d : matrix_designs())
      for (WritebackPolicy p : matrix_policies()) {
        cells.push_back(run_cell(*s, d, p, base));
        if (progress) progress(cells.back());
      }
  return cells;
}

namespace {

constexpr int kCol = 16;

std::string cell_text(const MatrixCell& c) {
  if (!c.applies) return "n/a";
  std::string got = to_string(c.result.outcome);
  return c.matches() ? got : got + "*";
}

}  // namespace

namespace {

// "fails under ignore (oops); safe under skip, wait, bounce, keep_dirty".
std::string row_summary(const std::vector<const MatrixCell*>& row) {
  std::map<Outcome, std::vector<std::string>> by;
  size_t n = 0;
  for (const MatrixCell* c : row) {
    if (!c->applies) continue;
    by[c->result.outcome].push_back(to_string(c->policy));
    n++;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::string out;
  for (const auto& [o, policies] : by) {
    if (o == Outcome::ok) continue;
    out += fmt::format("{}{} under {}", out.empty() ? "" : "; ", to_string(o),
                       policies.size() == n ? "every policy" : join(policies));
  }
  auto ok = by.find(Outcome::ok);
  if (ok != by.end())
    out += fmt::format("{}safe under {}", out.empty() ? "" : "; ", ok->second.size() == n ? "every policy" : join(ok->second));
  return out;
}

}  // namespace

std::string format_matrix(const std::vector<MatrixCell>& cells, MatrixDetail detail) {
  std::string out;
  size_t mismatches = 0, ran = 0;
  for (size_t i = 0; i < cells.size();) {
    const Scenario* s = cells[i].scenario;
    size_t end = i;
    while (end < cells.size() && cells[end].scenario == s) end++;
    out += fmt::format("{} - {}\n", s->name(), s->description());
    out += fmt::format("  {:<{}}", "design", kCol);
    for (WritebackPolicy p : matrix_policies()) out += fmt::format("{:<{}}", to_string(p), kCol);
    out += "verdict\n";
    for (size_t r = i; r < end;) {
      const PinDesign d = cells[r].design;
      std::string differs;
      std::vector<const MatrixCell*> row;
      out += fmt::format("  {:<{}}", to_string(d), kCol);
      for (; r < end && cells[r].design == d; r++) {
        const MatrixCell& c = cells[r];
        row.push_back(&c);
        out += fmt::format("{:<{}}", cell_text(c), kCol);
        if (!c.applies) continue;
        ran++;
        if (!c.matches()) {
          mismatches++;
          differs += fmt::format("{}{} expected {}, got {}", differs.empty() ? "" : "; ", to_string(c.policy),
                                 to_string(c.expected), to_string(c.result.outcome));
        }
      }
      out += differs.empty() ? row_summary(row) + ", as predicted\n" : fmt::format("DIFFERS: {}\n", differs);
    }
    if (detail == MatrixDetail::every_cell) {
      out += "  reasons:\n";
      for (size_t r = i; r < end; r++) {
        const MatrixCell& c = cells[r];
        if (!c.applies) continue;
        out += fmt::format("    {:<26} {:<15} {}\n", fmt::format("{}/{}", to_string(c.design), to_string(c.policy)),
                           cell_text(c), c.result.reason);
      }
    } else {
      // One example of each outcome, with the oracle's words.
      std::set<Outcome> shown;
      for (size_t r = i; r < end; r++) {
        const MatrixCell& c = cells[r];
        if (!c.applies || !shown.insert(c.result.outcome).second) continue;
        out += fmt::format("  {:<15} e.g. {}/{}: {}\n", std::string(to_string(c.result.outcome)) + ":",
                           to_string(c.design), to_string(c.policy), c.result.reason);
      }
    }
    out += "\n";
    i = end;
  }
  out += mismatches ? fmt::format("{} of {} cells differ from expected (marked *)\n", mismatches, ran)
                    : fmt::format("all {} cells as expected\n", ran);
  return out;
}

std::string format_result(const ScenarioResult& r, Outcome expected) {
  std::string out;
  out += fmt::format("scenario: {} (design {}, policy {}, seed {}, backend {})\n", r.scenario, to_string(r.params.design),
                     to_string(r.params.policy), r.params.seed, to_string(r.params.backend));
  // An unscripted run that did not reach the predicted failure is accepted (the
  // scheduler may not have found that interleaving this time), and says so.
  const char* verdict = r.outcome == expected                              ? ""
                        : (!r.params.scripted && r.outcome == Outcome::ok) ? "; this schedule did not reach it"
                                                                           : ": DIFFERS";
  out += fmt::format("outcome:  {} (expected {}{})\n", to_string(r.outcome), to_string(expected), verdict);
  out += fmt::format("reason:   {}\n", r.reason);
  out += "findings:\n";
  for (const auto& f : r.findings) out += fmt::format("  {}\n", f);
  out += fmt::format("pins:     nr_foll_pin_acquired {} nr_foll_pin_released {}\n", r.pins_acquired, r.pins_released);
  if (!r.oops_report.empty()) {
    out += "\n" + r.oops_report;
  } else if (!r.deadlock_report.empty()) {
    out += "\n" + r.deadlock_report;
    if (!r.deadlock_report.empty() && r.deadlock_report.back() != '\n') out += "\n";
  }
  if (r.oops_report.empty()) {
    out += "events (oldest first):\n";
    for (const auto& e : r.events) out += fmt::format("  {}\n", e);
  }
  return out;
}

nlohmann::json result_json(const ScenarioResult& r, Outcome expected) {
  nlohmann::json j;
  j["scenario"] = r.scenario;
  j["design"] = to_string(r.params.design);
  j["policy"] = to_string(r.params.policy);
  j["seed"] = r.params.seed;
  j["backend"] = to_string(r.params.backend);
  j["outcome"] = to_string(r.outcome);
  j["expected"] = to_string(expected);
  // As MatrixCell::matches(): an unscripted run that did not reach a predicted failure
  // is accepted (the scheduler may not have found it this time).
  j["matches"] = r.outcome == expected || (!r.params.scripted && r.outcome == Outcome::ok);
  j["scripted"] = r.params.scripted;
  j["reason"] = r.reason;
  j["findings"] = r.findings;
  j["events"] = r.events;
  j["pins_acquired"] = r.pins_acquired;
  j["pins_released"] = r.pins_released;
  if (!r.oops_report.empty()) j["oops_report"] = r.oops_report;
  if (!r.deadlock_report.empty()) j["deadlock_report"] = r.deadlock_report;
  return j;
}

nlohmann::json cell_json(const MatrixCell& c) {
  nlohmann::json j;
  if (!c.applies) {
    j["scenario"] = c.scenario->name();
    j["design"] = to_string(c.design);
    j["policy"] = to_string(c.policy);
    j["applies"] = false;
    return j;
  }
  j = result_json(c.result, c.expected);
  j["applies"] = true;
  j.erase("events");  // the matrix keeps cells short; `guplab run SCENARIO` shows them
  return j;
}

}  // namespace guplab
