// report_html.h - the page `guplab report` writes: one self-contained HTML document (inline
// CSS, inline SVG and a few lines of inline JS; nothing fetched from the network) built
// from the JSON that guplab's commands already print:
//   - a matrix (`guplab run --all --format json`): a grid per scenario, designs down and
//     policies across, each cell coloured by its outcome, marked where the outcome differs
//     from the scenario's prediction, with the oracle's reason and findings on hover (the
//     cell's title attribute);
//   - explorations (`guplab explore ... --format json`, or `guplab merge --format json`):
//     an SVG bar histogram of outcomes each;
//   - gup_test figures (`guplab gup_test ... --json`): pin cost per design (get and put,
//     ns per page, and the baselines when present) as an SVG bar chart;
//   - fio figures (`guplab fio --output-format=json`): a table of each job's bandwidth
//     and IOPS per design, with the pin balance.
// Every string that comes from an input is HTML-escaped before it is written.
//
// Threading: pure functions; no shared state.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "lab/result.h"

namespace guplab {

/** One input of the report: the file it came from (for messages and captions) and its JSON. */
struct ReportInput {
  std::string file;
  nlohmann::json json;
};

/** Everything a report shows; any part may be empty (its section then says so). */
struct ReportInputs {
  std::vector<ReportInput> matrices;      // guplab run --all --format json
  std::vector<ReportInput> explorations;  // guplab explore/merge --format json
  std::vector<ReportInput> gup_tests;     // guplab gup_test --json
  std::vector<ReportInput> fios;          // guplab fio --output-format=json
};

/**
 * check_matrix_json() / check_explore_json() / check_gup_test_json() / check_fio_json() -
 * is @in what its kind of input claims to be? true when it is; otherwise an Error whose
 * message names @in.file, the field at fault and the command whose output was expected.
 */
Result<bool> check_matrix_json(const ReportInput& in);
Result<bool> check_explore_json(const ReportInput& in);
Result<bool> check_gup_test_json(const ReportInput& in);
Result<bool> check_fio_json(const ReportInput& in);

/** html_escape() - @s with & < > " ' replaced by entities (safe in text and in attributes). */
std::string html_escape(const std::string& s);

/**
 * render_report_html() - the whole page for @in.
 * REQUIRES: every input passed its check_*_json().
 */
std::string render_report_html(const ReportInputs& in);

}  // namespace guplab
