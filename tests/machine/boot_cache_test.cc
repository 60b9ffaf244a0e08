// boot_cache_test.cc - a machine booted on reused mappings shows what a fresh one does:
// zeroed frames, a clean mem_map, the same free figure; the stacks are reused too.
#include "machine/boot_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "block/ramdisk.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
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

TEST(BootCache, ARamdiskOnReusedBuffersReadsAsAFreshOne) {
  BootCache cache;
  ramdisk_config rc;
  rc.size_bytes = 1ull << 20;
  const sector_t last = (rc.size_bytes >> SECTOR_SHIFT) - 8;
  {
    Machine m(small(&cache));
    m.run([&] {
      std::unique_ptr<ramdisk> rd;
      ASSERT_EQ(ramdisk::create(&m, "ram0", rc, &rd), 0);
      std::vector<char> ones(8 << SECTOR_SHIFT, 0x5a);
      ASSERT_EQ(rd->write_sectors(0, 8, ones.data()), 0);
      ASSERT_EQ(rd->write_sectors(last, 8, ones.data()), 0);
      ASSERT_EQ(rd->write_sectors(1001, 3, ones.data()), 0);  // not 4 KiB aligned
      EXPECT_EQ(rd->sector_generation(last), 2u);
    });
  }
  EXPECT_EQ(cache.bufs.cached(), 2u) << "the storage and the generations went back";
  Machine again(small(&cache));
  again.run([&] {
    std::unique_ptr<ramdisk> rd;
    ASSERT_EQ(ramdisk::create(&again, "ram0", rc, &rd), 0);
    EXPECT_EQ(cache.bufs.cached(), 0u) << "both were taken again";
    std::vector<char> all(rc.size_bytes);
    std::vector<uint64_t> gens(rc.size_bytes >> SECTOR_SHIFT, 1);
    ASSERT_EQ(rd->read_sectors(0, static_cast<unsigned>(gens.size()), all.data(), gens.data()), 0);
    EXPECT_TRUE(all_zero(all.data(), all.size())) << "every byte reads as a fresh mapping's";
    EXPECT_TRUE(all_zero(gens.data(), gens.size() * sizeof(uint64_t))) << "no sector was ever written";
    EXPECT_EQ(rd->write_generation(), 0u);
  });
}

TEST(BootCache, SyncPointNamesAreKeptButEveryPointReadsAsNew) {
  BootCache cache;
  int calls = 0;
  {
    Machine m(small(&cache));
    SyncPoints& sp = m.sync_points();
    sp.enable();
    sp.load_dependency({{"a", "b"}});
    sp.set_callback("b", [&] { calls++; });
    m.run([&] {
      TEST_SYNC_POINT("a");
      TEST_SYNC_POINT("b");
      TEST_SYNC_POINT("c");
    });
    EXPECT_EQ(sp.hits("c"), 1u);
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(cache.sync_names.size(), 3u) << "the names went back";
  Machine again(small(&cache));
  EXPECT_EQ(cache.sync_names.size(), 0u) << "and were taken again";
  SyncPoints& sp = again.sync_points();
  sp.enable();
  EXPECT_TRUE(sp.never_passed().empty()) << "no dependency came along";
  again.run([&] {
    TEST_SYNC_POINT("b");  // no predecessor to wait for, no callback to run
    TEST_SYNC_POINT("b");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sp.hits("a"), 0u);
  EXPECT_EQ(sp.hits("b"), 2u);
  EXPECT_EQ(sp.hits("c"), 0u);
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
