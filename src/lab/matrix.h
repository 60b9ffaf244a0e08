// matrix.h - running scenarios over the design x policy matrix, and printing results
// (what `guplab run` shows).
//
// A cell is one scenario under one pin design and one writeback policy: its expected
// outcome (Scenario::expected()), the result of actually running it, and whether they
// agree. The text form is one table per scenario (designs down, policies across, a
// verdict per row) followed by each cell's reason; the JSON form lists every cell with
// its scenario, design, policy, outcome, expected, reason and findings.
//
// Threading: run_matrix() runs cells one after another on the calling thread (each on
// its own Machine); the formatters are pure.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "lab/scenario.h"

namespace guplab {

struct MatrixCell {
  const Scenario* scenario = nullptr;
  PinDesign design = PinDesign::get;
  WritebackPolicy policy = WritebackPolicy::ignore;
  bool applies = true;   // false: the scenario does not run under this pair (not run)
  Outcome expected = Outcome::ok;
  ScenarioResult result;
  /**
   * matches() - did the run agree with the prediction? Unscripted, a predicted failure
   * is one some schedules reach, so a clean run of one schedule agrees too.
   */
  bool matches() const {
    return !applies || result.outcome == expected || (!result.params.scripted && result.outcome == Outcome::ok);
  }
};

/**
 * matrix_designs() / matrix_policies() - the axes: every design, every policy, built in
 * and registered (machine/registry.h; a registered one is predicted as the built-in one
 * it is registered like).
 */
std::vector<PinDesign> matrix_designs();
std::vector<WritebackPolicy> matrix_policies();

/**
 * run_matrix() - run every scenario of @scenarios under every design and policy of the
 * axes, with @base's seed, backend and tracing. @progress, if set, is called after
 * each cell (for a progress line).
 */
std::vector<MatrixCell> run_matrix(const std::vector<const Scenario*>& scenarios, const ScenarioParams& base,
                                   const std::function<void(const MatrixCell&)>& progress = {});
/** run_cell() - one cell. */
MatrixCell run_cell(const Scenario& s, PinDesign d, WritebackPolicy p, const ScenarioParams& base);

/** How much format_matrix() says besides the tables. */
enum class MatrixDetail : uint8_t { every_cell, one_per_outcome };
/**
 * format_matrix() - the text tables (a row per design, a verdict per row), then the
 * oracles' reason for every cell, or one example per outcome of each scenario.
 */
std::string format_matrix(const std::vector<MatrixCell>& cells, MatrixDetail detail = MatrixDetail::every_cell);
/** format_result() - one run in text: outcome, reason, findings, and the oops report or events. */
std::string format_result(const ScenarioResult& r, Outcome expected);

/** cell_json() / result_json() - one cell / one run as JSON. */
nlohmann::json cell_json(const MatrixCell& c);
nlohmann::json result_json(const ScenarioResult& r, Outcome expected);

}  // namespace guplab
