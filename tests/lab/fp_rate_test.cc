// fp_rate_test.cc - page_maybe_dma_pinned()'s false positives per design against the
// known answers: bias (and folio_pincount on small folios) reports a page with >= 1024
// references as pinned; folio_pincount is exact for a THP; dma_count and fake_vma are
// exact; get reports nothing (no false positive, and every pin a false negative); no
// tracking design has a false negative.
#include "lab/fp_rate.h"

#include <gtest/gtest.h>

#include "mm/pin.h"

namespace guplab {
namespace {

// The workloads as `guplab fp-rate` runs them by default (the figures README quotes).
FpOptions small_options() { return FpOptions{}; }

const FpRow& row(const std::vector<FpRow>& rows, FpWorkload w) {
  for (const FpRow& r : rows)
    if (r.workload == w) return r;
  ADD_FAILURE() << "no row for " << to_string(w);
  return rows.front();
}

// A design that counts the bias in _refcount: the first false positive is the first
// sample whose folio refcount reaches GUP_PIN_COUNTING_BIAS, and every later one is too.
void expect_bias_threshold(const FpRow& r, long max_n) {
  SCOPED_TRACE(std::string(to_string(r.design)) + "/" + to_string(r.workload));
  EXPECT_EQ(r.first_fp_refcount, GUP_PIN_COUNTING_BIAS);
  ASSERT_GT(r.first_fp_n, 0);
  EXPECT_EQ(r.false_positives, max_n - r.first_fp_n + 1);
  EXPECT_EQ(r.samples, max_n);
  EXPECT_EQ(r.false_negatives, 0);
}

void expect_exact(const FpRow& r) {
  SCOPED_TRACE(std::string(to_string(r.design)) + "/" + to_string(r.workload));
  EXPECT_EQ(r.false_positives, 0);
  EXPECT_EQ(r.first_fp_n, -1);
  EXPECT_GT(r.samples, 0);
  EXPECT_GT(r.pinned_samples, 0);
  EXPECT_EQ(r.false_negatives, 0);
}

class FpRateTest : public ::testing::TestWithParam<PinDesign> {};

TEST_P(FpRateTest, KnownAnswers) {
  const FpOptions o = small_options();
  const PinDesign d = GetParam();
  const std::vector<FpRow> rows = measure_fp_rate(d, o);
  ASSERT_EQ(rows.size(), std::size(kAllFpWorkloads));
  const FpRow& mix = row(rows, FpWorkload::mix);
  EXPECT_EQ(mix.samples, o.mix_pages / 2);
  EXPECT_EQ(mix.pinned_samples, o.mix_pages / 2);
  switch (d) {
    case PinDesign::get:
      for (const FpRow& r : rows) {
        EXPECT_EQ(r.false_positives, 0) << to_string(r.workload);
        EXPECT_EQ(r.false_negatives, r.pinned_samples) << "no tracking: every pin is missed";
      }
      break;
    case PinDesign::bias:
    case PinDesign::bias_all:  // the same bias; the workloads take references with get_page(), not GUP
      expect_bias_threshold(row(rows, FpWorkload::refs), o.max_refs);
      expect_bias_threshold(row(rows, FpWorkload::fork), o.max_forks);
      EXPECT_EQ(row(rows, FpWorkload::fork).first_fp_n, GUP_PIN_COUNTING_BIAS - 1) << "the parent's mapping + 1023 children";
      expect_bias_threshold(row(rows, FpWorkload::thp_refs), o.max_refs);
      // mix: page i has 1 + 64 i references; the unpinned (even) pages from i = 16 on.
      EXPECT_EQ(mix.false_positives, 24);
      EXPECT_EQ(mix.first_fp_n, 16);
      EXPECT_EQ(mix.false_negatives, 0);
      break;
    case PinDesign::folio_pincount:
      expect_bias_threshold(row(rows, FpWorkload::refs), o.max_refs);
      expect_bias_threshold(row(rows, FpWorkload::fork), o.max_forks);
      expect_exact(row(rows, FpWorkload::thp_refs));  // _pincount: exact for a large folio
      EXPECT_EQ(mix.false_positives, 24);
      EXPECT_EQ(mix.false_negatives, 0);
      break;
    case PinDesign::dma_count:
    case PinDesign::fake_vma:
      for (const FpRow& r : rows) expect_exact(r);
      break;
    default:
      FAIL() << "no known answer for design " << to_string(d);
  }
}

INSTANTIATE_TEST_SUITE_P(Designs, FpRateTest, ::testing::ValuesIn(kAllPinDesigns),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(FpRateFormat, TableNamesEveryRowAndMarksNoTracking) {
  FpRow a;
  a.design = PinDesign::bias;
  a.workload = FpWorkload::refs;
  a.samples = 4096;
  a.false_positives = 3074;
  a.first_fp_n = 1023;
  a.first_fp_refcount = 1024;
  a.pinned_samples = 1;
  FpRow g;
  g.design = PinDesign::get;
  g.workload = FpWorkload::mix;
  g.samples = 32;
  g.pinned_samples = 32;
  g.false_negatives = 32;
  const std::string t = format_fp_table({a, g});
  EXPECT_NE(t.find("75.05%"), std::string::npos) << t;
  EXPECT_NE(t.find("ref 1024"), std::string::npos) << t;
  EXPECT_NE(t.find("32/32 (no tracking)"), std::string::npos) << t;
}

}  // namespace
}  // namespace guplab
