// histogram.cc - fio's log-linear latency buckets and percentile lookup.
#include "lab/fio/histogram.h"
#include "base/bug.h"

#include <algorithm>

namespace guplab::fio {

unsigned LatencyHistogram::bucket_index(uint64_t ns) {
  const unsigned msb = ns == 0 ? 0 : 63u - static_cast<unsigned>(__builtin_clzll(ns));
  if (msb <= kBits) return static_cast<unsigned>(ns);  // below 128: exact
  const unsigned error_bits = msb - kBits;             // low bits the bucket cannot tell apart
  const unsigned group_base = (error_bits + 1) << kBits;
  const unsigned offset = static_cast<unsigned>((ns >> error_bits) & (kVal - 1));
  return std::min(group_base + offset, kBuckets - 1);
}

uint64_t LatencyHistogram::bucket_value(unsigned idx) {
  GUPLAB_CHECK(idx < kBuckets);
  if (idx < (kVal << 1)) return idx;
  const unsigned error_bits = (idx >> kBits) - 1;
  const uint64_t group_min = uint64_t{1} << (error_bits + kBits);
  const unsigned k = idx % kVal;
  // The midpoint of the bucket, truncated as fio's double-to-integer conversion does.
  return group_min + static_cast<uint64_t>((k + 0.5) * static_cast<double>(uint64_t{1} << error_bits));
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (unsigned i = 0; i < kBuckets; i++) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

std::vector<uint64_t> LatencyHistogram::percentiles(std::span<const double> list) const {
  GUPLAB_CHECK(std::is_sorted(list.begin(), list.end()));
  std::vector<uint64_t> out;
  if (total_ == 0 || list.empty()) return out;
  out.reserve(list.size());
  uint64_t sum = 0;
  for (unsigned i = 0; i < kBuckets && out.size() < list.size(); i++) {
    sum += counts_[i];
    // fio compares in long double: the first bucket where the running count reaches p% wins.
    while (out.size() < list.size() &&
           static_cast<long double>(sum) >=
               static_cast<long double>(list[out.size()]) / 100.0L * static_cast<long double>(total_)) {
      GUPLAB_CHECK(list[out.size()] <= 100.0);
      out.push_back(bucket_value(i));
    }
  }
  return out;
}

}  // namespace guplab::fio
