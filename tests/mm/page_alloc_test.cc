// page_alloc_test.cc - buddy allocation, compound pages, refcount rules, bad frees.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "machine/machine.h"
#include "mm/lru.h"
#include "mm/page-flags.h"
#include "mm/page_alloc.h"
#include "mm/page_ref.h"
#include "mm/swap.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

using testing::MachineTest;

TEST_F(MachineTest, AllocFreeRestoresFreeCount) {
  const unsigned long before = nr_free_pages(&m());
  std::vector<page*> v;
  for (int i = 0; i < 100; i++) v.push_back(alloc_page(gfp_t::GFP_KERNEL));
  EXPECT_EQ(nr_free_pages(&m()), before - 100);
  std::set<page*> distinct(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), 100u);
  for (page* p : v) {
    EXPECT_EQ(page_ref_count(p), 1);
    EXPECT_EQ(page_zonenum(p), ZONE_NORMAL);
    __free_page(p);
  }
  EXPECT_EQ(nr_free_pages(&m()), before);
}

TEST_F(MachineTest, MovableComesFromZoneMovable) {
  page* p = alloc_page(gfp_t::GFP_HIGHUSER_MOVABLE);
  ASSERT_TRUE(p);
  EXPECT_EQ(page_zonenum(p), ZONE_MOVABLE);
  __free_page(p);
}

TEST_F(MachineTest, ZeroedAllocationIsZero) {
  page* p = alloc_page(gfp_t::GFP_KERNEL);
  std::memset(page_address(p), 0xab, PAGE_SIZE);
  __free_page(p);
  page* q = alloc_page(gfp_t::GFP_KERNEL | gfp_t::__GFP_ZERO);
  const char* b = static_cast<const char*>(page_address(q));
  for (unsigned i = 0; i < PAGE_SIZE; i++) ASSERT_EQ(b[i], 0);
  __free_page(q);
}

TEST_F(MachineTest, PfnPageAddressRoundTrip) {
  page* p = alloc_page(gfp_t::GFP_KERNEL);
  unsigned long pfn = page_to_pfn(p);
  EXPECT_EQ(m().mem().pfn_to_page(pfn), p);
  EXPECT_EQ(virt_to_page(page_address(p), m().mem()), p);
  EXPECT_EQ(static_cast<char*>(page_address(p)) - m().mem().arena(), static_cast<long>(pfn << PAGE_SHIFT));
  __free_page(p);
}

TEST_F(MachineTest, Order9FolioIsCompoundAndAligned) {
  folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER);
  ASSERT_TRUE(f);
  EXPECT_EQ(page_to_pfn(f) % HPAGE_PMD_NR, 0u);
  EXPECT_TRUE(PageHead(f));
  EXPECT_EQ(folio_nr_pages(f), 512u);
  for (unsigned i = 1; i < 512; i++) {
    page* t = folio_page(f, i);
    ASSERT_TRUE(PageTail(t));
    ASSERT_EQ(compound_head(t), static_cast<page*>(f));
    ASSERT_EQ(page_ref_count(t), 0);
  }
  EXPECT_EQ(folio_page(f, 1)->_pincount, 0);
  const unsigned long before = nr_free_pages(&m());
  folio_put(f);
  EXPECT_EQ(nr_free_pages(&m()), before + 512);
}

TEST_F(MachineTest, BuddiesMergeBackIntoLargeBlocks) {
  // Split a 2 MiB block into pages, free them all, and get the 2 MiB block again.
  std::vector<page*> v;
  folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER);
  unsigned long pfn = page_to_pfn(f);
  folio_put(f);
  for (int i = 0; i < 512; i++) v.push_back(alloc_page(gfp_t::GFP_HIGHUSER_MOVABLE));
  for (page* p : v) __free_page(p);
  folio* g = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER);
  ASSERT_TRUE(g);
  EXPECT_EQ(page_to_pfn(g), pfn);
  folio_put(g);
}

TEST_F(MachineTest, ExhaustionReturnsNull) {
  std::vector<page*> v;
  while (page* p = alloc_page(gfp_t::GFP_HIGHUSER_MOVABLE)) v.push_back(p);
  EXPECT_EQ(nr_free_pages(&m()), 0u);
  EXPECT_EQ(alloc_page(gfp_t::GFP_KERNEL), nullptr);
  for (page* p : v) __free_page(p);
}

TEST_F(MachineTest, LastPutFreesAndTakesOffLru) {
  folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, 0);
  SetPageSwapBacked(f);
  folio_add_lru(f);
  EXPECT_TRUE(PageLRU(f));
  EXPECT_EQ(m().vmstat().read(NR_ZONE_INACTIVE_ANON), 1);
  folio_get(f);
  folio_put(f);
  EXPECT_EQ(page_ref_count(f), 1);
  folio_put(f);
  EXPECT_EQ(m().vmstat().read(NR_ZONE_INACTIVE_ANON), 0);
}

TEST_F(MachineTest, IsolateAndPutback) {
  folio* f = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, 0);
  folio_add_lru(f);
  EXPECT_TRUE(folio_isolate_lru(f));
  EXPECT_FALSE(PageLRU(f));
  EXPECT_EQ(page_ref_count(f), 2);
  EXPECT_FALSE(folio_isolate_lru(f));
  folio_putback_lru(f);
  EXPECT_TRUE(PageLRU(f));
  EXPECT_EQ(page_ref_count(f), 1);
  folio_put(f);
}

TEST_F(MachineTest, FreeingAMappedPageIsAnOops) {
  check_balance_ = false;
  page* p = alloc_page(gfp_t::GFP_KERNEL);
  atomic_set(&p->_mapcount, 0);  // pretend a pte still maps it
  bool returned = false;
  task_join(m().spawn("bad", [&] {
    __free_page(p);
    returned = true;
  }));
  EXPECT_FALSE(returned);
  ASSERT_EQ(m().nr_oops(), 1u);
  EXPECT_NE(m().oopses()[0].message.find("mapcount=1"), std::string::npos);
  machine_.reset();  // the halted machine is discarded whole
}

}  // namespace
}  // namespace guplab
