// json_report.h - fio's --output-format=json for a guplab fio run: the same objects, keys,
// key order and number kinds as fio 3.33 ("fio version", "timestamp", "time", "global
// options", "jobs"[] with "job options", "read"/"write"/"trim"/"sync", latencies in ns with
// clat percentiles keyed "99.000000", bw_*/iops_*, cpu, iodepth_* and latency_* maps), and a
// printer that lays it out as fio's own JSON printer does ("key" : value, two-space indent,
// floats as %f). "fio version" is guplab's (report.h kVersionString); no "disk_util".
//
// Threading: stateless functions over values; safe from any thread.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "lab/fio/report.h"

namespace guplab::fio {

/** to_json() - the report as JSON; integers are JSON integers, fio's floats are doubles. */
nlohmann::ordered_json to_json(const RunResult& r);

/** format_json() - to_json() printed as fio prints it, with a final newline. */
std::string format_json(const RunResult& r);

/** dump_fio_style() - print any JSON value in fio's layout (floats as "%f"). */
std::string dump_fio_style(const nlohmann::ordered_json& j);

}  // namespace guplab::fio
