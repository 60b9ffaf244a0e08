// migrate_test.cc - page migration: an anonymous page moves with its contents, its
// mappings and an MMU_NOTIFY_MIGRATE; a page that may be DMA-pinned stays under every
// design that tracks pins and moves under `get`, leaving the pinner on the old frame;
// migration entries are waited for, copied by fork, dropped by zap.
#include "mm/migrate.h"

#include <cstring>
#include <vector>

#include "mm/gup.h"
#include "mm/mm_fixture.h"
#include "mm/mmu_notifier.h"
#include "mm/pin.h"
#include "mm/swapops.h"

namespace guplab::test {
namespace {

struct Recorder {
  mmu_notifier sub;
  std::vector<mmu_notifier_range> starts;
  static int start(mmu_notifier* s, const mmu_notifier_range* r) {
    reinterpret_cast<Recorder*>(s)->starts.push_back(*r);
    return 0;
  }
};
const mmu_notifier_ops kRecorderOps = {.invalidate_range_start = Recorder::start};

// A destination outside ZONE_MOVABLE, so a move is visible in the zone too.
folio* new_normal(folio*) { return page_folio(alloc_page(gfp_t::GFP_HIGHUSER)); }

class MigrateTest : public MmTest {
 protected:
  // Isolate the page mapped at @a and migrate it; returns how many did not move.
  int migrate_at(unsigned long a, unsigned* ok = nullptr) {
    list_head list;
    INIT_LIST_HEAD(&list);
    page* p = page_at(a);
    if (!p || !isolate_folio_for_migration(p, &list)) return 1;
    return migrate_pages(m_.get(), &list, new_normal, MIGRATE_SYNC, MR_SYSCALL, ok);
  }
};

TEST_F(MigrateTest, AnonPageMovesWithItsContentsMappingAndANotification) {
  const unsigned long a = map(2 * PAGE_SIZE);
  put_u64(a, 0x1234);
  put_u64(a + PAGE_SIZE, 0x5678);
  page* old = page_at(a);
  ASSERT_EQ(page_zonenum(old), ZONE_MOVABLE);
  Recorder rec;
  rec.sub.ops = &kRecorderOps;
  ASSERT_EQ(mmu_notifier_register(&rec.sub, mm_), 0);
  unsigned ok = 0;
  EXPECT_EQ(migrate_at(a, &ok), 0);
  EXPECT_EQ(ok, 1u);
  page* now = page_at(a);
  ASSERT_NE(now, nullptr);
  EXPECT_NE(now, old);
  EXPECT_EQ(page_zonenum(now), ZONE_NORMAL);
  EXPECT_TRUE(PageAnon(now) && PageAnonExclusive(now) && PageLRU(now));
  EXPECT_EQ(page_mapcount(now), 1);
  EXPECT_EQ(page_ref_count(now), 1) << "the mapping's reference only";
  EXPECT_TRUE(pte_write(pte_at(a))) << "a writable pte stays writable";
  EXPECT_EQ(get_u64(a), 0x1234u);
  EXPECT_EQ(get_u64(a + PAGE_SIZE), 0x5678u);
  put_u64(a, 7);  // no COW: the page is still exclusive
  EXPECT_EQ(page_at(a), now);
  EXPECT_EQ(vs(PGMIGRATE_SUCCESS), 1);
  ASSERT_EQ(rec.starts.size(), 1u);
  EXPECT_EQ(rec.starts[0].event, MMU_NOTIFY_MIGRATE);
  EXPECT_EQ(rec.starts[0].start, a);
  EXPECT_EQ(rec.starts[0].end, a + PAGE_SIZE);
  mmu_notifier_unregister(&rec.sub, mm_);
}

TEST_F(MigrateTest, SharedAnonPageMovesForParentAndChild) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 99);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  page* old = page_at(a);
  ASSERT_EQ(page_at(a, child), old);
  EXPECT_EQ(migrate_at(a), 0);
  page* now = page_at(a);
  EXPECT_NE(now, old);
  EXPECT_EQ(page_at(a, child), now);
  EXPECT_EQ(page_mapcount(now), 2);
  EXPECT_FALSE(PageAnonExclusive(now));
  put_u64(a, 100, child);  // COW in the child
  EXPECT_EQ(get_u64(a), 99u);
  EXPECT_EQ(get_u64(a, child), 100u);
  mmput(child);
}

TEST_F(MigrateTest, ReferenceHeldByAnotherRefusesWithEagainAndChangesNothing) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 5);
  page* old = page_at(a);
  get_page(old);  // e.g. a FOLL_GET reference (any design but get checks refcounts)
  EXPECT_EQ(migrate_at(a), 1);
  EXPECT_EQ(page_at(a), old);
  EXPECT_TRUE(pte_present(pte_at(a)) && pte_write(pte_at(a)));
  EXPECT_TRUE(PageAnonExclusive(old) && PageLRU(old));
  EXPECT_EQ(vs(PGMIGRATE_FAIL), 1);
  EXPECT_EQ(get_u64(a), 5u);
  put_page(old);
}

// A reference holder may be writing the frame (the model's uaccess copies through one):
// the refcount is checked before the copy, so a refused migration never read the page.
TEST_F(MigrateTest, ReferenceHeldByAnotherIsSeenBeforeTheCopy) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 0x5eed);
  page* old = page_at(a);
  get_page(old);
  page* dst = nullptr;
  list_head list;
  INIT_LIST_HEAD(&list);
  ASSERT_TRUE(isolate_folio_for_migration(old, &list));
  const int failed = migrate_pages(
      m_.get(), &list,
      [&dst](folio*) {
        dst = alloc_page(gfp_t::GFP_HIGHUSER | gfp_t::__GFP_ZERO);
        return dst ? page_folio(dst) : nullptr;
      },
      MIGRATE_SYNC, MR_SYSCALL, nullptr);
  EXPECT_EQ(failed, 1);
  ASSERT_NE(dst, nullptr);
  uint64_t first = 1;
  std::memcpy(&first, page_address(dst), sizeof(first));  // freed again, still readable
  EXPECT_EQ(first, 0u) << "the destination was never written";
  EXPECT_EQ(page_at(a), old);
  EXPECT_EQ(get_u64(a), 0x5eedu);
  put_page(old);
}

TEST_F(MigrateTest, MigrationEntryIsDroppedByZapAndCopiedReadOnlyByFork) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  // Hand-make the state a migration leaves between unmap and remap.
  page* p = page_at(a);
  folio* f = page_folio(p);
  pgtable_slot* slot;
  {
    SpinGuard g(&mm_->page_table_lock);
    slot = pte_walk(mm_, a);
    pte_t pte = ptep_get_and_clear(slot);
    set_pte(slot, make_migration_entry(pte, true));
  }
  ClearPageAnonExclusive(f);
  page_remove_rmap(p, lookup(a), false);
  EXPECT_TRUE(is_writable_migration_entry(pte_at(a)));
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(is_migration_entry(pte_at(a, child)));
  EXPECT_FALSE(is_writable_migration_entry(pte_at(a, child)));
  EXPECT_FALSE(is_writable_migration_entry(pte_at(a))) << "both sides read-only: COW once it is back";
  EXPECT_EQ(atomic_read(&child->rss_anon), 1);
  mmput(child);
  ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_TRUE(pte_none(pte_at(a)));
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 0);
  folio_put(f);  // the mapping's reference the "migration" held
}

class MigratePinTest : public MigrateTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = small_config();
    c.pin_design = GetParam();
    return c;
  }
};

TEST_P(MigratePinTest, PinnedPageStaysUnlessNothingTracksPins) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 42);
  page* pinned = nullptr;
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE | FOLL_LONGTERM, &pinned), 1);
  page* old = page_at(a);
  ASSERT_EQ(pinned, old);
  const int left = migrate_at(a);
  if (GetParam() != PinDesign::get) {
    EXPECT_EQ(left, 1) << "a maybe-pinned page is never moved";
    EXPECT_EQ(page_at(a), old);
    *static_cast<uint64_t*>(page_address(pinned)) = 43;  // the device's write
    EXPECT_EQ(get_u64(a), 43u) << "the process sees the device's write";
  } else {
    // Nothing tells the pin from any reference: the page moves, the device does not.
    EXPECT_EQ(left, 0);
    EXPECT_NE(page_at(a), old);
    EXPECT_EQ(page_mapcount(old), 0);
    EXPECT_EQ(page_ref_count(old), 1) << "the pin's reference keeps the old frame";
    EXPECT_EQ(old->mapping, nullptr);
    *static_cast<uint64_t*>(page_address(pinned)) = 43;
    EXPECT_EQ(get_u64(a), 42u) << "the device's write is lost";
  }
  unpin_user_pages_dirty_lock(&pinned, 1, true);
}

INSTANTIATE_TEST_SUITE_P(Designs, MigratePinTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count, PinDesign::fake_vma,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab::test
