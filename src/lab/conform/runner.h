// runner.h - runs the conformance catalogue on a side and reports: kselftest-style TAP,
// JSON, and the side-by-side table with each design's agreement with the host.
//
// A host case runs in a forked child (its own process group) that sends its outcome
// back over a pipe; a crash (a signal), an exit without an outcome or a hang past the
// timeout is a failure with that reason, and the whole group is killed afterwards. A
// model case runs on a fresh Machine (lab/conform/model_sys.h) on the calling thread;
// whatever the machine itself reports at the end (oops, WARN, leaked pins or pages)
// makes the case fail.
//
// Threading: call from one thread; the calling thread must not be a model task.
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "lab/conform/cases.h"
#include "lab/conform/model_sys.h"

namespace guplab::conform {

/** SideSpec - the host (no model) or a model side. */
struct SideSpec {
  std::optional<ModelSide> model;  // nullopt: the host
  std::string name() const { return model ? side_name(*model) : "host"; }
};

/** SideRun - one side's outcome for each selected case (same order as the cases). */
struct SideRun {
  std::string side;
  std::vector<Outcome> outcomes;
};

/** run_case() - one case on one side. @timeout_s bounds a host case. */
Outcome run_case(const Case& c, const SideSpec& side, int timeout_s = 30);

/** run_side() - @cases on @side; @progress (may be null) gets a line per case. */
SideRun run_side(const std::vector<const Case*>& cases, const SideSpec& side, FILE* progress);

/** select_cases() - the catalogue's cases whose names match the ECMAScript regex @filter (all if empty). */
std::vector<const Case*> select_cases(const std::string& filter);

/** Agreement - how a side compares with the host over the cases both ran. */
struct Agreement {
  int both = 0;   // cases neither side skipped
  int agree = 0;  // of those, same result
  std::vector<size_t> differ;  // indices of the cases that differ
};
Agreement compare(const SideRun& host, const SideRun& other);

/** print_tap() - kselftest's format: "ok N name", "not ok N name", "# SKIP reason", totals. */
void print_tap(FILE* out, const std::vector<const Case*>& cases, const SideRun& run);
/** to_json() - {"side", "kernel" (host only), "cases": [{"name", "result", "reason"}]}. */
std::string to_json(const std::vector<const Case*>& cases, const SideRun& run);
/**
 * print_table() - case, host, one column per model side; then per model side "design D
 * agrees with the host on N of M cases run on both" and each disagreement with what it shows.
 */
void print_table(FILE* out, const std::vector<const Case*>& cases, const std::vector<SideRun>& runs);

}  // namespace guplab::conform
