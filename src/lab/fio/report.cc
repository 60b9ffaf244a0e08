// report.cc - fio 3.33's normal text output.
#include "lab/fio/report.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include "lab/fio/units.h"
#include "base/bug.h"

namespace guplab::fio {
namespace {

constexpr int kSigFigs = 4;  // fio's default sig_figs

/** ctime() of @t, with its trailing newline, as fio prints it after "pid=N: ". */
std::string ctime_line(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  char buf[64] = {};
  if (!ctime_r(&tt, buf)) return "\n";
  return buf;
}

/** fio's stat_calc_dist(): percentages of @total, a nonzero share shown as at least @floor. */
template <size_t N>
std::array<double, N> percentages(const std::array<uint64_t, N>& map, uint64_t total, double floor) {
  std::array<double, N> out{};
  if (!total) return out;
  for (size_t i = 0; i < N; i++) {
    out[i] = static_cast<double>(map[i]) / static_cast<double>(total) * 100.0;
    if (out[i] < floor && map[i]) out[i] = floor;
  }
  return out;
}

/** fio's show_lat(): the nonzero buckets, five to a line. */
template <size_t N>
std::string lat_distribution(const std::array<double, N>& pct, const std::array<const char*, N>& ranges,
                             const char* unit) {
  std::string out;
  int on_line = 0;
  for (size_t i = 0; i < N; i++) {
    if (pct[i] <= 0.0) continue;
    if (on_line == 0) {
      if (!out.empty()) out += "\n";
      out += strprintf("  lat (%s)   : ", unit);
    } else {
      out += ", ";
    }
    out += strprintf("%s%3.2f%%", ranges[i], pct[i]);
    if (++on_line == 5) on_line = 0;
  }
  if (!out.empty()) out += "\n";
  return out;
}

std::string depth_line(const char* label, const char* const* keys, const std::array<double, kDepthBuckets>& pct) {
  std::string out = label;
  for (size_t i = 0; i < kDepthBuckets; i++)
    out += strprintf("%s%s=%3.1f%%", i ? ", " : "", keys[i], pct[i]);
  return out + "\n";
}

/** fio's convert_agg_kbytes_percent(): a job's mean KiB/s as a share of the group's. */
double percent_of_group(uint64_t agg_bytes_per_sec, double mean_kib) {
  if (agg_bytes_per_sec <= 1024) return 100.0;
  // fio passes the mean as an int.
  const double p = static_cast<double>(static_cast<int64_t>(mean_kib)) * 100.0 /
                   (static_cast<double>(agg_bytes_per_sec) / 1024.0);
  return std::min(p, 100.0);
}

std::string ddir_block(const ReportedJob& rj, Ddir d, const GroupRun& g) {
  const DirStats& s = rj.stats.at(d);
  const size_t di = static_cast<size_t>(d);
  const uint64_t runt = s.runtime_ms;
  GUPLAB_CHECK(runt > 0);
  const uint64_t bw = 1000 * s.io_bytes / runt;
  const uint64_t iops = 1000 * s.total_ios / runt;
  std::string out = strprintf(
      "  %s: IOPS=%s, BW=%s (%s)(%s/%llumsec)%s\n", ddir_name(d),
      num2str(iops, kSigFigs, 1, false, Unit::none).c_str(),
      num2str(bw, kSigFigs, 1, true, Unit::byte_per_sec).c_str(),
      num2str(bw, kSigFigs, 1, false, Unit::byte_per_sec).c_str(),
      num2str(s.io_bytes, kSigFigs, 1, true, Unit::byte).c_str(), static_cast<unsigned long long>(runt),
      d == Ddir::write ? "; 0 zone resets" : "");
  out += format_lat_line("slat", s.slat_ns);
  out += format_lat_line("clat", s.clat_ns);
  out += format_lat_line(" lat", s.lat_ns);
  out += format_percentiles("clat", s.clat_hist,
                            rj.last->percentile_list.empty() ? std::span<const double>(kDefaultPercentiles)
                                                             : std::span<const double>(rj.last->percentile_list));

  if (s.bw_kib.samples()) {
    double min = static_cast<double>(s.bw_kib.min());
    double max = static_cast<double>(s.bw_kib.max());
    double mean = s.bw_kib.mean();
    double dev = s.bw_kib.stddev();
    const double per = percent_of_group(g.agg_bw[di], mean);
    const char* unit = "KiB";
    if (mean > 1024.0 * 1024.0) {
      min /= 1024.0;
      max /= 1024.0;
      mean /= 1024.0;
      dev /= 1024.0;
      unit = "MiB";
    }
    out += strprintf("   bw (%5s/s): min=%5llu, max=%5llu, per=%3.2f%%, avg=%5.02f, stdev=%5.02f, samples=%llu\n",
                     unit, static_cast<unsigned long long>(min), static_cast<unsigned long long>(max), per, mean,
                     dev, static_cast<unsigned long long>(s.bw_kib.samples()));
  }
  if (s.iops.samples()) {
    out += strprintf("   iops        : min=%5llu, max=%5llu, avg=%5.02f, stdev=%5.02f, samples=%llu\n",
                     static_cast<unsigned long long>(s.iops.min()), static_cast<unsigned long long>(s.iops.max()),
                     s.iops.mean(), s.iops.stddev(), static_cast<unsigned long long>(s.iops.samples()));
  }
  return out;
}

std::string job_block(const ReportedJob& rj, const GroupRun& g, std::chrono::system_clock::time_point now) {
  const JobStats& js = rj.stats;
  uint64_t bytes = 0;
  for (const DirStats& s : js.dir) bytes += s.io_bytes;
  if (!bytes && !js.total_ios()) return {};

  std::string out;
  if (!js.error) {
    out += strprintf("%s: (groupid=%u, jobs=%u): err=%2d: pid=%d: %s", rj.first->name.c_str(), js.groupid, rj.members,
                     js.error, js.pid, ctime_line(now).c_str());
  } else {
    out += strprintf("%s: (groupid=%u, jobs=%u): err=%2d (%s): pid=%d: %s", rj.first->name.c_str(), js.groupid,
                     rj.members, js.error, std::strerror(js.error), js.pid, ctime_line(now).c_str());
  }
  for (Ddir d : kAllDdirs)
    if (js.at(d).io_bytes && js.at(d).runtime_ms) out += ddir_block(rj, d, g);

  const uint64_t total = js.total_ios();
  static constexpr std::array<const char*, 10> kRanges = {"2=",   "4=",   "10=",  "20=",  "50=",
                                                          "100=", "250=", "500=", "750=", "1000="};
  static constexpr std::array<const char*, 12> kRangesMs = {"2=",   "4=",   "10=",  "20=",   "50=",   "100=",
                                                            "250=", "500=", "750=", "1000=", "2000=", ">=2000="};
  out += lat_distribution(percentages(js.lat_ns_map, total, 0.01), kRanges, "nsec");
  out += lat_distribution(percentages(js.lat_us_map, total, 0.01), kRanges, "usec");
  out += lat_distribution(percentages(js.lat_ms_map, total, 0.01), kRangesMs, "msec");

  double usr = 0, sys = 0;
  if (js.total_run_time_ms) {
    usr = static_cast<double>(js.cpu.usr_ms) * 100 / static_cast<double>(js.total_run_time_ms);
    sys = static_cast<double>(js.cpu.sys_ms) * 100 / static_cast<double>(js.total_run_time_ms);
  }
  out += strprintf("  cpu          : usr=%3.2f%%, sys=%3.2f%%, ctx=%llu, majf=%llu, minf=%llu\n", usr, sys,
                   static_cast<unsigned long long>(js.cpu.ctx), static_cast<unsigned long long>(js.cpu.majf),
                   static_cast<unsigned long long>(js.cpu.minf));
  static constexpr const char* kDepthKeys[] = {"1", "2", "4", "8", "16", "32", ">=64"};
  static constexpr const char* kBatchKeys[] = {"0", "4", "8", "16", "32", "64", ">=64"};
  out += depth_line("  IO depths    : ", kDepthKeys, percentages(js.depth_map, total, 0.1));
  out += depth_line("     submit    : ", kBatchKeys, percentages(js.submit_map, js.total_submit, 0.1));
  out += depth_line("     complete  : ", kBatchKeys, percentages(js.complete_map, js.total_complete, 0.1));
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  out += strprintf("     issued rwts: total=%llu,%llu,%llu,0 short=%llu,%llu,%llu,0 dropped=%llu,%llu,%llu,0\n",
                   u(js.dir[0].total_ios), u(js.dir[1].total_ios), u(js.dir[2].total_ios), u(js.dir[0].short_ios),
                   u(js.dir[1].short_ios), u(js.dir[2].short_ios), u(js.dir[0].drop_ios), u(js.dir[1].drop_ios),
                   u(js.dir[2].drop_ios));
  out += strprintf("     latency   : target=0, window=0, percentile=100.00%%, depth=%u\n", rj.last->iodepth);
  return out;
}

std::string group_block(const GroupRun& g, unsigned id) {
  static constexpr std::array<const char*, kNumDdirs> kLabel = {"   READ", "  WRITE", "   TRIM"};
  std::string out = strprintf("\nRun status group %u (all jobs):\n", id);
  for (size_t i = 0; i < kNumDdirs; i++) {
    if (!g.max_run[i]) continue;
    const auto n = [](uint64_t v, bool pow2, Unit unit) { return num2str(v, kSigFigs, 1, pow2, unit); };
    out += strprintf("%s: bw=%s (%s), %s-%s (%s-%s), io=%s (%s), run=%llu-%llumsec\n", kLabel[i],
                     n(g.agg_bw[i], true, Unit::byte_per_sec).c_str(), n(g.agg_bw[i], false, Unit::byte_per_sec).c_str(),
                     n(g.min_bw[i], true, Unit::byte_per_sec).c_str(), n(g.max_bw[i], true, Unit::byte_per_sec).c_str(),
                     n(g.min_bw[i], false, Unit::byte_per_sec).c_str(), n(g.max_bw[i], false, Unit::byte_per_sec).c_str(),
                     n(g.io_bytes[i], true, Unit::byte).c_str(), n(g.io_bytes[i], false, Unit::byte).c_str(),
                     static_cast<unsigned long long>(g.min_run[i]), static_cast<unsigned long long>(g.max_run[i]));
  }
  return out;
}

}  // namespace

Summary summarize(const RunResult& r) {
  GUPLAB_CHECK(r.jobs.size() == r.stats.size());
  Summary sum;
  for (size_t i = 0; i < r.jobs.size(); i++) {
    const JobSpec& job = r.jobs[i];
    if (sum.jobs.empty() || !job.group_reporting || sum.jobs.back().stats.groupid != r.stats[i].groupid) {
      sum.jobs.push_back({&job, &job, r.stats[i], 1});
      continue;
    }
    ReportedJob& rj = sum.jobs.back();
    rj.stats.merge(r.stats[i]);
    rj.last = &job;
    rj.members++;
  }
  unsigned nr_groups = 1;
  for (const ReportedJob& rj : sum.jobs) nr_groups = std::max(nr_groups, rj.stats.groupid + 1);
  sum.groups.resize(nr_groups);
  for (GroupRun& g : sum.groups) g.min_bw.fill(UINT64_MAX);
  for (const ReportedJob& rj : sum.jobs) {
    GroupRun& g = sum.groups[rj.stats.groupid];
    for (size_t d = 0; d < kNumDdirs; d++) {
      const DirStats& s = rj.stats.dir[d];
      if (!s.runtime_ms) continue;
      if (!g.min_run[d] || s.runtime_ms < g.min_run[d]) g.min_run[d] = s.runtime_ms;
      g.max_run[d] = std::max(g.max_run[d], s.runtime_ms);
      const uint64_t bw = s.io_bytes * 1000 / s.runtime_ms;
      g.min_bw[d] = std::min(g.min_bw[d], bw);
      g.max_bw[d] = std::max(g.max_bw[d], bw);
      g.io_bytes[d] += s.io_bytes;
    }
  }
  for (GroupRun& g : sum.groups)
    for (size_t d = 0; d < kNumDdirs; d++) {
      if (g.max_run[d]) g.agg_bw[d] = g.io_bytes[d] * 1000 / g.max_run[d];
      if (g.min_bw[d] == UINT64_MAX) g.min_bw[d] = 0;
    }
  return sum;
}

std::string format_job_header(const JobSpec& job, unsigned group) {
  const std::string lo = num2str(job.min_bs(), kSigFigs, 1, true, Unit::byte);
  const std::string hi = num2str(job.max_bs(), kSigFigs, 1, true, Unit::byte);
  return strprintf("%s: (g=%u): rw=%s, bs=(R) %s-%s, (W) %s-%s, (T) %s-%s, ioengine=%s, iodepth=%u\n",
                   job.name.c_str(), group, to_string(job.rw), lo.c_str(), hi.c_str(), lo.c_str(), hi.c_str(),
                   lo.c_str(), hi.c_str(), job.ioengine.c_str(), job.iodepth);
}

std::string format_preamble(std::span<const JobSpec> jobs) {
  std::string out;
  unsigned threads = 0, processes = 0, group = 0;
  for (size_t i = 0; i < jobs.size(); i++) {
    const JobSpec& job = jobs[i];
    if (i > 0 && job.stonewall && job.clone == 0) group++;
    if (job.clone == 0) out += format_job_header(job, group);
    if (job.clone == 1) out += "...\n";
    (job.thread ? threads : processes)++;
  }
  out += kVersionString;
  out += "\nStarting ";
  if (threads) out += strprintf("%u thread%s", threads, threads > 1 ? "s" : "");
  if (processes) out += strprintf("%s%u process%s", threads ? " and " : "", processes, processes > 1 ? "es" : "");
  return out + "\n";
}

std::string format_lat_line(const char* name, const RunningStat& s) {
  if (!s.samples()) return {};
  uint64_t min = s.min(), max = s.max();
  double mean = s.mean(), dev = s.stddev();
  const char* base = "(nsec)";
  if (min > 2000000 && max > 99999999ull && dev > 1000000.0) {
    min /= 1000000;
    max /= 1000000;
    mean /= 1000000.0;
    dev /= 1000000.0;
    base = "(msec)";
  } else if (min > 2000 && max > 99999 && dev > 1000.0) {
    min /= 1000;
    max /= 1000;
    mean /= 1000.0;
    dev /= 1000.0;
    base = "(usec)";
  }
  return strprintf("    %s %s: min=%s, max=%s, avg=%5.02f, stdev=%5.02f\n", name, base,
                   num2str(min, 6, 1, false, Unit::none).c_str(), num2str(max, 6, 1, false, Unit::none).c_str(),
                   mean, dev);
}

std::string format_percentiles(const char* name, const LatencyHistogram& h, std::span<const double> list) {
  std::vector<uint64_t> vals = h.percentiles(list);
  if (vals.empty()) return {};
  const auto [minv_it, maxv_it] = std::minmax_element(vals.begin(), vals.end());
  const uint64_t minv = *minv_it, maxv = *maxv_it;
  int scale_down = 0;
  uint64_t divisor = 1;
  const char* unit = "nsec";
  if (minv > 2000000 && maxv > 99999999ull) {
    scale_down = 2;
    divisor = 1000000;
    unit = "msec";
  } else if (minv > 2000 && maxv > 99999) {
    scale_down = 1;
    divisor = 1000;
    unit = "usec";
  }
  const uint64_t top = maxv / divisor;
  const int width = top ? std::max(5, static_cast<int>(std::log10(static_cast<double>(top)) + 1)) : 5;
  constexpr int kPrecision = 2;
  const int per_line = (80 - 7) / (kPrecision + 10 + width);

  std::string out = strprintf("    %s percentiles (%s):\n     |", name, unit);
  for (size_t j = 0; j < vals.size(); j++) {
    if (j != 0 && j % per_line == 0) out += "     |";
    const bool last = j + 1 == vals.size();
    uint64_t v = vals[j];
    for (int i = 0; i < scale_down; i++) v = (v + 999) / 1000;
    out += strprintf(" %5.2fth=[%*llu]%c", list[j], width, static_cast<unsigned long long>(v),
                     last ? '\n' : ',');
    if (last) break;
    if (j % per_line == static_cast<size_t>(per_line - 1)) out += "\n";
  }
  return out;
}

std::string format_text(const RunResult& r) {
  const Summary sum = summarize(r);
  std::string out = "\n";
  for (const ReportedJob& rj : sum.jobs) out += job_block(rj, sum.groups[rj.stats.groupid], r.end_time);
  for (size_t i = 0; i < sum.groups.size(); i++) out += group_block(sum.groups[i], static_cast<unsigned>(i));
  return out;
}

}  // namespace guplab::fio
