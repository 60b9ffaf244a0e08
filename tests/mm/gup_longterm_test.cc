// gup_longterm_test.cc - upstream's FOLL_LONGTERM rules: ZONE_MOVABLE and CMA pages are
// migrated out before the pin (with MMU_NOTIFY_MIGRATE), a writable long-term pin of a
// shared mapping that needs dirty tracking is -EFAULT (shmem allowed), fs-DAX is
// -EOPNOTSUPP; under the seed rules (the default) none of it happens.
#include "mm/gup_longterm.h"
#include "mm/memremap.h"

#include <algorithm>
#include <vector>

#include "fs/fs.h"
#include "mm/fake_vm_ops.h"
#include "mm/gup.h"
#include "mm/mm_fixture.h"
#include "mm/mmu_notifier.h"
#include "mm/page_alloc.h"
#include "mm/shmem.h"

namespace guplab::test {
namespace {

struct Events {
  mmu_notifier sub;
  std::vector<mmu_notifier_event> seen;
  static int start(mmu_notifier* s, const mmu_notifier_range* r) {
    reinterpret_cast<Events*>(s)->seen.push_back(r->event);
    return 0;
  }
};
const mmu_notifier_ops kEventsOps = {.invalidate_range_start = Events::start};

class LongtermTest : public MmTest {
 protected:
  MachineConfig config() override {
    MachineConfig c = small_config();
    c.longterm_rules = LongtermRules::upstream;
    c.cma_bytes = 64 * PAGE_SIZE;
    return c;
  }
  long pin(unsigned long a, unsigned long n, foll_flags flags, page** pages, bool fast) {
    if (fast) return pin_user_pages_fast(a, static_cast<int>(n), flags, pages);
    mmap_read_lock(mm_);
    const long r = pin_user_pages(a, n, flags, pages);
    mmap_read_unlock(mm_);
    return r;
  }
};

class LongtermPathTest : public LongtermTest, public ::testing::WithParamInterface<bool> {};

TEST_P(LongtermPathTest, MovablePagesAreMigratedOutBeforeTheLongtermPin) {
  const unsigned long a = map(4 * PAGE_SIZE);
  for (int i = 0; i < 4; i++) put_u64(a + i * PAGE_SIZE, 10 + i);
  for (int i = 0; i < 4; i++) ASSERT_EQ(page_zonenum(page_at(a + i * PAGE_SIZE)), ZONE_MOVABLE);
  Events ev;
  ev.sub.ops = &kEventsOps;
  ASSERT_EQ(mmu_notifier_register(&ev.sub, mm_), 0);
  page* pages[4] = {};
  ASSERT_EQ(pin(a, 4, FOLL_WRITE | FOLL_LONGTERM, pages, GetParam()), 4);
  for (int i = 0; i < 4; i++) {
    EXPECT_TRUE(folio_is_longterm_pinnable(page_folio(pages[i])));
    EXPECT_EQ(page_at(a + i * PAGE_SIZE), pages[i]) << "the process maps the pinned page";
    EXPECT_TRUE(page_maybe_dma_pinned(pages[i]));
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE), 10u + i);
  }
  EXPECT_EQ(vs(PGMIGRATE_SUCCESS), 4);
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED) - vs(NR_FOLL_PIN_RELEASED), 4) << "the first pins were released";
  EXPECT_EQ(std::count(ev.seen.begin(), ev.seen.end(), MMU_NOTIFY_MIGRATE), 4);
  unpin_user_pages(pages, 4);
  mmu_notifier_unregister(&ev.sub, mm_);
}

TEST_P(LongtermPathTest, ShortTermPinsStayInZoneMovable) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = nullptr;
  ASSERT_EQ(pin(a, 1, FOLL_WRITE, &p, GetParam()), 1);
  EXPECT_EQ(page_zonenum(p), ZONE_MOVABLE);
  EXPECT_EQ(vs(PGMIGRATE_SUCCESS), 0);
  unpin_user_page(p);
}

INSTANTIATE_TEST_SUITE_P(FastAndSlow, LongtermPathTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "fast" : "slow"; });

class LongtermDesignTest : public LongtermTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = LongtermTest::config();
    c.pin_design = GetParam();
    return c;
  }
};

TEST_P(LongtermDesignTest, EveryDesignPinsOutsideZoneMovable) {
  const unsigned long a = map(2 * PAGE_SIZE);
  put_u64(a, 1);
  put_u64(a + PAGE_SIZE, 2);
  page* pages[2] = {};
  ASSERT_EQ(pin(a, 2, FOLL_WRITE | FOLL_LONGTERM, pages, true), 2);
  for (int i = 0; i < 2; i++) {
    EXPECT_EQ(page_zonenum(pages[i]), ZONE_NORMAL);
    EXPECT_EQ(page_at(a + i * PAGE_SIZE), pages[i]);
  }
  EXPECT_EQ(get_u64(a + PAGE_SIZE), 2u);
  unpin_user_pages(pages, 2);
}

INSTANTIATE_TEST_SUITE_P(Designs, LongtermDesignTest, ::testing::ValuesIn(kAllPinDesigns),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_F(LongtermTest, CmaAreaIsTheTopOfZoneNormalAndNotLongtermPinnable) {
  const unsigned long normal_end = m_->zones()[ZONE_MOVABLE].zone_start_pfn;
  page* in = take_free_page(m_.get(), normal_end - 1);
  page* below = take_free_page(m_.get(), normal_end - 65);
  ASSERT_NE(in, nullptr);
  ASSERT_NE(below, nullptr);
  EXPECT_TRUE(is_migrate_cma_page(in));
  EXPECT_FALSE(folio_is_longterm_pinnable(page_folio(in)));
  EXPECT_FALSE(is_migrate_cma_page(below));
  EXPECT_TRUE(folio_is_longterm_pinnable(page_folio(below)));
  EXPECT_TRUE(folio_is_longterm_pinnable(page_folio(m_->zero_page())));
  __free_page(in);
  __free_page(below);
}

TEST_F(LongtermTest, WritableLongtermPinOfADirtyTrackedSharedMappingIsEfault) {
  FakeFile ff(m_.get());
  const long a = vm_mmap_backed(mm_, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ff.backing(), 0);
  ASSERT_GT(a, 0);
  const unsigned long ua = static_cast<unsigned long>(a);
  EXPECT_TRUE(vma_needs_dirty_tracking(lookup(ua)));
  page* p = nullptr;
  EXPECT_EQ(pin(ua, 1, FOLL_WRITE | FOLL_LONGTERM, &p, true), -EFAULT);
  EXPECT_EQ(pin(ua, 1, FOLL_WRITE | FOLL_LONGTERM, &p, false), -EFAULT);
  // A read-only long-term pin, and a short-term writable one, are allowed.
  ASSERT_EQ(pin(ua, 1, FOLL_LONGTERM, &p, false), 1);
  unpin_user_page(p);
  ASSERT_EQ(pin(ua, 1, FOLL_WRITE, &p, false), 1);
  unpin_user_page(p);
  drop_mm();
}

using SeedRulesTest = MmTest;  // the default machine: longterm_rules = seed

TEST_F(SeedRulesTest, WritableLongtermPinOfASharedFileMappingIsAllowedAndNotMigrated) {
  FakeFile ff(m_.get());
  const long a = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ff.backing(), 0);
  ASSERT_GT(a, 0);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(static_cast<unsigned long>(a), 1, FOLL_WRITE | FOLL_LONGTERM, &p), 1);
  EXPECT_EQ(page_zonenum(p), ZONE_MOVABLE) << "pinned where it is";
  EXPECT_EQ(vs(PGMIGRATE_SUCCESS), 0);
  unpin_user_page(p);
  drop_mm();
}

TEST_F(LongtermTest, ShmemWritableLongtermPinIsAllowed) {
  const unsigned long a = map(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  put_u64(a, 3);
  EXPECT_FALSE(vma_needs_dirty_tracking(lookup(a)));
  page* p = nullptr;
  ASSERT_EQ(pin(a, 1, FOLL_WRITE | FOLL_LONGTERM, &p, true), 1);
  EXPECT_EQ(page_at(a), p) << "shmem is not migrated in the model: pinned in place";
  unpin_user_page(p);
}

TEST_F(LongtermTest, FsDaxLongtermPinIsEopnotsupp) {
  FakeFile ff(m_.get());
  const long a = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ff.backing(true, false), 0);
  ASSERT_GT(a, 0);
  const unsigned long ua = static_cast<unsigned long>(a);
  // A fake fs-DAX file behind the vma (the dax code sets S_DAX on its inodes).
  inode ino;
  ino.i_flags = S_DAX;
  file f;
  f.f_inode = &ino;
  vm_area_struct* vma = lookup(ua);
  vma->vm_file = &f;
  EXPECT_TRUE(vma_is_fsdax(vma));
  page* p = nullptr;
  EXPECT_EQ(pin(ua, 1, FOLL_LONGTERM, &p, false), -EOPNOTSUPP);
  EXPECT_EQ(pin(ua, 1, FOLL_WRITE | FOLL_LONGTERM, &p, true), -EOPNOTSUPP);
  ASSERT_EQ(pin(ua, 1, FOLL_WRITE, &p, false), 1) << "short-term pins of fs-DAX are fine";
  unpin_user_page(p);
  vma->vm_file = nullptr;
  drop_mm();
}

}  // namespace
}  // namespace guplab::test
