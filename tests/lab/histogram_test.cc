// histogram_test.cc - fio's plat buckets and percentile method.
#include "lab/fio/histogram.h"

#include <gtest/gtest.h>

#include <cmath>

namespace guplab::fio {
namespace {

using H = LatencyHistogram;

TEST(FioHistogram, SmallValuesAreExact) {
  for (uint64_t v = 0; v < 128; v++) {
    EXPECT_EQ(H::bucket_index(v), v);
    EXPECT_EQ(H::bucket_value(H::bucket_index(v)), v);
  }
}

TEST(FioHistogram, BucketsAreLogLinear) {
  // 128..255 has 64 buckets of width 2; 65536..131071 has 64 buckets of width 1024.
  EXPECT_EQ(H::bucket_index(128), 128u);
  EXPECT_EQ(H::bucket_index(129), 128u);
  EXPECT_EQ(H::bucket_index(130), 129u);
  EXPECT_EQ(H::bucket_value(128), 129u);  // midpoint of [128,130)
  EXPECT_EQ(H::bucket_index(256), 192u);
  EXPECT_EQ(H::bucket_value(H::bucket_index(100000)), 99840u);  // [99328,100352)
  // A value fio 3.33 reported as a clat percentile is a bucket midpoint and maps to itself.
  for (uint64_t v : {105984ull, 129536ull, 4489216ull, 23199744ull, 18219008ull})
    EXPECT_EQ(H::bucket_value(H::bucket_index(v)), v) << v;
  // The relative error is at most half a bucket, 1/128 of the value, up to 2^34 ns (~17 s)
  // where fio's 29 groups end.
  for (uint64_t v = 128; v < (1ull << 34); v = v * 3 + 7) {
    const double got = static_cast<double>(H::bucket_value(H::bucket_index(v)));
    EXPECT_LE(std::fabs(got - static_cast<double>(v)), static_cast<double>(v) / 128.0 + 1) << v;
  }
  // Beyond the last group everything lands in the last bucket.
  EXPECT_EQ(H::bucket_index(UINT64_MAX), H::kBuckets - 1);
  EXPECT_EQ(H::kBuckets, 1856u);
}

TEST(FioHistogram, ConstantValue) {
  H h;
  for (int i = 0; i < 1000; i++) h.add(250000);
  const auto p = h.percentiles();
  ASSERT_EQ(p.size(), kDefaultPercentiles.size());
  for (uint64_t v : p) EXPECT_EQ(v, H::bucket_value(H::bucket_index(250000)));
  EXPECT_NEAR(static_cast<double>(p[0]), 250000.0, 250000.0 / 128);
}

TEST(FioHistogram, UniformMicroseconds) {
  // 1..N us uniformly: the p-th percentile is p% of N, within the bucket error.
  constexpr uint64_t kN = 10000;
  H h;
  for (uint64_t us = 1; us <= kN; us++) h.add(us * 1000);
  EXPECT_EQ(h.total(), kN);
  const auto p = h.percentiles();
  ASSERT_EQ(p.size(), kDefaultPercentiles.size());
  for (size_t i = 0; i < p.size(); i++) {
    const double want = kDefaultPercentiles[i] / 100.0 * kN * 1000;
    EXPECT_NEAR(static_cast<double>(p[i]), want, want / 64 + 1000) << kDefaultPercentiles[i];
    if (i) EXPECT_GE(p[i], p[i - 1]);
  }
}

TEST(FioHistogram, FirstBucketReachingTheShareWins) {
  // 99 samples of 10 ns and one of 1 ms: everything up to the 99th percentile is 10, the
  // 99.5th and above is the 1 ms bucket.
  H h;
  for (int i = 0; i < 99; i++) h.add(10);
  h.add(1000000);
  const auto p = h.percentiles();
  EXPECT_EQ(p[12], 10u);  // 99.0
  EXPECT_EQ(p[13], H::bucket_value(H::bucket_index(1000000)));
  EXPECT_EQ(p[16], H::bucket_value(H::bucket_index(1000000)));
}

TEST(FioHistogram, MergeAndEmpty) {
  H a, b;
  EXPECT_TRUE(a.percentiles().empty());
  a.add(100);
  b.add(300);
  b.add(300);
  a.merge(b);
  EXPECT_EQ(a.total(), 3u);
  EXPECT_EQ(a.count(100), 1u);
  const std::array<double, 2> list = {33.0, 34.0};
  const auto p = a.percentiles(list);
  EXPECT_EQ(p[0], 100u);
  EXPECT_EQ(p[1], H::bucket_value(H::bucket_index(300)));
}

}  // namespace
}  // namespace guplab::fio
