// boot_cache_test.cc - a machine booted on reused mappings shows what a fresh one does:
// zeroed frames, a clean mem_map, the same free figure; the stacks are reused too.
#include "machine/boot_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "machine/machine.h"
#include "mm/page_alloc.h"
#include "mm/page_ref.h"

namespace guplab {
namespace {

MachineConfig small(BootCache* cache) {
  MachineConfig c;
  c.ram_bytes = 4ull << 20;
  c.thp = false;
  c.boot_cache = cache;
  return c;
}

bool all_zero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

TEST(BootCache, ReusedArenaIsZeroedAndTheMachineBootsAsNew) {
  BootCache cache;
  const char* arena = nullptr;
  unsigned long boot_free = 0;
  {
    Machine m(small(&cache));
    arena = m.mem().arena();
    boot_free = m.boot_free_pages();
    m.run([&] {
      std::vector<page*> pages;
      for (int i = 0; i < 200; i++) {
        page* p = alloc_pages_on(&m, gfp_t::GFP_KERNEL, i % 3);
        ASSERT_NE(p, nullptr);
        std::memset(page_address(p), 0xa5, PAGE_SIZE << (i % 3));
        pages.push_back(p);
      }
      for (size_t i = 0; i < pages.size(); i++) __free_pages(pages[i], static_cast<unsigned>(i % 3));
    });
  }
  EXPECT_EQ(cache.mem.cached(), 1u);
  Machine again(small(&cache));
  EXPECT_EQ(again.mem().arena(), arena) << "the mapping was reused";
  EXPECT_EQ(cache.mem.cached(), 0u);
  EXPECT_EQ(again.boot_free_pages(), boot_free);
  EXPECT_TRUE(all_zero(again.mem().arena(), again.mem().bytes())) << "every frame reads as a fresh mapping's";
  for (unsigned long pfn = 1; pfn < again.mem().nr_pages(); pfn++) {
    const page* p = again.mem().pfn_to_page(pfn);
    ASSERT_EQ(page_ref_count(p), 0) << pfn;
    ASSERT_EQ(p->mapping, nullptr) << pfn;
  }
}

TEST(BootCache, ADifferentSizeGetsItsOwnMapping) {
  BootCache cache;
  { Machine m(small(&cache)); }
  MachineConfig big = small(&cache);
  big.ram_bytes = 8ull << 20;
  Machine m(big);
  EXPECT_EQ(cache.mem.cached(), 1u) << "the 4 MiB mapping stays cached";
}

TEST(BootCache, StackPoolIsSharedAndReplacedOnlyWhenTooSmall) {
  BootCache cache;
  StackPool* a = cache.stacks(64 * 1024);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(cache.stacks(32 * 1024), a);
  StackPool* b = cache.stacks(512 * 1024);
  ASSERT_NE(b, nullptr);
  EXPECT_GE(b->stack_size(), 512u * 1024);
}

}  // namespace
}  // namespace guplab
