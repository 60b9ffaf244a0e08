// mm_stress_test.cc - bounded concurrency stress of one mm: five tasks faulting (4 KiB
// and THP, racing on the same entries), forking (with a pinned page now and then),
// unmapping/remapping, mprotecting and madvising at once, then checking
// the invariants: every mapped folio's references are exactly its mappings, the
// counters match the page tables, and, after teardown, no page leaked.
//
// Two forms of the same stress (mm_stress()), each bounded by a count of operations:
//  - MmStressSim: a seeded exploration on the sim backend; the seed fixes what every
//    task does and every interleaving, and a failure prints the command that replays
//    exactly that schedule (GUPLAB_SIM_SEED=<seed>, tests/sim_explore.h).
//  - MmStressTest: a short native smoke run on host threads. Its data seed
//    (GUPLAB_STRESS_SEED, printed) fixes what every task does, NOT how the host
//    interleaves them: it does not replay a schedule. GUPLAB_STRESS_ITERS lengthens it.
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

#include "base/errno.h"
#include "base/random.h"
#include "mm/gup.h"
#include "mm/huge_memory.h"
#include "mm/mm_fixture.h"
#include "mm/shmem.h"
#include "sim_explore.h"
#include "sim_run.h"

namespace guplab::test {
namespace {

/** Region sizes and operation counts of one stress run. */
struct StressSize {
  unsigned long r0;  // writer A, THP
  unsigned long r1;  // writer B, 4 KiB
  unsigned long r2;  // mapper C: remapped, mprotected, shared/private
  unsigned long r3;  // forker D
  int writer_ops;    // per writer, and the prefaulter's
  int mapper_ops;
  int forks;
};

struct StressCounts {
  std::atomic<long> ops{0}, forks{0}, remaps{0}, zaps{0};
};

// What a writer owns: one u64 stamp per page, its last write or 0.
void writer(mm_struct* mm, unsigned long base, unsigned long len, uint64_t seed, uint64_t tag, int nops,
            std::atomic<long>* ops) {
  Random r(seed);
  const unsigned long pages = len >> PAGE_SHIFT;
  std::vector<uint64_t> last(pages, 0);
  uint64_t counter = 0;
  for (int op = 0; op < nops; op++) {
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

/** pmd_of() / pte_of() - the entry mapping @addr in @mm (0 if none). */
pmd_t pmd_of(mm_struct* mm, unsigned long addr) {
  SpinGuard g(&mm->page_table_lock);
  pgtable_slot* s = pmd_walk(mm, addr);
  return s ? pmdp_get(s) : pmd_t{0};
}
pte_t pte_of(mm_struct* mm, unsigned long addr) {
  SpinGuard g(&mm->page_table_lock);
  pgtable_slot* s = pte_walk(mm, addr);
  return s ? ptep_get(s) : pte_t{0};
}

/** page_of() - the 4 KiB page mapped at @addr in @mm (by pte or huge PMD), or nullptr. */
page* page_of(Machine* m, mm_struct* mm, unsigned long addr) {
  const pmd_t pmd = pmd_of(mm, addr);
  if (pmd_leaf(pmd)) return m->mem().pfn_to_page(pmd_pfn(pmd)) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
  const pte_t pte = pte_of(mm, addr);
  return pte_present(pte) ? m->mem().pfn_to_page(pte_pfn(pte)) : nullptr;
}

/** map_region() - @len bytes of private anonymous memory in @mm (0 on failure, a test failure). */
unsigned long map_region(mm_struct* mm, unsigned long len) {
  const long a = vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  EXPECT_GT(a, 0) << errname(static_cast<int>(a));
  return a > 0 ? static_cast<unsigned long>(a) : 0;
}

/**
 * mm_stress() - the five racing tasks on four fresh regions of @mm, each drawing from its
 * own stream seeded from @seed, bounded by @sz's operation counts; returns when all have
 * ended. Failures are gtest failures.
 * REQUIRES: runs as a task of @m.
 */
void mm_stress(Machine* m, mm_struct* mm, uint64_t seed, const StressSize& sz, StressCounts* out) {
  const unsigned long kR0 = sz.r0, kR1 = sz.r1, kR2 = sz.r2, kR3 = sz.r3;
  const unsigned long r0 = map_region(mm, kR0), r1 = map_region(mm, kR1), r2 = map_region(mm, kR2),
                      r3 = map_region(mm, kR3);
  ASSERT_TRUE(r0 && r1 && r2 && r3);
  ASSERT_EQ(do_madvise(mm, r0, kR0, MADV_HUGEPAGE), 0);
  std::atomic<long>& ops = out->ops;
  std::atomic<long>& forks = out->forks;
  std::atomic<long>& remaps = out->remaps;
  std::atomic<long>& zaps = out->zaps;

  task_struct* a = m->spawn("writer-thp", [&] { writer(mm, r0, kR0, seed * 4 + 0, 0xa, sz.writer_ops, &ops); }, mm);
  task_struct* b = m->spawn("writer-4k", [&] { writer(mm, r1, kR1, seed * 4 + 1, 0xb, sz.writer_ops, &ops); }, mm);

  task_struct* c = m->spawn("mapper", [&] {
    Random r(seed * 4 + 2);
    std::vector<uint64_t> last(kR2 >> PAGE_SHIFT, 0);
    bool shared = false;
    for (int op = 0; op < sz.mapper_ops; op++) {
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

  task_struct* d = m->spawn("forker", [&] {
    Random r(seed * 4 + 3);
    const unsigned long pages = kR3 >> PAGE_SHIFT;
    uint64_t gen = 0;
    for (int k = 0; k < sz.forks; k++) {
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
        pinned = page_of(m, mm, r3 + (pin_i << PAGE_SHIFT));
        ASSERT_NE(pinned, nullptr);
        page_ref_add(pinned, 1024);  // the mapping cannot go: only we touch r3
        mm->has_pinned = true;
      }
      mm_struct* child = dup_mm(mm);
      ASSERT_NE(child, nullptr);
      forks++;
      if (pinned) {
        ASSERT_NE(page_of(m, child, r3 + (pin_i << PAGE_SHIFT)), pinned) << "a pinned page is copied at fork";
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
  task_struct* e = m->spawn("prefaulter", [&] {
    Random r(seed * 4 + 4);
    for (int op = 0; op < sz.writer_ops; op++) {
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
}

/**
 * check_quiet_mm() - the invariants of @mm once nothing runs on it: each mapped folio's
 * references are its mappings; NR_ANON_MAPPED and rss count exactly what the tables map.
 */
void check_quiet_mm(Machine* m, mm_struct* mm_) {
  // Invariants of the quiet mm: each mapped anon folio's references are its mappings;
  // NR_ANON_MAPPED and rss count exactly the anon pages the tables map.
  std::unordered_map<folio*, int> mappings;
  long anon_pages = 0, file_pages = 0;
  mmap_read_lock(mm_);
  for (vm_area_struct* vma = find_vma(mm_, 0); vma; vma = vma_next(mm_, vma)) {
    for (unsigned long addr = vma->vm_start; addr < vma->vm_end;) {
      pmd_t pmd = pmd_of(mm_, addr);
      if (pmd_leaf(pmd)) {
        folio* f = page_folio(m->mem().pfn_to_page(pmd_pfn(pmd)));
        mappings[f]++;
        anon_pages += HPAGE_PMD_NR;
        addr = (addr & PMD_MASK) + PMD_SIZE;
        continue;
      }
      pte_t pte = pte_of(mm_, addr);
      if (pte_present(pte) && !pte_special(pte)) {
        page* p = m->mem().pfn_to_page(pte_pfn(pte));
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
  EXPECT_EQ(m->vmstat().read(NR_ANON_MAPPED), anon_pages);
  EXPECT_EQ(atomic_read(&mm_->rss_anon), anon_pages);
  EXPECT_EQ(atomic_read(&mm_->rss_file), file_pages);
}

// ---- the seeded exploration (sim backend) --------------------------------------------------

constexpr uint64_t kSimSeeds = 48;
// One THP region of two huge pages; small 4 KiB regions; few enough operations that a
// seed is milliseconds, many enough that every task's operations interleave.
constexpr StressSize kSimSize{4ul << 20, 256ul << 10, 256ul << 10, 128ul << 10, 48, 48, 4};

TEST(MmStressSim, FaultForkUnmapMadviseConcurrentlyUnderEverySeed) {
  long forks = 0, ops = 0;
  testing::explore_seeds(testing::sanitizer_scaled(kSimSeeds), [&](uint64_t seed) {
    MachineConfig c = small_config(64ull << 20);
    const SimOptions so = testing::sim_options_for(seed, 20000);
    return testing::sim_run(c, seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      current()->mm = mm;
      StressCounts n;
      mm_stress(&m, mm, seed, kSimSize, &n);
      if (!::testing::Test::HasFailure()) check_quiet_mm(&m, mm);
      forks += n.forks.load();
      ops += n.ops.load();
      current()->mm = nullptr;
      mmput(mm);
      rcu_barrier();
    }, &so);
  });
  EXPECT_GT(forks, 0);
  EXPECT_GT(ops, 0);
}

// ---- the native smoke run (host threads) ---------------------------------------------------

class MmStressTest : public MmTest {
 protected:
  MachineConfig config() override {
    seed_ = testing::sim_env_u64("GUPLAB_STRESS_SEED", 0x57e55);
    MachineConfig c = small_config(128ull << 20);
    c.seed = seed_;
    return c;
  }
  uint64_t seed_ = 0;
};

TEST_F(MmStressTest, FaultForkUnmapMadviseConcurrently) {
  const int iters = static_cast<int>(testing::sim_env_u64("GUPLAB_STRESS_ITERS", 400));
  std::printf("[ seed     ] native smoke: data seed GUPLAB_STRESS_SEED=%llu, %d operations per task; the host "
              "schedules the threads, so the seed does not replay an interleaving (MmStressSim does)\n",
              static_cast<unsigned long long>(seed_), iters);
  RecordProperty("seed", std::to_string(seed_));
  const StressSize size{8ul << 20, 4ul << 20, 2ul << 20, 1ul << 20, iters, iters, std::max(1, iters / 20)};
  StressCounts n;
  mm_stress(m_.get(), mm_, seed_, size, &n);
  std::printf("[ stress   ] %ld ops, %ld forks, %ld remaps, %ld zaps\n", n.ops.load(), n.forks.load(),
              n.remaps.load(), n.zaps.load());
  ASSERT_EQ(m_->nr_oops(), 0u);
  EXPECT_GT(n.forks.load(), 0);
  check_quiet_mm(m_.get(), mm_);
  // The fixture's teardown checks that every page comes back.
}

}  // namespace
}  // namespace guplab::test
