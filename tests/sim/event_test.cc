// event_test.cc - event kinds have names (trace writers print them).
#include "sim/event.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace guplab {
namespace {

TEST(SimEvent, EveryKindHasADistinctName) {
  std::set<std::string> names;
  for (int k = 0; k <= static_cast<int>(SimEventKind::abort_unwind); k++) {
    std::string n = to_string(static_cast<SimEventKind>(k));
    EXPECT_NE(n, "?");
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(SimEventKind::abort_unwind) + 1);
}

}  // namespace
}  // namespace guplab
