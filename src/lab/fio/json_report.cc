// json_report.cc - fio 3.33's JSON output.
#include "lab/fio/json_report.h"

#include <algorithm>
#include <ctime>

#include "lab/fio/units.h"

namespace guplab::fio {
namespace {

using json = nlohmann::ordered_json;

/** fio lists options that have a value, a job file's filename last, the command line's after. */
json options_object(std::vector<Option> opts) {
  const auto rank = [](const Option& o) { return o.line == 0 ? 2 : o.key == "filename" ? 1 : 0; };
  std::stable_sort(opts.begin(), opts.end(), [&](const Option& a, const Option& b) { return rank(a) < rank(b); });
  json obj = json::object();
  for (const Option& o : opts)
    if (!o.value.empty()) obj[o.key] = o.value;
  return obj;
}

json lat_object(const RunningStat& s, const LatencyHistogram* hist, std::span<const double> list = kDefaultPercentiles) {
  json o;
  o["min"] = s.min();
  o["max"] = s.max();
  o["mean"] = s.mean();
  o["stddev"] = s.stddev();
  o["N"] = s.samples();
  if (hist && s.samples()) {
    const std::vector<uint64_t> vals = hist->percentiles(list);
    json p = json::object();
    for (size_t i = 0; i < vals.size(); i++) p[strprintf("%f", list[i])] = vals[i];
    o["percentile"] = std::move(p);
  }
  return o;
}

/** fio's convert_agg_kbytes_percent(), as in the text report. */
double percent_of_group(uint64_t agg_bytes_per_sec, double mean_kib) {
  if (agg_bytes_per_sec <= 1024) return 100.0;
  const double p = static_cast<double>(static_cast<int64_t>(mean_kib)) * 100.0 /
                   (static_cast<double>(agg_bytes_per_sec) / 1024.0);
  return std::min(p, 100.0);
}

json ddir_object(const DirStats& s, uint64_t group_agg, std::span<const double> pct) {
  json o;
  uint64_t bw_bytes = 0;
  double iops = 0.0;
  if (s.runtime_ms) {
    bw_bytes = 1000 * s.io_bytes / s.runtime_ms;
    iops = 1000.0 * static_cast<double>(s.total_ios) / static_cast<double>(s.runtime_ms);
  }
  o["io_bytes"] = s.io_bytes;
  o["io_kbytes"] = s.io_bytes >> 10;
  o["bw_bytes"] = bw_bytes;
  o["bw"] = bw_bytes / 1024;
  o["iops"] = iops;
  o["runtime"] = s.runtime_ms;
  o["total_ios"] = s.total_ios;
  o["short_ios"] = s.short_ios;
  o["drop_ios"] = s.drop_ios;
  o["slat_ns"] = lat_object(s.slat_ns, nullptr);
  o["clat_ns"] = lat_object(s.clat_ns, &s.clat_hist, pct);
  o["lat_ns"] = lat_object(s.lat_ns, nullptr);
  const bool bw = s.bw_kib.samples() > 0;
  o["bw_min"] = bw ? s.bw_kib.min() : 0;
  o["bw_max"] = bw ? s.bw_kib.max() : 0;
  o["bw_agg"] = bw ? percent_of_group(group_agg, s.bw_kib.mean()) : 0.0;
  o["bw_mean"] = bw ? s.bw_kib.mean() : 0.0;
  o["bw_dev"] = bw ? s.bw_kib.stddev() : 0.0;
  o["bw_samples"] = s.bw_kib.samples();
  const bool io = s.iops.samples() > 0;
  o["iops_min"] = io ? s.iops.min() : 0;
  o["iops_max"] = io ? s.iops.max() : 0;
  o["iops_mean"] = io ? s.iops.mean() : 0.0;
  o["iops_stddev"] = io ? s.iops.stddev() : 0.0;
  o["iops_samples"] = s.iops.samples();
  return o;
}

template <size_t N>
json distribution(const std::array<uint64_t, N>& map, uint64_t total, double floor,
                  const std::array<const char*, N>& keys) {
  json o;
  for (size_t i = 0; i < N; i++) {
    double pct = 0.0;
    if (total) {
      pct = static_cast<double>(map[i]) / static_cast<double>(total) * 100.0;
      if (pct < floor && map[i]) pct = floor;
    }
    o[keys[i]] = pct;
  }
  return o;
}

json job_object(const ReportedJob& rj, const GroupRun& g, uint64_t elapsed_sec) {
  const JobStats& js = rj.stats;
  json o;
  o["jobname"] = rj.first->name;
  o["groupid"] = js.groupid;
  o["error"] = js.error;
  o["eta"] = 0;
  o["elapsed"] = elapsed_sec;
  json opts = options_object(rj.last->options);
  if (!opts.empty()) o["job options"] = std::move(opts);
  const std::span<const double> pct =
      rj.last->percentile_list.empty() ? std::span<const double>(kDefaultPercentiles) : rj.last->percentile_list;
  for (Ddir d : kAllDdirs) o[ddir_name(d)] = ddir_object(js.at(d), g.agg_bw[static_cast<size_t>(d)], pct);
  json sync;
  sync["total_ios"] = js.sync_ios;
  sync["lat_ns"] = lat_object(js.sync_lat_ns, &js.sync_hist, pct);
  o["sync"] = std::move(sync);

  double usr = 0, sys = 0;
  if (js.total_run_time_ms) {
    usr = static_cast<double>(js.cpu.usr_ms) * 100 / static_cast<double>(js.total_run_time_ms);
    sys = static_cast<double>(js.cpu.sys_ms) * 100 / static_cast<double>(js.total_run_time_ms);
  }
  o["job_runtime"] = js.total_run_time_ms;
  o["usr_cpu"] = usr;
  o["sys_cpu"] = sys;
  o["ctx"] = js.cpu.ctx;
  o["majf"] = js.cpu.majf;
  o["minf"] = js.cpu.minf;
  static constexpr std::array<const char*, kDepthBuckets> kDepth = {"1", "2", "4", "8", "16", "32", ">=64"};
  static constexpr std::array<const char*, kDepthBuckets> kBatch = {"0", "4", "8", "16", "32", "64", ">=64"};
  const uint64_t total = js.total_ios();
  o["iodepth_level"] = distribution(js.depth_map, total, 0.1, kDepth);
  o["iodepth_submit"] = distribution(js.submit_map, js.total_submit, 0.1, kBatch);
  o["iodepth_complete"] = distribution(js.complete_map, js.total_complete, 0.1, kBatch);
  static constexpr std::array<const char*, 10> kRanges = {"2", "4", "10", "20", "50", "100", "250", "500", "750", "1000"};
  static constexpr std::array<const char*, 12> kRangesMs = {"2",   "4",   "10",  "20",   "50",   "100",
                                                            "250", "500", "750", "1000", "2000", ">=2000"};
  o["latency_ns"] = distribution(js.lat_ns_map, total, 0.01, kRanges);
  o["latency_us"] = distribution(js.lat_us_map, total, 0.01, kRanges);
  o["latency_ms"] = distribution(js.lat_ms_map, total, 0.01, kRangesMs);
  o["latency_depth"] = rj.last->iodepth;
  o["latency_target"] = 0;
  o["latency_percentile"] = 100.0;
  o["latency_window"] = 0;
  return o;
}

void append_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += strprintf("\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
        else
          out += c;
    }
  }
  out += '"';
}

void dump(const json& j, int level, std::string& out) {
  const auto indent = [&](int l) { out.append(static_cast<size_t>(2 * l), ' '); };
  switch (j.type()) {
    case json::value_t::object: {
      out += "{\n";
      bool first = true;
      for (const auto& [key, value] : j.items()) {
        if (!first) out += ",\n";
        first = false;
        indent(level + 1);
        append_string(out, key);
        out += " : ";
        dump(value, level + 1, out);
      }
      out += "\n";
      indent(level);
      out += "}";
      break;
    }
    case json::value_t::array: {
      out += "[\n";
      bool first = true;
      for (const json& value : j) {
        if (!first) out += ",\n";
        first = false;
        indent(level + 1);
        dump(value, level + 1, out);
      }
      out += "\n";
      indent(level);
      out += "]";
      break;
    }
    case json::value_t::string: append_string(out, j.get<std::string>()); break;
    case json::value_t::number_integer: out += std::to_string(j.get<int64_t>()); break;
    case json::value_t::number_unsigned: out += std::to_string(j.get<uint64_t>()); break;
    case json::value_t::number_float: out += strprintf("%f", j.get<double>()); break;
    case json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; break;
    default: out += "null"; break;
  }
}

}  // namespace

json to_json(const RunResult& r) {
  const Summary sum = summarize(r);
  json root;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.end_time.time_since_epoch()).count();
  const std::time_t secs = std::chrono::system_clock::to_time_t(r.end_time);
  char buf[64] = {};
  std::string when = ctime_r(&secs, buf) ? buf : "";
  if (!when.empty() && when.back() == '\n') when.pop_back();
  root["fio version"] = kVersionString;
  root["timestamp"] = static_cast<int64_t>(secs);
  root["timestamp_ms"] = static_cast<int64_t>(ms);
  root["time"] = when;
  json globals = options_object(r.global_options);
  if (!globals.empty()) root["global options"] = std::move(globals);
  json jobs = json::array();
  for (const ReportedJob& rj : sum.jobs) jobs.push_back(job_object(rj, sum.groups[rj.stats.groupid], r.elapsed_sec));
  root["jobs"] = std::move(jobs);
  return root;
}

std::string dump_fio_style(const json& j) {
  std::string out;
  dump(j, 0, out);
  return out;
}

std::string format_json(const RunResult& r) { return dump_fio_style(to_json(r)) + "\n"; }

}  // namespace guplab::fio
