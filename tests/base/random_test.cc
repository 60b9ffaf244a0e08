// random_test.cc - seeded streams are reproducible and spread.
#include <gtest/gtest.h>

#include <set>

#include "base/random.h"

namespace guplab {
namespace {

TEST(RandomTest, SameSeedSameStream) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; i++) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    if (x != c.next_u64()) differs = true;
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, UniformStaysInRangeAndCoversIt) {
  Random r(7);
  std::set<uint64_t> seen;
  for (int i = 0; i < 10000; i++) {
    uint64_t v = r.uniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
  int hits = 0;
  for (int i = 0; i < 10000; i++) hits += r.chance(0.25);
  EXPECT_NEAR(hits, 2500, 300);
}

}  // namespace
}  // namespace guplab
