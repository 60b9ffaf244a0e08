// mm_stress_test.cc - bounded concurrency stress of one mm: five tasks faulting (4 KiB
// and THP, racing on the same entries), forking (with a pinned page now and then),
// unmapping/remapping, mprotecting and madvising at once, then checking
// the invariants: every mapped folio's references are exactly its mappings, the
// counters match the page tables, and, after teardown, no page leaked.
//
// Each task draws its operations from its own stream seeded from the test's seed, so a
// seed fixes what every task does (not how the OS interleaves them). The seed is
// printed; rerun with GUPLAB_STRESS_SEED=<seed>. GUPLAB_STRESS_SECONDS sets the length.
//
// Data ownership keeps the test free of data races a real CPU would tolerate: each
// region's bytes are read and written only by its owner task; the others only change
// its mappings (MADV_DONTNEED, fork), so a value read back is the owner's last write or
// zero (zapped).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "mm/gup.h"
#include "mm/huge_memory.h"
#include "mm/mm_fixture.h"
#include "mm/shmem.h"

namespace guplab::test {
namespace {

uint64_t env_u64(const char* name, uint64_t dflt) {
  const char* s = std::getenv(name);
  return s && *s ? std::strtoull(s, nullptr, 0) : dflt;
}

class MmStressTest : public MmTest {
 protected:
  MachineConfig config() override {
    seed_ = env_u64("GUPLAB_STRESS_SEED", host_time_ns());
    MachineConfig c = small_config(128ull << 20);
    c.seed = seed_;
    return c;
  }
  uint64_t seed_ = 0;
};

constexpr unsigned long kR0 = 8ul << 20;   // writer A, THP
constexpr unsigned long kR1 = 4ul << 20;   // writer B, 4 KiB
constexpr unsigned long kR2 = 2ul << 20;   // mapper C: remapped, mprotected, shared/private
constexpr unsigned long kR3 = 1ul << 20;   // forker D

// What a writer owns: one u64 stamp per page, its last write or 0.
void writer(MmTest* t, mm_struct* mm, unsigned long base, unsigned long len, uint64_t seed, uint64_t tag,
            uint64_t deadline, std::atomic<long>* ops) {
  Random r(seed);
  const unsigned long pages = len >> PAGE_SHIFT;
  std::vector<uint64_t> last(pages, 0);
  uint64_t counter = 0;
  while (host_time_ns() < deadline) {
    const unsigned long i = r.uniform(pages);
    const unsigned long addr = base + (i << PAGE_SHIFT) + 8 * r.uniform(PAGE_SIZE / 8);
    const unsigned long slot = base + (i << PAGE_SHIFT);
    uint64_t v = 0;
    ASSERT_EQ(uaccess_read(mm, slot, &v, 8), 0);
    ASSERT_TRUE(v == last[i] || v == 0) << "page " << i << " read " << std::hex << v << " expected " << last[i];
    last[i] = (tag << 48) | ++counter;
    ASSERT_EQ(uaccess_write(mm, slot, &last[i], 8), 0);
    uint64_t junk = counter;
    if (addr != slot) ASSERT_EQ(uaccess_write(mm, addr, &junk, 8), 0);
    ops->fetch_add(1, std::memory_order_relaxed);
  }
}

TEST_F(MmStressTest, FaultForkUnmapMadviseConcurrently) {
  const uint64_t seconds = env_u64("GUPLAB_STRESS_SECONDS", 3);
  std::printf("[ seed     ] GUPLAB_STRESS_SEED=%llu (duration %llus)\n", static_cast<unsigned long long>(seed_),
              static_cast<unsigned long long>(seconds));
  RecordProperty("seed", std::to_string(seed_));

  const unsigned long r0 = map(kR0), r1 = map(kR1), r2 = map(kR2), r3 = map(kR3);
  ASSERT_EQ(do_madvise(mm_, r0, kR0, MADV_HUGEPAGE), 0);
  const uint64_t deadline = host_time_ns() + seconds * NSEC_PER_SEC;
  std::atomic<long> ops{0}, forks{0}, remaps{0}, zaps{0};
  mm_struct* mm = mm_;

  task_struct* a = m_->spawn("writer-thp", [&] { writer(this, mm, r0, kR0, seed_ * 4 + 0, 0xa, deadline, &ops); }, mm);
  task_struct* b = m_->spawn("writer-4k", [&] { writer(this, mm, r1, kR1, seed_ * 4 + 1, 0xb, deadline, &ops); }, mm);

  task_struct* c = m_->spawn("mapper", [&] {
    Random r(seed_ * 4 + 2);
    std::vector<uint64_t> last(kR2 >> PAGE_SHIFT, 0);
    bool shared = false;
    while (host_time_ns() < deadline) {
      switch (r.uniform(6)) {
        case 0: {  // replace the region, private or shared
          shared = r.chance(0.3);
          const int flags = MAP_FIXED | MAP_ANONYMOUS | (shared ? MAP_SHARED : MAP_PRIVATE);
          ASSERT_EQ(vm_mmap(mm, r2, kR2, PROT_READ | PROT_WRITE, flags, nullptr, 0), static_cast<long>(r2));
          if (!shared && r.chance(0.5)) ASSERT_EQ(do_madvise(mm, r2, kR2, MADV_HUGEPAGE), 0);
          std::fill(last.begin(), last.end(), 0);
          remaps++;
          break;
        }
        case 1: {  // read-only for a moment: writes must fail, reads must not
          const unsigned long i = r.uniform(last.size());
          const unsigned long len = (1 + r.uniform(64)) << PAGE_SHIFT;
          const unsigned long s = r2 + (i << PAGE_SHIFT);
          const unsigned long l = s + len > r2 + kR2 ? r2 + kR2 - s : len;
          ASSERT_EQ(do_mprotect(mm, s, l, PROT_READ), 0);
          uint64_t v = 1;
          ASSERT_EQ(uaccess_write(mm, s, &v, 8), -EFAULT);
          ASSERT_EQ(uaccess_read(mm, s, &v, 8), 0);
          ASSERT_TRUE(v == last[i] || (!shared && v == 0));
          ASSERT_EQ(do_mprotect(mm, s, l, PROT_READ | PROT_WRITE), 0);
          break;
        }
        case 2: {  // zap part of the writers' regions under their feet
          const bool thp = r.chance(0.5);
          const unsigned long base = thp ? r0 : r1, len = thp ? kR0 : kR1;
          const unsigned long s = base + (r.uniform(len >> PAGE_SHIFT) << PAGE_SHIFT);
          const unsigned long l = std::min((1 + r.uniform(1024)) << PAGE_SHIFT, base + len - s);
          ASSERT_EQ(do_madvise(mm, s, l, MADV_DONTNEED), 0);
          zaps++;
          break;
        }
        case 3: {  // zap part of our own region
          const unsigned long i = r.uniform(last.size());
          ASSERT_EQ(do_madvise(mm, r2 + (i << PAGE_SHIFT), PAGE_SIZE, MADV_DONTNEED), 0);
          if (!shared) last[i] = 0;
          break;
        }
        case 4:
          ASSERT_EQ(do_madvise(mm, r0, kR0, r.chance(0.5) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0);
          break;
        default: {  // write and read back our own pages
          for (int k = 0; k < 16; k++) {
            const unsigned long i = r.uniform(last.size());
            uint64_t v = 0;
            ASSERT_EQ(uaccess_read(mm, r2 + (i << PAGE_SHIFT), &v, 8), 0);
            ASSERT_TRUE(v == last[i] || (!shared && v == 0)) << "r2 page " << i;
            last[i] = (0xcull << 48) | r.next_u32();
            ASSERT_EQ(uaccess_write(mm, r2 + (i << PAGE_SHIFT), &last[i], 8), 0);
          }
          break;
        }
      }
      ops++;
    }
  }, mm);

  task_struct* d = m_->spawn("forker", [&] {
    Random r(seed_ * 4 + 3);
    const unsigned long pages = kR3 >> PAGE_SHIFT;
    uint64_t gen = 0;
    while (host_time_ns() < deadline) {
      gen++;
      for (unsigned long i = 0; i < pages; i += 1 + r.uniform(8)) {
        uint64_t v = (gen << 20) | i;
        ASSERT_EQ(uaccess_write(mm, r3 + (i << PAGE_SHIFT), &v, 8), 0);
      }
      const unsigned long pin_i = r.uniform(pages);
      page* pinned = nullptr;
      if (r.chance(0.5)) {  // a "DMA pin" on one of our pages, the folio_pincount way
        uint64_t v = (gen << 20) | pin_i;
        ASSERT_EQ(uaccess_write(mm, r3 + (pin_i << PAGE_SHIFT), &v, 8), 0);
        pinned = page_at(r3 + (pin_i << PAGE_SHIFT), mm);
        ASSERT_NE(pinned, nullptr);
        page_ref_add(pinned, 1024);  // the mapping cannot go: only we touch r3
        mm->has_pinned = true;
      }
      mm_struct* child = dup_mm(mm);
      ASSERT_NE(child, nullptr);
      forks++;
      if (pinned) {
        ASSERT_NE(page_at(r3 + (pin_i << PAGE_SHIFT), child), pinned) << "a pinned page is copied at fork";
        folio_put_refs(page_folio(pinned), 1024);
      }
      // COW both ways on our own region.
      const unsigned long i = r.uniform(pages);
      uint64_t pv = 0, cv = 0;
      ASSERT_EQ(uaccess_read(mm, r3 + (i << PAGE_SHIFT), &pv, 8), 0);
      ASSERT_EQ(uaccess_read(child, r3 + (i << PAGE_SHIFT), &cv, 8), 0);
      ASSERT_EQ(pv, cv);
      uint64_t nv = ~pv;
      ASSERT_EQ(uaccess_write(child, r3 + (i << PAGE_SHIFT), &nv, 8), 0);
      ASSERT_EQ(uaccess_read(mm, r3 + (i << PAGE_SHIFT), &cv, 8), 0);
      ASSERT_EQ(cv, pv) << "the child's write stays in the child";
      if (r.chance(0.5)) ASSERT_EQ(do_madvise(child, r0, kR0, MADV_DONTNEED), 0);
      mmput(child);
    }
  }, mm);

  // Faults racing the writers' own faults on the same entries (reads map the zero page
  // or a THP, writes allocate): page-table population and entry re-checks under fire.
  task_struct* e = m_->spawn("prefaulter", [&] {
    Random r(seed_ * 4 + 4);
    while (host_time_ns() < deadline) {
      const bool thp = r.chance(0.5);
      const unsigned long base = thp ? r0 : r1, len = thp ? kR0 : kR1;
      const unsigned long s = base + (r.uniform(len >> PAGE_SHIFT) << PAGE_SHIFT);
      const unsigned long n = std::min<unsigned long>(1 + r.uniform(32), (base + len - s) >> PAGE_SHIFT);
      const fault_flag ff = r.chance(0.5) ? FAULT_FLAG_WRITE : FAULT_FLAG_NONE;
      mmap_read_lock(mm);
      vm_area_struct* vma = vma_lookup(mm, s);
      for (unsigned long k = 0; vma && k < n; k++) {
        vm_fault_t ret = handle_mm_fault(vma, s + (k << PAGE_SHIFT), ff | FAULT_FLAG_USER);
        EXPECT_FALSE(any(ret, VM_FAULT_ERROR));
      }
      mmap_read_unlock(mm);
      ops++;
    }
  }, mm);

  for (task_struct* t : {a, b, c, d, e}) task_join(t);
  std::printf("[ stress   ] %ld ops, %ld forks, %ld remaps, %ld zaps\n", ops.load(), forks.load(), remaps.load(),
              zaps.load());
  ASSERT_EQ(m_->nr_oops(), 0u);
  EXPECT_GT(forks.load(), 0);

  // Invariants of the quiet mm: each mapped anon folio's references are its mappings;
  // NR_ANON_MAPPED and rss count exactly the anon pages the tables map.
  std::unordered_map<folio*, int> mappings;
  long anon_pages = 0, file_pages = 0;
  mmap_read_lock(mm_);
  for (vm_area_struct* vma = find_vma(mm_, 0); vma; vma = vma_next(mm_, vma)) {
    for (unsigned long addr = vma->vm_start; addr < vma->vm_end;) {
      pmd_t pmd = pmd_at(addr);
      if (pmd_leaf(pmd)) {
        folio* f = page_folio(m_->mem().pfn_to_page(pmd_pfn(pmd)));
        mappings[f]++;
        anon_pages += HPAGE_PMD_NR;
        addr = (addr & PMD_MASK) + PMD_SIZE;
        continue;
      }
      pte_t pte = pte_at(addr);
      if (pte_present(pte) && !pte_special(pte)) {
        page* p = m_->mem().pfn_to_page(pte_pfn(pte));
        mappings[page_folio(p)]++;
        (PageAnon(p) ? anon_pages : file_pages)++;
        EXPECT_EQ(page_mapcount(p), 1);
      }
      addr += PAGE_SIZE;
    }
  }
  mmap_read_unlock(mm_);
  for (auto& [f, n] : mappings) {
    EXPECT_EQ(folio_mapcount(f), n);
    if (PageAnon(f)) EXPECT_EQ(page_ref_count(f), n) << "no reference leaked";
    else EXPECT_EQ(page_ref_count(f), n + 1) << "the shmem object's and the mappings'";
    EXPECT_TRUE(PageLRU(f));
  }
  EXPECT_EQ(vs(NR_ANON_MAPPED), anon_pages);
  EXPECT_EQ(atomic_read(&mm_->rss_anon), anon_pages);
  EXPECT_EQ(atomic_read(&mm_->rss_file), file_pages);
  // The fixture's teardown checks that every page comes back.
}

}  // namespace
}  // namespace guplab::test
