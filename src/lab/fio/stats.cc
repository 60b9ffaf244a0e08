// stats.cc - recording and merging one fio job's statistics.
#include "lab/fio/stats.h"
#include "base/bug.h"

#include <algorithm>
#include <cmath>

namespace guplab::fio {
namespace {

/** The bucket of @v among ascending exclusive upper bounds; the last bucket takes the rest. */
template <size_t N>
size_t bucket_below(uint64_t v, const std::array<uint64_t, N>& bounds) {
  for (size_t i = 0; i < N; i++)
    if (v < bounds[i]) return i;
  return N - 1;
}

constexpr std::array<uint64_t, 10> kDecade = {2, 4, 10, 20, 50, 100, 250, 500, 750, 1000};
constexpr std::array<uint64_t, 12> kDecadeMs = {2,   4,   10,  20,   50,   100,
                                                250, 500, 750, 1000, 2000, UINT64_MAX};

/** fio's depth buckets: 1, 2-3, 4-7, 8-15, 16-31, 32-63, >=64. */
size_t depth_bucket(unsigned depth) {
  constexpr std::array<uint64_t, kDepthBuckets> kBounds = {2, 4, 8, 16, 32, 64, UINT64_MAX};
  return bucket_below(depth, kBounds);
}

/** fio's batch buckets: 0, 1-4, 5-8, 9-16, 17-32, 33-64, >64. */
size_t batch_bucket(unsigned nr) {
  constexpr std::array<uint64_t, kDepthBuckets> kBounds = {1, 5, 9, 17, 33, 65, UINT64_MAX};
  return bucket_below(nr, kBounds);
}

uint64_t ms_between(const timeval& a, const timeval& b) {
  const int64_t us = (static_cast<int64_t>(b.tv_sec) - a.tv_sec) * 1000000 + (b.tv_usec - a.tv_usec);
  return us > 0 ? static_cast<uint64_t>(us) / 1000 : 0;
}

uint64_t delta(long start, long end) { return end > start ? static_cast<uint64_t>(end - start) : 0; }

}  // namespace

const char* ddir_name(Ddir d) {
  switch (d) {
    case Ddir::read: return "read";
    case Ddir::write: return "write";
    case Ddir::trim: return "trim";
  }
  return "?";
}

RunningStat RunningStat::from_summary(uint64_t samples, uint64_t min, uint64_t max, double mean,
                                      double stddev) {
  RunningStat s;
  if (!samples) return s;
  GUPLAB_CHECK(min <= max);
  s.samples_ = samples;
  s.min_ = min;
  s.max_ = max;
  s.mean_ = mean;
  s.s_ = samples > 1 ? stddev * stddev * static_cast<double>(samples - 1) : 0.0;
  return s;
}

void RunningStat::add(uint64_t v) {
  max_ = std::max(max_, v);
  min_ = std::min(min_, v);
  const double val = static_cast<double>(v);
  const double d = val - mean_;
  if (d != 0.0) {
    mean_ += d / (static_cast<double>(samples_) + 1.0);
    s_ += d * (val - mean_);
  }
  samples_++;
}

void RunningStat::merge(const RunningStat& o) {
  if (o.samples_ == 0) return;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  if (samples_ == 0) {
    mean_ = o.mean_;
    s_ = o.s_;
  } else {
    const double n1 = static_cast<double>(samples_);
    const double n2 = static_cast<double>(o.samples_);
    const double d = o.mean_ - mean_;
    mean_ = (o.mean_ * n2 + mean_ * n1) / (n1 + n2);
    s_ = o.s_ + s_ + d * d * (n1 * n2) / (n1 + n2);
  }
  samples_ += o.samples_;
}

void RunningStat::sum(const RunningStat& o) {
  if (o.samples_ == 0) return;
  if (samples_ == 0) {
    *this = o;
    return;
  }
  min_ += o.min_;
  max_ += o.max_;
  samples_ += o.samples_;
  mean_ += o.mean_;
  s_ += o.s_;
}

double RunningStat::stddev() const {
  if (samples_ < 2) return 0.0;
  return std::sqrt(s_ / (static_cast<double>(samples_) - 1.0));
}

CpuUsage rusage_delta(const struct rusage& start, const struct rusage& end) {
  CpuUsage u;
  u.usr_ms = ms_between(start.ru_utime, end.ru_utime);
  u.sys_ms = ms_between(start.ru_stime, end.ru_stime);
  u.ctx = delta(start.ru_nvcsw + start.ru_nivcsw, end.ru_nvcsw + end.ru_nivcsw);
  u.majf = delta(start.ru_majflt, end.ru_majflt);
  u.minf = delta(start.ru_minflt, end.ru_minflt);
  return u;
}

void JobStats::add_io(Ddir d, uint64_t bytes, uint64_t clat_ns, uint64_t lat_ns,
                      std::optional<uint64_t> slat_ns) {
  GUPLAB_CHECK(lat_ns >= clat_ns);
  DirStats& s = at(d);
  s.io_bytes += bytes;
  s.total_ios++;
  s.clat_ns.add(clat_ns);
  s.clat_hist.add(clat_ns);
  if (slat_ns) s.slat_ns.add(*slat_ns);
  s.lat_ns.add(lat_ns);
  // fio files the I/O's completion latency under ns, us or ms by magnitude.
  if (clat_ns < 1000)
    lat_ns_map[bucket_below(clat_ns, kDecade)]++;
  else if (clat_ns < 1000000)
    lat_us_map[bucket_below(clat_ns / 1000, kDecade)]++;
  else
    lat_ms_map[bucket_below(clat_ns / 1000000, kDecadeMs)]++;
}

void JobStats::add_submit(unsigned nr, unsigned depth) {
  GUPLAB_CHECK(nr >= 1 && depth >= 1);
  depth_map[depth_bucket(depth)] += nr;
  submit_map[batch_bucket(nr)]++;
  total_submit++;
}

void JobStats::add_complete(unsigned nr) {
  complete_map[batch_bucket(nr)]++;
  total_complete++;
}

void JobStats::add_cpu(const CpuUsage& u) {
  cpu.usr_ms += u.usr_ms;
  cpu.sys_ms += u.sys_ms;
  cpu.ctx += u.ctx;
  cpu.majf += u.majf;
  cpu.minf += u.minf;
}

void JobStats::set_runtime_ms(uint64_t ms) {
  total_run_time_ms = ms;
  for (DirStats& s : dir)
    if (s.io_bytes) s.runtime_ms = ms;
}

void JobStats::merge(const JobStats& o) {
  for (size_t i = 0; i < kNumDdirs; i++) {
    DirStats& a = dir[i];
    const DirStats& b = o.dir[i];
    a.io_bytes += b.io_bytes;
    a.total_ios += b.total_ios;
    a.short_ios += b.short_ios;
    a.drop_ios += b.drop_ios;
    a.runtime_ms = std::max(a.runtime_ms, b.runtime_ms);
    a.slat_ns.merge(b.slat_ns);
    a.clat_ns.merge(b.clat_ns);
    a.lat_ns.merge(b.lat_ns);
    a.clat_hist.merge(b.clat_hist);
    a.bw_kib.sum(b.bw_kib);
    a.iops.sum(b.iops);
  }
  if (!error) error = o.error;
  if (verify_error.empty()) verify_error = o.verify_error;
  sync_ios += o.sync_ios;
  sync_lat_ns.merge(o.sync_lat_ns);
  sync_hist.merge(o.sync_hist);
  total_run_time_ms += o.total_run_time_ms;
  add_cpu(o.cpu);
  for (size_t i = 0; i < kDepthBuckets; i++) {
    depth_map[i] += o.depth_map[i];
    submit_map[i] += o.submit_map[i];
    complete_map[i] += o.complete_map[i];
  }
  total_submit += o.total_submit;
  total_complete += o.total_complete;
  for (size_t i = 0; i < kLatNsBuckets; i++) lat_ns_map[i] += o.lat_ns_map[i];
  for (size_t i = 0; i < kLatUsBuckets; i++) lat_us_map[i] += o.lat_us_map[i];
  for (size_t i = 0; i < kLatMsBuckets; i++) lat_ms_map[i] += o.lat_ms_map[i];
}

uint64_t JobStats::total_ios() const {
  uint64_t n = 0;
  for (const DirStats& s : dir) n += s.total_ios;
  return n;
}

IntervalSampler::IntervalSampler(uint64_t interval_ms) : interval_ms_(interval_ms) {
  GUPLAB_CHECK(interval_ms > 0);
}

void IntervalSampler::start(uint64_t now_ms, const JobStats& stats) {
  last_ms_ = now_ms;
  for (size_t i = 0; i < kNumDdirs; i++) {
    last_bytes_[i] = stats.dir[i].io_bytes;
    last_ios_[i] = stats.dir[i].total_ios;
  }
}

void IntervalSampler::tick(uint64_t now_ms, JobStats& stats) {
  const uint64_t spent = now_ms > last_ms_ ? now_ms - last_ms_ : 0;
  // fio allows 1 ms of slack before a full interval.
  if (spent < interval_ms_ && interval_ms_ - spent > 1) return;
  for (size_t i = 0; i < kNumDdirs; i++) {
    DirStats& s = stats.dir[i];
    const uint64_t db = s.io_bytes - last_bytes_[i];
    const uint64_t dio = s.total_ios - last_ios_[i];
    if (db) s.bw_kib.add(spent ? db * 1000 / spent / 1024 : 0);
    if (dio) s.iops.add(spent ? dio * 1000 / spent : 0);
    last_bytes_[i] = s.io_bytes;
    last_ios_[i] = s.total_ios;
  }
  last_ms_ = now_ms;
}

}  // namespace guplab::fio
