// hugetlb_test.cc - hugetlb pools and MAP_HUGETLB mappings (mm/hugetlb.h): boot
// reservation and its refusal, mmap reservation and -ENOMEM, PMD and PUD leaves, munmap
// back to the pool, misaligned ranges, fork (shared shares, private COWs, a pinned folio
// is copied at fork), mprotect; hugetlbfs files (shared and private mappings, fork, an
// unsharing long-term pin); and GUP of PMD and PUD hugetlb leaves under every pin
// design, slow and fast path.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "base/task.h"
#include "mm/gup.h"
#include "mm/hugetlb.h"
#include "mm/pin.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

constexpr int kHuge2M = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | kMapHuge2MB;
constexpr int kHuge1G = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | kMapHuge1GB;

MachineConfig pool_config(PinDesign d = PinDesign::folio_pincount) {
  MachineConfig c = test::small_config(2ull << 30);
  c.hugetlb_2m_pages = 4;
  c.hugetlb_1g_pages = 1;
  c.pin_design = d;
  return c;
}

class HugetlbTest : public test::MmTest {
 protected:
  MachineConfig config() override { return pool_config(); }
  HugetlbPoolStat pool2m() { return m_->hugetlb().stat(m_->hugetlb().h2m()); }
  HugetlbPoolStat pool1g() { return m_->hugetlb().stat(m_->hugetlb().h1g()); }
  /** leaf() - the PMD or PUD leaf value mapping @addr (0 if none). */
  pteval_t leaf(unsigned long addr, bool pud, mm_struct* mm = nullptr) {
    mm = mm ? mm : mm_;
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* s = pud ? pud_walk(mm, addr) : pmd_walk(mm, addr);
    return s ? READ_ONCE(*s) : 0;
  }
  long hmap(unsigned long len, int flags, int prot = PROT_READ | PROT_WRITE, unsigned long addr = 0) {
    return vm_mmap(mm_, addr, len, prot, flags, nullptr, 0);
  }
};

TEST_F(HugetlbTest, PoolsAreReservedAtBootOutsideTheBuddyAllocator) {
  EXPECT_EQ(pool2m().total, 4ul);
  EXPECT_EQ(pool2m().free, 4ul);
  EXPECT_EQ(pool1g().total, 1ul);
  EXPECT_EQ(pool1g().free, 1ul);
  const unsigned long pool_pages = 4 * HPAGE_PMD_NR + (PUD_SIZE >> PAGE_SHIFT);
  EXPECT_LE(m_->boot_free_pages() + pool_pages, m_->mem().nr_pages());
}

TEST(HugetlbBootTest, APoolTheRamCannotHoldIsRefusedNamingTheLimitAndTheOption) {
  MachineConfig c = test::small_config(1ull << 30);
  c.hugetlb_1g_pages = 1;
  EXPECT_EQ(hugetlb_min_ram_bytes(c), 2ull << 30);
  try {
    Machine m(c);
    ADD_FAILURE() << "booted with a 1 GiB pool in 1 GiB of RAM";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("1 x 1 GiB"), std::string::npos) << what;
    EXPECT_NE(what.find("at least 2048 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("--ram"), std::string::npos) << what;
  }
  c = test::small_config(64ull << 20);
  c.hugetlb_2m_pages = 64;  // 128 MiB of 2 MiB pages in 64 MiB
  EXPECT_THROW(Machine m(c), std::invalid_argument);
  c.ram_bytes = hugetlb_min_ram_bytes(c);
  Machine ok(c);
  EXPECT_EQ(ok.hugetlb().stat(ok.hugetlb().h2m()).total, 64ul);
}

TEST_F(HugetlbTest, MmapReservesAFaultMapsAPmdLeafAndMunmapReturnsTheFolio) {
  long a = hmap(2 * PMD_SIZE, kHuge2M);
  ASSERT_GT(a, 0);
  const auto addr = static_cast<unsigned long>(a);
  EXPECT_EQ(addr & ~PMD_MASK, 0ul);
  EXPECT_EQ(pool2m().resv, 2ul);
  put_u64(addr + PMD_SIZE + 8, 42);
  EXPECT_EQ(get_u64(addr + PMD_SIZE + 8), 42u);
  const pteval_t e = leaf(addr + PMD_SIZE, false);
  ASSERT_TRUE(pmd_leaf(pmd_t{e}));
  folio* f = page_folio(m_->mem().pfn_to_page(pteval_pfn(e)));
  EXPECT_TRUE(folio_test_hugetlb(f));
  EXPECT_EQ(folio_order(f), HPAGE_PMD_ORDER);
  EXPECT_TRUE(PageAnon(f));
  EXPECT_EQ(pool2m().free, 3ul);
  EXPECT_EQ(pool2m().resv, 1ul);
  EXPECT_EQ(vm_munmap(mm_, addr, 2 * PMD_SIZE), 0);
  EXPECT_EQ(pool2m().free, 4ul);
  EXPECT_EQ(pool2m().resv, 0ul);
  EXPECT_EQ(page_ref_count(f), 0);
}

TEST_F(HugetlbTest, TheLengthRoundsUpToTheHugePageSize) {
  long a = hmap(PAGE_SIZE, kHuge2M);
  ASSERT_GT(a, 0);
  vm_area_struct* vma = lookup(static_cast<unsigned long>(a));
  ASSERT_NE(vma, nullptr);
  EXPECT_EQ(vma->vm_end - vma->vm_start, PMD_SIZE);
  EXPECT_TRUE(is_vm_hugetlb_page(vma));
  EXPECT_EQ(pool2m().resv, 1ul);
}

TEST_F(HugetlbTest, AnEmptyPoolIsEnomemAtMmapAndSigbusAtAnUnreservedFault) {
  EXPECT_EQ(hmap(5 * PMD_SIZE, kHuge2M), -ENOMEM) << "more than the pool";
  long a = hmap(4 * PMD_SIZE, kHuge2M);
  ASSERT_GT(a, 0);
  EXPECT_EQ(hmap(PMD_SIZE, kHuge2M), -ENOMEM) << "all reserved";
  long b = hmap(PMD_SIZE, kHuge2M | MAP_NORESERVE);
  ASSERT_GT(b, 0);
  uint64_t v = 1;
  EXPECT_EQ(uaccess_write(mm_, static_cast<unsigned long>(b), &v, sizeof(v)), -EFAULT) << "SIGBUS: nothing free";
  EXPECT_EQ(fault(static_cast<unsigned long>(b), FAULT_FLAG_WRITE), VM_FAULT_SIGBUS);
  for (unsigned i = 0; i < 4; i++) put_u64(static_cast<unsigned long>(a) + i * PMD_SIZE, i);  // reserved: never fail
  EXPECT_EQ(pool2m().free, 0ul);
}

TEST_F(HugetlbTest, MisalignedRangesAndUnknownSizesAreEinval) {
  long a = hmap(2 * PMD_SIZE, kHuge2M);
  ASSERT_GT(a, 0);
  const auto addr = static_cast<unsigned long>(a);
  EXPECT_EQ(hmap(PMD_SIZE, kHuge2M | MAP_FIXED, PROT_READ | PROT_WRITE, addr + 4 * PMD_SIZE + PAGE_SIZE), -EINVAL);
  EXPECT_EQ(hmap(PMD_SIZE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (16 << kMapHugeShift)), -EINVAL);
  EXPECT_EQ(vm_munmap(mm_, addr, PAGE_SIZE), -EINVAL) << "half a huge page";
  EXPECT_EQ(vm_munmap(mm_, addr + PAGE_SIZE, PMD_SIZE), -EINVAL);
  EXPECT_EQ(do_mprotect(mm_, addr + PMD_SIZE / 2, PMD_SIZE, PROT_READ), -EINVAL);
  EXPECT_EQ(vm_munmap(mm_, addr + PMD_SIZE, PMD_SIZE), 0) << "a whole one splits the vma";
  EXPECT_EQ(pool2m().resv, 2ul) << "the remaining vma holds the reservation (departure: not returned per range)";
}

TEST_F(HugetlbTest, APudLeafMapsTheGigantic1GiBFolio) {
  long a = hmap(PUD_SIZE, kHuge1G);
  ASSERT_GT(a, 0);
  const auto addr = static_cast<unsigned long>(a);
  EXPECT_EQ(addr & ~PUD_MASK, 0ul);
  put_u64(addr + PUD_SIZE - 8, 7);
  EXPECT_EQ(get_u64(addr + PUD_SIZE - 8), 7u);
  const pteval_t e = leaf(addr, true);
  ASSERT_TRUE(pud_leaf(pud_t{e}));
  EXPECT_EQ(pteval_pfn(e) & ((PUD_SIZE >> PAGE_SHIFT) - 1), 0ul) << "1 GiB aligned frames";
  folio* f = page_folio(m_->mem().pfn_to_page(pteval_pfn(e)));
  EXPECT_EQ(folio_nr_pages(f), PUD_SIZE >> PAGE_SHIFT);
  EXPECT_EQ(pool1g().free, 0ul);
  EXPECT_EQ(vm_munmap(mm_, addr, PUD_SIZE), 0);
  EXPECT_EQ(pool1g().free, 1ul);
}

TEST_F(HugetlbTest, ForkSharesASharedMappingAndCopiesAPrivateOneOnWrite) {
  long s = hmap(PMD_SIZE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB);
  long p = hmap(PMD_SIZE, kHuge2M);
  ASSERT_GT(s, 0);
  ASSERT_GT(p, 0);
  const auto sa = static_cast<unsigned long>(s), pa = static_cast<unsigned long>(p);
  put_u64(sa, 1);
  put_u64(pa, 2);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_FALSE(leaf(pa, false) & _PAGE_RW) << "private: write-protected in the parent";
  put_u64(sa, 10, child);
  EXPECT_EQ(get_u64(sa), 10u) << "shared: one folio";
  const int64_t cow = vs(COW_FAULTS);
  put_u64(pa, 20, child);
  EXPECT_EQ(vs(COW_FAULTS), cow + 1);
  EXPECT_EQ(get_u64(pa), 2u) << "private: the child wrote its own copy";
  EXPECT_EQ(get_u64(pa, child), 20u);
  EXPECT_EQ(pool2m().free, 1ul);
  put_u64(pa, 3);  // the parent's folio is its own again: reused, no copy
  EXPECT_EQ(vs(COW_FAULTS), cow + 1);
  mmput(child);
  EXPECT_EQ(pool2m().free, 2ul);
}

TEST_F(HugetlbTest, ForkCopiesAPinnedPrivateFolioAtOnce) {
  long p = hmap(PMD_SIZE, kHuge2M);
  ASSERT_GT(p, 0);
  const auto pa = static_cast<unsigned long>(p);
  put_u64(pa, 5);
  page* pg = nullptr;
  ASSERT_EQ(pin_user_pages_fast(pa, 1, FOLL_WRITE, &pg), 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(leaf(pa, false) & _PAGE_RW) << "the parent keeps its pinned folio writable";
  EXPECT_NE(pteval_pfn(leaf(pa, false, child)), pteval_pfn(leaf(pa, false)));
  EXPECT_EQ(get_u64(pa, child), 5u);
  unpin_user_page(pg);
  mmput(child);
}

TEST_F(HugetlbTest, MprotectRewritesTheLeaf) {
  long p = hmap(PMD_SIZE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB);
  ASSERT_GT(p, 0);
  const auto pa = static_cast<unsigned long>(p);
  put_u64(pa, 1);
  ASSERT_EQ(do_mprotect(mm_, pa, PMD_SIZE, PROT_READ), 0);
  EXPECT_FALSE(leaf(pa, false) & _PAGE_RW);
  uint64_t v = 2;
  EXPECT_EQ(uaccess_write(mm_, pa, &v, sizeof(v)), -EFAULT);
  ASSERT_EQ(do_mprotect(mm_, pa, PMD_SIZE, PROT_READ | PROT_WRITE), 0);
  put_u64(pa, 3);
  EXPECT_EQ(get_u64(pa), 3u);
}

// hugetlbfs files (memfd_create(MFD_HUGETLB)): a shared mapping is the file; a private
// one reads the file's folio and copies it on a write, an unshare or after fork.
class HugetlbfsFileTest : public HugetlbTest {
 protected:
  hugetlb_file* file_ = nullptr;
  void SetUp() override {
    HugetlbTest::SetUp();
    ASSERT_EQ(hugetlbfs_file_create(m_.get(), PMD_SIZE, &file_), 0);
  }
  void TearDown() override {
    if (file_) hugetlb_file_put(file_);
    HugetlbTest::TearDown();
  }
  long fmap(int type, int prot = PROT_READ | PROT_WRITE, mm_struct* mm = nullptr) {
    mmap_backing b;
    b.hugetlb = file_;
    return vm_mmap_backed(mm ? mm : mm_, 0, PMD_SIZE, prot, type, b, 0);
  }
  /** map_both() - a shared and a private mapping of the file, read-write. */
  void map_both(unsigned long* sa, unsigned long* pa) {
    long s = fmap(MAP_SHARED);
    long p = fmap(MAP_PRIVATE);
    ASSERT_GT(s, 0);
    ASSERT_GT(p, 0);
    *sa = static_cast<unsigned long>(s);
    *pa = static_cast<unsigned long>(p);
  }
};

TEST_F(HugetlbfsFileTest, CreateAllocatesThePagesAndTooFewFreeIsEnospc) {
  EXPECT_EQ(pool2m().free, 3ul) << "fallocate(): the page is the file's";
  hugetlb_file* big = nullptr;
  EXPECT_EQ(hugetlbfs_file_create(m_.get(), 4 * PMD_SIZE, &big), -ENOSPC);
  EXPECT_EQ(pool2m().free, 3ul) << "nothing kept";
  EXPECT_EQ(hugetlbfs_file_create(m_.get(), 0, &big), -EINVAL);
  hugetlb_file_put(file_);
  file_ = nullptr;
  EXPECT_EQ(pool2m().free, 4ul);
}

TEST_F(HugetlbfsFileTest, APrivateMappingReadsTheFileAndCopiesOnWrite) {
  unsigned long sa = 0, pa = 0;
  ASSERT_NO_FATAL_FAILURE(map_both(&sa, &pa));
  EXPECT_EQ(pool2m().resv, 1ul) << "the private mapping reserved its copy";
  put_u64(sa + 64, 7);
  EXPECT_EQ(get_u64(pa + 64), 7u) << "a private read maps the file's folio";
  EXPECT_EQ(pteval_pfn(leaf(pa, false)), pteval_pfn(leaf(sa, false)));
  EXPECT_FALSE(leaf(pa, false) & _PAGE_RW);
  const int64_t cow = vs(COW_FAULTS);
  put_u64(pa + 64, 8);
  EXPECT_EQ(vs(COW_FAULTS), cow + 1);
  EXPECT_EQ(get_u64(sa + 64), 7u) << "the file is unchanged";
  EXPECT_EQ(get_u64(pa + 64), 8u);
  EXPECT_NE(pteval_pfn(leaf(pa, false)), pteval_pfn(leaf(sa, false)));
  EXPECT_EQ(pool2m().resv, 0ul);
  put_u64(sa + 64, 9);
  EXPECT_EQ(get_u64(pa + 64), 8u) << "the copy no longer follows the file";
  ASSERT_EQ(vm_munmap(mm_, pa, PMD_SIZE), 0);
  EXPECT_EQ(pool2m().free, 3ul) << "the copy went back to the pool";
}

TEST_F(HugetlbfsFileTest, AForkedPrivateMappingStillReadsTheFile) {
  unsigned long sa = 0, pa = 0;
  ASSERT_NO_FATAL_FAILURE(map_both(&sa, &pa));
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  put_u64(sa, 11);
  EXPECT_EQ(get_u64(pa, child), 11u) << "the child's first fault reads the file";
  put_u64(pa, 12, child);
  EXPECT_EQ(get_u64(sa), 11u);
  EXPECT_EQ(get_u64(pa), 11u);
  mmput(child);
}

TEST_F(HugetlbfsFileTest, ALongtermReadPinOfAPrivateMappingUnsharesTheFilePage) {
  unsigned long sa = 0, pa = 0;
  ASSERT_NO_FATAL_FAILURE(map_both(&sa, &pa));
  EXPECT_EQ(get_u64(pa), 0u);
  page* pg = nullptr;
  ASSERT_EQ(pin_user_pages_fast(pa, 1, FOLL_LONGTERM, &pg), 1);
  EXPECT_TRUE(PageAnon(pg)) << "R/O long-term pins of a COW mapping unshare (gup_must_unshare())";
  EXPECT_NE(page_to_pfn(pg), pteval_pfn(leaf(sa, false)));
  put_u64(pa, 13);  // the pinned copy is this mapping's own: reused, the pin sees it
  uint64_t seen = 0;
  std::memcpy(&seen, page_address(pg), sizeof(seen));
  EXPECT_EQ(seen, 13u);
  EXPECT_EQ(get_u64(sa), 0u);
  unpin_user_page(pg);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), vs(NR_FOLL_PIN_ACQUIRED));
}

TEST_F(HugetlbfsFileTest, ASharedMappingPastTheFileReservesWhatItLacksAndNoCopyIsNeeded) {
  mmap_backing b;
  b.hugetlb = file_;
  long s = vm_mmap_backed(mm_, 0, 2 * PMD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
  ASSERT_GT(s, 0);
  EXPECT_EQ(pool2m().resv, 1ul) << "the second page, which the file lacked";
  put_u64(static_cast<unsigned long>(s) + PMD_SIZE, 1);
  EXPECT_EQ(pool2m().resv, 0ul);
  EXPECT_EQ(pool2m().free, 2ul);
  EXPECT_EQ(vm_mmap_backed(mm_, 0, PMD_SIZE, PROT_READ, MAP_SHARED, b, 1), -EINVAL) << "offset 0 only";
}

// Seed 000's bias on a 1 GiB folio: a whole-page pin adds 2^18 x 1024 = 2^28 to the one
// _refcount of its head, so the eighth held at once overflows it (-EOVERFLOW, with the
// WARN); upstream's _pincount (folio_pincount) has no such limit.
class HugetlbBiasTest : public HugetlbTest {
 protected:
  MachineConfig config() override { return pool_config(PinDesign::bias); }
};

TEST_F(HugetlbBiasTest, EightWholePudPinsOverflowTheBiasedRefcount) {
  long a = hmap(PUD_SIZE, kHuge1G);
  ASSERT_GT(a, 0);
  put_u64(static_cast<unsigned long>(a), 1);
  constexpr int kNr = PUD_SIZE >> PAGE_SHIFT;
  std::vector<std::vector<page*>> pins(8, std::vector<page*>(kNr));
  for (int i = 0; i < 7; i++) ASSERT_EQ(pin_user_pages_fast(static_cast<unsigned long>(a), kNr, FOLL_WRITE, pins[i].data()), kNr);
  EXPECT_EQ(page_ref_count(page_folio(pins[0][0])), 1 + 7 * (kNr * GUP_PIN_COUNTING_BIAS));
  EXPECT_EQ(pin_user_pages_fast(static_cast<unsigned long>(a), kNr, FOLL_WRITE, pins[7].data()), -EOVERFLOW);
  EXPECT_EQ(vs(GUP_PIN_OVERFLOW), 1);
  expected_warnings_ = 1;
  for (int i = 0; i < 7; i++) unpin_user_pages(pins[i].data(), kNr);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), vs(NR_FOLL_PIN_ACQUIRED));
}

// GUP-fast on a PUD leaf racing munmap, on the sim backend from a seed: every pin lands
// on the live folio or backs off (the re-read of the pud), none is reported unpinned,
// every pin is released, and the 1 GiB folio is back in its pool once the last goes.
TEST(HugetlbSimRaceTest, GupFastOnAPudLeafRacingMunmap) {
  for (PinDesign d : {PinDesign::bias, PinDesign::folio_pincount, PinDesign::dma_count}) {
    long all_pinned = 0, none_pinned = 0;  // seeds where the pinner won every call / lost every one
    for (uint64_t seed = 1; seed <= 12; seed++) {
      MachineConfig c = pool_config(d);
      c.backend = Backend::sim;
      c.seed = seed;
      Machine m(c);
      long false_negatives = 0, pinned = 0;
      m.run([&] {
        mm_struct* mm = mm_alloc(&m);
        long a = vm_mmap(mm, 0, PUD_SIZE, PROT_READ | PROT_WRITE, kHuge1G, nullptr, 0);
        ASSERT_GT(a, 0);
        const auto addr = static_cast<unsigned long>(a);
        uint64_t v = 1;
        ASSERT_EQ(uaccess_write(mm, addr, &v, sizeof(v)), 0);
        task_struct* pinner = m.spawn("pinner", [&] {
          std::vector<page*> pages(64);
          for (int i = 0; i < 4; i++) {
            const int got = pin_user_pages_fast(addr + static_cast<unsigned long>(i) * 4096 * 1000, 64, FOLL_WRITE, pages.data());
            for (int k = 0; k < got; k++)
              if (!page_maybe_dma_pinned(pages[k])) false_negatives++;
            if (got > 0) {
              pinned += got;
              unpin_user_pages(pages.data(), static_cast<unsigned long>(got));
            }
          }
        }, mm);
        task_struct* unmapper = m.spawn("munmap", [&] {
          for (uint64_t i = 0; i < (seed % 4) * 8; i++) cond_resched();  // lets the pinner get further on some seeds
          vm_munmap(mm, addr, PUD_SIZE);
        }, mm);
        task_join(pinner);
        task_join(unmapper);
        mmput(mm);
      });
      ASSERT_NE(m.sim_result(), nullptr);
      EXPECT_TRUE(m.sim_result()->ok()) << m.sim_result()->format();
      EXPECT_EQ(m.nr_oops(), 0u) << to_string(d) << " seed " << seed << ": " << (m.nr_oops() ? m.oopses()[0].format() : "");
      EXPECT_EQ(false_negatives, 0) << to_string(d) << " seed " << seed;
      EXPECT_EQ(m.vmstat().read(NR_FOLL_PIN_ACQUIRED), m.vmstat().read(NR_FOLL_PIN_RELEASED));
      EXPECT_EQ(m.vmstat().read(NR_FOLL_PIN_ACQUIRED), pinned);
      EXPECT_EQ(m.hugetlb().stat(m.hugetlb().h1g()).free, 1ul) << to_string(d) << " seed " << seed;
      all_pinned += pinned == 4 * 64;  // the pinner finished before the munmap
      none_pinned += pinned == 0;
    }
    EXPECT_LT(all_pinned, 12) << to_string(d) << ": the seeds must interleave munmap with the pins";
    EXPECT_LT(none_pinned, 12) << to_string(d);
  }
}

// ---- GUP of hugetlb leaves, every design, PMD and PUD, slow and fast ------------------

using GupParam = std::tuple<PinDesign, bool /* pud */, bool /* fast */>;

class HugetlbGupTest : public HugetlbTest, public ::testing::WithParamInterface<GupParam> {
 protected:
  MachineConfig config() override { return pool_config(std::get<0>(GetParam())); }
  PinDesign design() const { return std::get<0>(GetParam()); }
  bool pud() const { return std::get<1>(GetParam()); }
  bool fast() const { return std::get<2>(GetParam()); }
  unsigned long hsize() const { return pud() ? PUD_SIZE : PMD_SIZE; }
  unsigned long map_touched() {
    long a = hmap(hsize(), pud() ? kHuge1G : kHuge2M);
    EXPECT_GT(a, 0);
    put_u64(static_cast<unsigned long>(a), 1);
    return static_cast<unsigned long>(a);
  }
  long pin(unsigned long addr, int n, page** pages) {
    return pin_flags(addr, n, FOLL_WRITE, pages);
  }
  /** pin_flags() - pin_user_pages_fast(), or the slow path (taking mmap_lock itself). */
  long pin_flags(unsigned long addr, int n, foll_flags flags, page** pages) {
    return fast() ? pin_user_pages_fast(addr, n, flags, pages) : pin_user_pages_unlocked(addr, n, pages, flags);
  }
  unsigned long free_pool() { return pud() ? pool1g().free : pool2m().free; }
};

TEST_P(HugetlbGupTest, PinsSubpagesOfTheLeafWithOneGrabAndUnpins) {
  const unsigned long a = map_touched();
  folio* f = page_folio(m_->mem().pfn_to_page(pteval_pfn(leaf(a, pud()))));
  const int before = page_ref_count(f);
  const int n = 300;  // crosses no leaf boundary; starts mid-leaf
  const unsigned long start = a + hsize() - (n + 5) * PAGE_SIZE;
  std::vector<page*> pages(n);
  const int64_t fallback = vs(GUP_FAST_FALLBACK);
  ASSERT_EQ(pin(start, n, pages.data()), n);
  for (int i = 0; i < n; i++) EXPECT_EQ(pages[i], folio_page(f, (hsize() >> PAGE_SHIFT) - (n + 5) + i));
  if (fast()) EXPECT_EQ(vs(GUP_FAST_FALLBACK), fallback + (design() == PinDesign::fake_vma ? 1 : 0));
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), n);
  EXPECT_EQ(folio_maybe_dma_pinned(f), design() != PinDesign::get);
  if (design() == PinDesign::folio_pincount) EXPECT_EQ(f[1]._pincount, n);
  if (design() == PinDesign::bias) EXPECT_EQ(page_ref_count(f), before + n * GUP_PIN_COUNTING_BIAS);
  if (design() == PinDesign::dma_count) EXPECT_EQ(PinDmaCount::count(f), static_cast<unsigned long>(n));
  unpin_user_pages(pages.data(), n);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), vs(NR_FOLL_PIN_ACQUIRED));
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  EXPECT_EQ(page_ref_count(f), before);
}

TEST_P(HugetlbGupTest, APinnedFolioLeavesThePoolUntilItsUnpinAfterMunmap) {
  const unsigned long a = map_touched();
  const unsigned long free0 = free_pool();
  page* p = nullptr;
  ASSERT_EQ(pin(a + 3 * PAGE_SIZE, 1, &p), 1);
  ASSERT_EQ(vm_munmap(mm_, a, hsize()), 0);
  EXPECT_EQ(free_pool(), free0) << "the pin keeps the folio";
  EXPECT_EQ(folio_maybe_dma_pinned(page_folio(p)), design() != PinDesign::get);
  unpin_user_page(p);
  EXPECT_EQ(free_pool(), free0 + 1);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), vs(NR_FOLL_PIN_ACQUIRED));
}

TEST_P(HugetlbGupTest, GupFaultsTheLeafInAndAReadPinOfAForkSharedFolioUnshares) {
  long r = hmap(hsize(), pud() ? kHuge1G : kHuge2M);
  ASSERT_GT(r, 0);
  const auto a = static_cast<unsigned long>(r);
  page* p = nullptr;
  ASSERT_EQ(pin(a, 1, &p), 1) << "faulted in by GUP";
  EXPECT_TRUE(folio_test_hugetlb(page_folio(p)));
  unpin_user_page(p);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  folio* shared = page_folio(p);
  EXPECT_FALSE(PageAnonExclusive(shared));
  if (pud()) {  // a second 1 GiB folio for the unshare copy: none; the read pin fails
    page* q = nullptr;
    EXPECT_EQ(pin_flags(a, 1, FOLL_NONE, &q), -EFAULT);
  } else {
    page* q = nullptr;
    ASSERT_EQ(pin_flags(a, 1, FOLL_NONE, &q), 1);
    EXPECT_NE(page_folio(q), shared) << "unshared: the parent's own copy";
    EXPECT_TRUE(PageAnonExclusive(page_folio(q)));
    unpin_user_page(q);
  }
  mmput(child);
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), vs(NR_FOLL_PIN_ACQUIRED));
}

std::string gup_param_name(const ::testing::TestParamInfo<GupParam>& i) {
  return std::string(to_string(std::get<0>(i.param))) + (std::get<1>(i.param) ? "_pud" : "_pmd") +
         (std::get<2>(i.param) ? "_fast" : "_slow");
}

INSTANTIATE_TEST_SUITE_P(Designs, HugetlbGupTest,
                         ::testing::Combine(::testing::ValuesIn(kAllPinDesigns), ::testing::Bool(), ::testing::Bool()),
                         gup_param_name);

}  // namespace
}  // namespace guplab
