// pgalloc_test.cc - page-table pages: zone and accounting, population, deposit,
// freeing only what is empty, and never before the RCU grace period.
#include "mm/pgalloc.h"

#include <atomic>

#include "base/clock.h"
#include "base/completion.h"
#include "mm/mm_fixture.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"
#include "tests/sim_run.h"

namespace guplab::test {
namespace {

using PgallocTest = MmTest;

page* table_page(unsigned long pfn, Machine* m) { return m->mem().pfn_to_page(pfn); }

TEST_F(PgallocTest, PgdIsAnAccountedNormalZoneTable) {
  EXPECT_EQ(vs(NR_PAGETABLE), 1);
  EXPECT_EQ(atomic_read(&mm_->pgtables_bytes), static_cast<int64_t>(PAGE_SIZE));
  page* pgd = table_page(mm_->pgd_pfn, m_.get());
  EXPECT_TRUE(PageTable(pgd));
  EXPECT_EQ(page_zonenum(pgd), static_cast<unsigned>(ZONE_NORMAL));
  EXPECT_EQ(page_ref_count(pgd), 1);
}

TEST_F(PgallocTest, FaultPopulatesEachLevelOnce) {
  unsigned long a = map(4 * PAGE_SIZE);
  put_u64(a, 1);
  EXPECT_EQ(vs(NR_PAGETABLE), 4) << "pgd, pud, pmd, pte";
  EXPECT_EQ(atomic_read(&mm_->pgtables_bytes), static_cast<int64_t>(4 * PAGE_SIZE));
  put_u64(a + 3 * PAGE_SIZE, 1);
  EXPECT_EQ(vs(NR_PAGETABLE), 4);
  pmd_t pmd = pmd_at(a);
  ASSERT_TRUE(pmd_present(pmd) && !pmd_leaf(pmd));
  page* pte_table = table_page(pmd_pfn(pmd), m_.get());
  EXPECT_TRUE(PageTable(pte_table));
  EXPECT_EQ(page_zonenum(pte_table), static_cast<unsigned>(ZONE_NORMAL));
}

TEST_F(PgallocTest, ConcurrentPopulationInstallsOneTable) {
  unsigned long a = map(PMD_SIZE);
  std::atomic<int> go{0};
  auto body = [&](unsigned long addr) {
    while (!go.load()) cond_resched();
    uint64_t v = 1;
    EXPECT_EQ(uaccess_write(mm_, addr, &v, 8), 0);
  };
  task_struct* t1 = m_->spawn("f1", [&] { body(a); }, mm_);
  task_struct* t2 = m_->spawn("f2", [&] { body(a + PAGE_SIZE); }, mm_);
  go = 1;
  task_join(t1);
  task_join(t2);
  EXPECT_EQ(vs(NR_PAGETABLE), 4);
  EXPECT_EQ(atomic_read(&mm_->pgtables_bytes), static_cast<int64_t>(4 * PAGE_SIZE));
}

TEST_F(PgallocTest, UnmapFreesOnlyEmptyTables) {
  unsigned long a = map(2 * PAGE_SIZE);
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PAGE_SIZE), 0);
  long b = vm_mmap(mm_, a + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                   nullptr, 0);
  ASSERT_EQ(b, static_cast<long>(a + PAGE_SIZE));
  put_u64(a, 1);
  put_u64(b, 2);  // a neighbouring vma in the same pte table
  ASSERT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  rcu_barrier();
  EXPECT_EQ(vs(NR_PAGETABLE), 4) << "the table still maps the neighbour";
  EXPECT_EQ(get_u64(b), 2u);
  ASSERT_EQ(vm_munmap(mm_, b, PAGE_SIZE), 0);
  rcu_barrier();
  EXPECT_EQ(vs(NR_PAGETABLE), 1);
}

TEST_F(PgallocTest, ThpDepositsATableAndSplitPublishesIt) {
  unsigned long a = map(PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 1);
  EXPECT_EQ(vs(NR_PAGETABLE), 4) << "pgd, pud, pmd and the deposited pte table";
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ), 0);  // splits the PMD
  EXPECT_EQ(vs(NR_PAGETABLE), 4) << "the deposit became the pte table";
  pmd_t pmd = pmd_at(a);
  EXPECT_FALSE(pmd_leaf(pmd));
  EXPECT_TRUE(PageTable(table_page(pmd_pfn(pmd), m_.get())));
}

// The invariant behind GUP-fast: a table is not freed while a lockless walker, inside
// rcu_read_lock(), may still read it. On the sim backend, seed by seed: in virtual time
// the rcu kthread runs as far as it can while the reader stays inside.
TEST(PgallocSim, TableIsNotFreedWhileAReaderIsInsideRcu) {
  testing::expect_every_seed(small_config(), 30, [](Machine& m) {
    mm_struct* mm = mm_alloc(&m);
    ASSERT_NE(mm, nullptr);
    current()->mm = mm;
    const long r = vm_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    ASSERT_GT(r, 0);
    const auto a = static_cast<unsigned long>(r);
    const uint64_t one = 1;
    ASSERT_EQ(uaccess_write(mm, a, &one, sizeof(one)), 0);
    pmd_t pmd{0};
    {
      SpinGuard g(&mm->page_table_lock);
      if (pgtable_slot* s = pmd_walk(mm, a)) pmd = pmdp_get(s);
    }
    ASSERT_TRUE(pmd_present(pmd) && !pmd_leaf(pmd));
    page* pte_table = table_page(pmd_pfn(pmd), &m);
    completion inside, leave;
    init_completion(&inside);
    init_completion(&leave);
    task_struct* reader = m.spawn("reader", [&] {
      rcu_read_lock();
      // What GUP-fast would read: the table through the pmd.
      pgtable_slot* pte = pte_walk(mm, a);
      EXPECT_NE(pte, nullptr);
      complete(&inside);
      wait_for_completion(&leave);
      EXPECT_TRUE(PageTable(pte_table)) << "still a page table while we are inside";
      if (pte) EXPECT_TRUE(pte_none(ptep_get(pte))) << "unlinked tables are empty";
      rcu_read_unlock();
    }, mm);
    wait_for_completion(&inside);
    ASSERT_EQ(vm_munmap(mm, a, PAGE_SIZE), 0);
    sleep_ns(50 * NSEC_PER_MSEC);
    EXPECT_TRUE(PageTable(pte_table));
    EXPECT_EQ(page_ref_count(pte_table), 1) << "not freed before the grace period";
    EXPECT_FALSE(PageBuddy(pte_table));
    complete(&leave);
    task_join(reader);
    rcu_barrier();
    EXPECT_FALSE(PageTable(pte_table));
    EXPECT_EQ(page_ref_count(pte_table), 0);
    current()->mm = nullptr;
    mmput(mm);
  });
}

}  // namespace
}  // namespace guplab::test
