// fio_golden.h - the golden runs of real fio 3.33 (tests/lab/data/fio-golden, made by its
// regenerate.sh), loaded back as a RunResult: every I/O's latencies from fio's per-I/O logs,
// the interval, CPU and depth numbers from fio's JSON. Rendering that RunResult must give
// fio's own text and JSON for the run.
// Threading: test helper, one thread.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "lab/fio/job_file.h"
#include "lab/fio/report.h"

namespace guplab::fio::golden {

struct GoldenRun {
  RunResult run;
  std::string fio_preamble;  // what fio printed before running (less "Laying out IO file")
  std::string fio_text;      // fio's results, from the blank line to the last "Run status" line
  nlohmann::ordered_json fio_json;
};

inline std::filesystem::path data_dir() {
  return std::filesystem::path(__FILE__).parent_path() / "data" / "fio-golden";
}

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  EXPECT_TRUE(in.good()) << p;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/** Every "<nsec> <ddir>" line of a cut fio latency log. */
inline std::vector<std::pair<uint64_t, int>> read_log(const std::filesystem::path& p) {
  std::vector<std::pair<uint64_t, int>> out;
  std::ifstream in(p);
  uint64_t v;
  int d;
  while (in >> v >> d) out.emplace_back(v, d);
  return out;
}

/** load() - golden run @name, whose job file equivalent (what guplab parses) is @job_text. */
inline GoldenRun load(const std::string& name, const std::string& job_text) {
  GoldenRun g;
  const std::string out = read_all(data_dir() / (name + ".out"));
  const size_t json_begin = out.find("\n{\n") + 1;
  const size_t json_end = out.find("\n}\n", json_begin) + 3;
  g.fio_json = nlohmann::ordered_json::parse(out.substr(json_begin, json_end - json_begin));
  g.fio_text = out.substr(json_end, out.find("\nDisk stats") - json_end);
  g.fio_preamble = std::regex_replace(out.substr(0, json_begin), std::regex(".*Laying out IO file.*\n"), "");

  auto file = parse_job_text(job_text, name + ".fio");
  EXPECT_TRUE(file.ok());
  auto jobs = resolve_jobs(file.value());
  EXPECT_TRUE(jobs.ok());
  g.run.global_options = file->global_options;
  g.run.jobs = jobs.value();

  const auto& fj = g.fio_json["jobs"][0];
  JobStats js;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(g.fio_text, m, std::regex(": pid=(\\d+):")));
  js.pid = std::stoi(m[1]);
  const auto clat = read_log(data_dir() / (name + ".clat"));
  const auto lat = read_log(data_dir() / (name + ".lat"));
  EXPECT_EQ(clat.size(), lat.size());
  for (size_t i = 0; i < clat.size() && i < lat.size(); i++)
    js.add_io(static_cast<Ddir>(clat[i].second), g.run.jobs[0].bs, clat[i].first, lat[i].first);
  // fio logs slat at issue, so in another order than completions: add it in its own order.
  for (const auto& [v, d] : read_log(data_dir() / (name + ".slat"))) js.dir[d].slat_ns.add(v);

  for (Ddir d : kAllDdirs) {
    const auto& o = fj[ddir_name(d)];
    DirStats& s = js.at(d);
    EXPECT_EQ(s.io_bytes, o["io_bytes"].get<uint64_t>());
    s.runtime_ms = o["runtime"];
    s.bw_kib = RunningStat::from_summary(o["bw_samples"], o["bw_min"], o["bw_max"], o["bw_mean"], o["bw_dev"]);
    s.iops = RunningStat::from_summary(o["iops_samples"], o["iops_min"], o["iops_max"], o["iops_mean"],
                                       o["iops_stddev"]);
  }
  js.total_run_time_ms = fj["job_runtime"];
  const double runtime = static_cast<double>(js.total_run_time_ms);
  js.cpu.usr_ms = static_cast<uint64_t>(std::llround(fj["usr_cpu"].get<double>() * runtime / 100));
  js.cpu.sys_ms = static_cast<uint64_t>(std::llround(fj["sys_cpu"].get<double>() * runtime / 100));
  js.cpu.ctx = fj["ctx"];
  js.cpu.majf = fj["majf"];
  js.cpu.minf = fj["minf"];
  // The distributions are percentages in fio's JSON: back to counts that print the same.
  const auto counts = [](const nlohmann::ordered_json& pct, uint64_t total, std::array<uint64_t, 7>& map) {
    size_t i = 0;
    for (const auto& [key, v] : pct.items()) {
      const double p = v.get<double>();
      map[i] = static_cast<uint64_t>(std::llround(p * static_cast<double>(total) / 100.0));
      if (p > 0 && map[i] == 0) map[i] = 1;
      i++;
    }
  };
  counts(fj["iodepth_level"], js.total_ios(), js.depth_map);
  js.total_submit = js.total_complete = 100000;
  counts(fj["iodepth_submit"], js.total_submit, js.submit_map);
  counts(fj["iodepth_complete"], js.total_complete, js.complete_map);
  g.run.stats.push_back(js);

  const uint64_t ts_ms = g.fio_json["timestamp_ms"];
  g.run.end_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(ts_ms));
  g.run.elapsed_sec = fj["elapsed"];
  return g;
}

inline GoldenRun randrw() {
  return load("randrw",
              "[randrw]\nfilename=data\nsize=32m\nbs=4k\nrw=randrw\nrwmixread=70\ndirect=1\n"
              "ioengine=io_uring\niodepth=4\nruntime=2\ntime_based\n");
}

inline GoldenRun seqwrite() {
  return load("seqwrite",
              "[seqwrite]\nfilename=data\nsize=32m\nbs=64k\nrw=write\ndirect=1\nioengine=psync\n"
              "runtime=2\ntime_based\n");
}

/** Dates differ by time zone: compare the job lines without them. */
inline std::string without_dates(const std::string& s) {
  return std::regex_replace(s, std::regex("(pid=\\d+: ).*"), "$1<date>");
}

}  // namespace guplab::fio::golden
