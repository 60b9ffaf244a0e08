// gup_fast_test.cc - pin_user_pages_fast_only(): the lockless walk without the slow
// path pins what is mapped and writable, stops at the first page it cannot take, and
// never faults.
#include <gtest/gtest.h>

#include <vector>

#include "mm/gup.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

class GupFastOnlyTest : public test::MmTest {
 protected:
  int64_t acquired() const { return vs(NR_FOLL_PIN_ACQUIRED); }
  int64_t released() const { return vs(NR_FOLL_PIN_RELEASED); }
};

TEST_F(GupFastOnlyTest, PinsAPopulatedRangeWhole) {
  const unsigned long a = map(8 * PAGE_SIZE);
  for (unsigned i = 0; i < 8; i++) put_u64(a + i * PAGE_SIZE, i);
  std::vector<page*> pages(8);
  ASSERT_EQ(pin_user_pages_fast_only(a, 8, FOLL_WRITE, pages.data()), 8);
  EXPECT_EQ(acquired(), 8);
  for (page* p : pages) EXPECT_TRUE(page_maybe_dma_pinned(p));
  unpin_user_pages(pages.data(), 8);
  EXPECT_EQ(released(), 8);
}

TEST_F(GupFastOnlyTest, StopsAtTheFirstPageItWouldHaveToFaultIn) {
  const unsigned long a = map(8 * PAGE_SIZE);
  for (unsigned i = 0; i < 3; i++) put_u64(a + i * PAGE_SIZE, i);
  const int64_t faults = vs(PGFAULT);
  std::vector<page*> pages(8);
  ASSERT_EQ(pin_user_pages_fast_only(a, 8, FOLL_WRITE, pages.data()), 3);
  EXPECT_EQ(vs(PGFAULT), faults) << "no fault: the slow path never ran";
  EXPECT_EQ(pin_user_pages_fast_only(a + 3 * PAGE_SIZE, 5, FOLL_WRITE, pages.data() + 3), 0);
  unpin_user_pages(pages.data(), 3);
  EXPECT_EQ(acquired(), released());
}

TEST_F(GupFastOnlyTest, ReadOnlyPteRefusesFollWrite) {
  const unsigned long a = map(PAGE_SIZE, PROT_READ);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_WRITE, &p), 0);
  EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_NONE, &p), 0) << "zero page: left to the slow path";
  EXPECT_EQ(acquired(), 0);
}

TEST_F(GupFastOnlyTest, MisuseGetsNothing) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast_only(a, -1, FOLL_WRITE, &p), 0);
  EXPECT_EQ(pin_user_pages_fast_only(a, 1, FOLL_PIN, &p), 0) << "FOLL_PIN is implied";
  expected_warnings_ = 1;
  EXPECT_EQ(acquired(), 0);
}

}  // namespace
}  // namespace guplab
