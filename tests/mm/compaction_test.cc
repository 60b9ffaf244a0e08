// compaction_test.cc - compact_range() empties a range of frames into free frames of
// the zone outside it, contents and mappings kept; compact_zone() moves pages to the
// top of the zone; a pinned page stays where it is under a tracking design.
#include "mm/compaction.h"

#include "mm/gup.h"
#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

using CompactionTest = MmTest;

TEST_F(CompactionTest, RangeIsEmptiedIntoFramesOutsideIt) {
  const unsigned long a = map(8 * PAGE_SIZE);
  for (int i = 0; i < 8; i++) put_u64(a + i * PAGE_SIZE, 100 + i);
  unsigned long lo = ~0ul, hi = 0;
  for (int i = 0; i < 8; i++) {
    const unsigned long pfn = page_to_pfn(page_at(a + i * PAGE_SIZE));
    lo = std::min(lo, pfn);
    hi = std::max(hi, pfn + 1);
  }
  compact_control cc;
  EXPECT_EQ(compact_range(m_.get(), lo, hi, &cc), 0);
  EXPECT_GE(cc.nr_migrated, 8u);
  EXPECT_EQ(cc.nr_failed, 0u);
  for (int i = 0; i < 8; i++) {
    const unsigned long pfn = page_to_pfn(page_at(a + i * PAGE_SIZE));
    EXPECT_TRUE(pfn < lo || pfn >= hi) << "page " << i << " still at " << pfn;
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE), 100u + i);
  }
  EXPECT_GE(vs(COMPACT_MIGRATE_SCANNED), static_cast<int64_t>(hi - lo));
  EXPECT_GT(vs(COMPACT_FREE_SCANNED), 0);
}

TEST_F(CompactionTest, PinnedPageStaysAndIsReported) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE | FOLL_LONGTERM, &p), 1);
  const unsigned long pfn = page_to_pfn(p);
  compact_control cc;
  EXPECT_EQ(compact_range(m_.get(), pfn, pfn + 1, &cc), -EAGAIN);
  EXPECT_EQ(cc.nr_failed, 1u);
  EXPECT_EQ(page_at(a), p);
  unpin_user_page(p);
}

TEST_F(CompactionTest, ZoneCompactionMovesPagesUpwards) {
  const unsigned long a = map(16 * PAGE_SIZE);
  for (int i = 0; i < 16; i++) put_u64(a + i * PAGE_SIZE, i);
  const unsigned long zstart = m_->zones()[ZONE_MOVABLE].zone_start_pfn;
  const unsigned long zend = zstart + m_->zones()[ZONE_MOVABLE].spanned_pages;
  compact_control cc;
  EXPECT_EQ(compact_zone(m_.get(), ZONE_MOVABLE, &cc), 0);
  EXPECT_GT(cc.nr_migrated, 0u);
  for (int i = 0; i < 16; i++) {
    EXPECT_GE(page_to_pfn(page_at(a + i * PAGE_SIZE)), zstart + (zend - zstart) / 2) << "page " << i;
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(compact_range(m_.get(), 5, 4, &cc), -EINVAL);
  EXPECT_EQ(compact_zone(m_.get(), MAX_NR_ZONES, &cc), -EINVAL);
}

}  // namespace
}  // namespace guplab::test
