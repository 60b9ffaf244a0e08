// histogram.h - fio's latency histogram ("plat") and its percentile method.
//
// A value v in nanoseconds goes to a log-linear bucket: values below 2^(kBits+1) have a bucket
// each; above that, each power-of-two range [2^m, 2^(m+1)) is split into kVal equal buckets,
// so a bucket's width is at most 1/64 of its value (fio's FIO_IO_U_PLAT_BITS=6,
// FIO_IO_U_PLAT_VAL=64, FIO_IO_U_PLAT_GROUP_NR=29). A percentile is the midpoint of the first
// bucket whose cumulative count reaches p% of the samples, exactly as fio reports it.
//
// Threading: not thread-safe; one histogram per recording thread, merge() afterwards.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace guplab::fio {

/** fio's default percentile list (its "percentile_list"). */
inline constexpr std::array<double, 17> kDefaultPercentiles = {
    1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 99.5, 99.9,
    99.95, 99.99};

class LatencyHistogram {
 public:
  static constexpr unsigned kBits = 6;
  static constexpr unsigned kVal = 1u << kBits;
  static constexpr unsigned kGroups = 29;
  static constexpr unsigned kBuckets = kGroups * kVal;  // 1856; the last bucket takes the rest

  /** bucket_index() - the bucket @ns falls in. */
  static unsigned bucket_index(uint64_t ns);
  /** bucket_value() - the value fio reports for bucket @idx: its midpoint (exact below 128).
   *  REQUIRES: idx < kBuckets. */
  static uint64_t bucket_value(unsigned idx);

  void add(uint64_t ns) { counts_[bucket_index(ns)]++; total_++; }
  void merge(const LatencyHistogram& other);
  uint64_t total() const { return total_; }
  uint64_t count(unsigned idx) const { return counts_[idx]; }

  /** percentiles() - the value of each percentile in @list (ascending, each in (0,100]), by
   *  fio's method. Empty if there are no samples. REQUIRES: list sorted ascending. */
  std::vector<uint64_t> percentiles(std::span<const double> list = kDefaultPercentiles) const;

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

}  // namespace guplab::fio
