// result_test.cc - Result<T>: a value or an Error with its message and -errno.
#include "lab/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace guplab {
namespace {

Result<int> half(int n) {
  if (n % 2) return Error{"odd: " + std::to_string(n), -EINVAL};
  return n / 2;
}

TEST(ResultTest, AValueOrAnErrorWithItsMessageAndErrno) {
  Result<int> ok = half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(*ok, 4);
  Result<int> bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "odd: 3");
  EXPECT_EQ(bad.code(), -EINVAL);
  const Result<bool> plain = Error{"no errno"};
  EXPECT_EQ(plain.code(), 0) << "an Error without an errno says 0";
}

}  // namespace
}  // namespace guplab
