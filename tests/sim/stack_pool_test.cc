// stack_pool_test.cc - guarded stacks, reused up to a bound.
#include "sim/stack_pool.h"

#include <gtest/gtest.h>

#include <cstring>

namespace guplab {
namespace {

TEST(StackPool, RoundsUpAndReuses) {
  StackPool pool(10000, 2);
  EXPECT_EQ(pool.stack_size() % 4096, 0u);
  EXPECT_GE(pool.stack_size(), 10000u);
  auto a = pool.allocate();
  auto b = pool.allocate();
  auto c = pool.allocate();
  EXPECT_EQ(pool.outstanding(), 3u);
  std::memset(static_cast<char*>(a.sp) - a.size, 0xab, a.size);  // the whole stack is usable
  void* a_sp = a.sp;
  pool.deallocate(a);
  pool.deallocate(b);
  pool.deallocate(c);  // over the cache bound: unmapped
  EXPECT_EQ(pool.cached(), 2u);
  EXPECT_EQ(pool.outstanding(), 0u);
  auto d = pool.allocate();
  auto e = pool.allocate();
  EXPECT_TRUE(d.sp == a_sp || e.sp == a_sp);
  pool.deallocate(d);
  pool.deallocate(e);
}

TEST(StackPoolDeathTest, OverflowHitsTheGuardPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        StackPool pool(16384);
        auto s = pool.allocate();
        volatile char* below = static_cast<char*>(s.sp) - s.size - 1;
        *below = 1;
      },
      "");
}

}  // namespace
}  // namespace guplab
