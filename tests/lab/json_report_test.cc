// json_report_test.cc - fio's JSON output: the golden runs of real fio 3.33 reproduced, the
// printer's layout, and every field the runner's users read.
#include "lab/fio/json_report.h"

#include <gtest/gtest.h>

#include <regex>

#include "lab/fio_golden.h"

namespace guplab::fio {
namespace {

using json = nlohmann::ordered_json;

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

void expect_same_lines(const std::string& got, const std::string& want) {
  const auto g = lines(got), w = lines(want);
  for (size_t i = 0; i < std::max(g.size(), w.size()); i++)
    EXPECT_EQ(i < g.size() ? g[i] : "<missing>", i < w.size() ? w[i] : "<extra>") << "line " << i + 1;
}

/** What can differ from fio by design: version, local-time string, options, disk stats. */
json comparable(json j) {
  j.erase("fio version");
  j.erase("time");
  j.erase("disk_util");
  for (json& job : j["jobs"]) job.erase("job options");
  return j;
}

TEST(FioJson, PrinterLaysOutLikeFio) {
  for (const char* name : {"randrw", "seqwrite"}) {
    const std::string out = golden::read_all(golden::data_dir() / (std::string(name) + ".out"));
    const size_t begin = out.find("\n{\n") + 1;
    const size_t end = out.find("\n}\n", begin) + 3;
    const std::string fio_json = out.substr(begin, end - begin);
    expect_same_lines(dump_fio_style(json::parse(fio_json)) + "\n", fio_json);
  }
}

TEST(FioJson, GoldenRandrwMatchesFio) {
  const auto g = golden::randrw();
  expect_same_lines(dump_fio_style(comparable(to_json(g.run))), dump_fio_style(comparable(g.fio_json)));
}

TEST(FioJson, GoldenSeqwriteMatchesFio) {
  const auto g = golden::seqwrite();
  expect_same_lines(dump_fio_style(comparable(to_json(g.run))), dump_fio_style(comparable(g.fio_json)));
}

TEST(FioJson, ParsesAndHasEveryField) {
  const auto g = golden::randrw();
  const json j = json::parse(format_json(g.run));
  EXPECT_EQ(j["fio version"], kVersionString);
  EXPECT_EQ(j["timestamp"], g.fio_json["timestamp"]);
  EXPECT_EQ(j["timestamp_ms"], g.fio_json["timestamp_ms"]);
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                               std::regex(R"([A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4})")))
      << j["time"];
  ASSERT_EQ(j["jobs"].size(), 1u);
  const json& job = j["jobs"][0];
  for (const char* k : {"jobname", "groupid", "error", "eta", "elapsed", "job options", "read", "write", "trim", "sync",
                        "job_runtime", "usr_cpu", "sys_cpu", "ctx", "majf", "minf", "iodepth_level", "iodepth_submit",
                        "iodepth_complete", "latency_ns", "latency_us", "latency_ms", "latency_depth",
                        "latency_target", "latency_percentile", "latency_window"})
    EXPECT_TRUE(job.contains(k)) << k;
  for (const char* d : {"read", "write", "trim"}) {
    for (const char* k : {"io_bytes", "io_kbytes", "bw_bytes", "bw", "iops", "runtime", "total_ios", "short_ios",
                          "drop_ios", "slat_ns", "clat_ns", "lat_ns", "bw_min", "bw_max", "bw_agg", "bw_mean",
                          "bw_dev", "bw_samples", "iops_min", "iops_max", "iops_mean", "iops_stddev", "iops_samples"})
      EXPECT_TRUE(job[d].contains(k)) << d << "." << k;
    for (const char* l : {"slat_ns", "clat_ns", "lat_ns"})
      for (const char* k : {"min", "max", "mean", "stddev", "N"}) EXPECT_TRUE(job[d][l].contains(k)) << d << l << k;
  }
  EXPECT_EQ(job["jobname"], "randrw");
  EXPECT_EQ(job["read"]["total_ios"], 1000);
  EXPECT_EQ(job["write"]["total_ios"], 400);
  EXPECT_EQ(job["read"]["io_kbytes"], 4000);
  const json& pct = job["read"]["clat_ns"]["percentile"];
  EXPECT_EQ(pct.size(), 17u);
  EXPECT_EQ(pct.begin().key(), "1.000000");
  EXPECT_TRUE(pct.contains("99.000000"));
  EXPECT_TRUE(pct.contains("99.990000"));
  EXPECT_EQ(pct["99.000000"], g.fio_json["jobs"][0]["read"]["clat_ns"]["percentile"]["99.000000"]);
  EXPECT_FALSE(job["trim"]["clat_ns"].contains("percentile"));  // no samples, no percentiles
  EXPECT_EQ(job["iodepth_level"].size(), 7u);
  EXPECT_TRUE(job["iodepth_level"].contains(">=64"));
  EXPECT_EQ(job["latency_ms"].size(), 12u);
  EXPECT_TRUE(job["latency_ms"].contains(">=2000"));
  EXPECT_TRUE(job["usr_cpu"].is_number_float());
  EXPECT_TRUE(job["read"]["iops"].is_number_float());
  EXPECT_TRUE(job["read"]["bw"].is_number_integer());
}

TEST(FioJson, OptionsAsFioListsThem) {
  auto f = parse_job_text(
      "[global]\nfilename=/tmp/f\nsize=16m\ntime_based\nruntime=1\n[seqr]\nrw=read\ngroup_reporting\nnumjobs=2\n"
      "[w]\nfilename=/tmp/g\nrw=write\nblocksize=8k\n",
      "o.fio");
  ASSERT_TRUE(f.ok());
  auto with = with_overrides(f.value(), std::vector<std::string>{"--iodepth=4"});
  ASSERT_TRUE(with.ok());
  auto jobs = resolve_jobs(with.value());
  ASSERT_TRUE(jobs.ok());
  RunResult r;
  r.global_options = with->global_options;
  r.jobs = jobs.value();
  r.stats.resize(r.jobs.size());
  const json j = to_json(r);
  // Bare booleans are not listed; a job file's filename comes last (fio 3.33 does both).
  EXPECT_EQ(j["global options"].dump(), R"({"size":"16m","runtime":"1","filename":"/tmp/f"})");
  ASSERT_EQ(j["jobs"].size(), 2u);  // seqr x2 merged by group_reporting
  EXPECT_EQ(j["jobs"][0]["job options"].dump(), R"({"rw":"read","numjobs":"2","iodepth":"4"})");
  EXPECT_EQ(j["jobs"][1]["job options"].dump(), R"({"rw":"write","bs":"8k","filename":"/tmp/g","iodepth":"4"})");
  // Jobs that did nothing are still listed, with zeros.
  EXPECT_EQ(j["jobs"][1]["write"]["io_bytes"], 0);
  EXPECT_EQ(j["jobs"][1]["write"]["iops"], 0.0);
  EXPECT_EQ(j["jobs"][1]["latency_depth"], 4);

  RunResult none;
  none.jobs = {JobSpec{}};
  none.jobs[0].name = "x";
  none.stats.resize(1);
  EXPECT_FALSE(to_json(none).contains("global options"));
  EXPECT_FALSE(to_json(none)["jobs"][0].contains("job options"));
}

TEST(FioJson, StringsAreEscaped) {
  json j;
  j["a\"b"] = std::string("line\nbreak\\ \x01");
  EXPECT_EQ(dump_fio_style(j), "{\n  \"a\\\"b\" : \"line\\nbreak\\\\ \\u0001\"\n}");
  EXPECT_EQ(json::parse(dump_fio_style(j))["a\"b"], "line\nbreak\\ \x01");
}

}  // namespace
}  // namespace guplab::fio
