// mm_fixture.h - what every mm test starts from: a booted machine, the test thread as
// its task, one mm; and, after every test, the allocation-balance check: once every mm
// is gone and every RCU callback has run, the machine has exactly the free pages it
// booted with, no page-table page, no mapped or LRU page, no oops and no WARN.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/errno.h"
#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/internal.h"
#include "mm/madvise.h"
#include "mm/memory.h"
#include "mm/mmap.h"
#include "mm/mprotect.h"
#include "mm/page_alloc.h"
#include "mm/pgalloc.h"
#include "mm/rmap.h"
#include "mm/swap.h"
#include "mm/uaccess.h"

namespace guplab::test {

inline MachineConfig small_config(uint64_t ram = 64ull << 20) {
  MachineConfig c;
  c.ram_bytes = ram;
  return c;
}

class MmTest : public ::testing::Test {
 protected:
  virtual MachineConfig config() { return small_config(); }

  void SetUp() override {
    m_ = std::make_unique<Machine>(config());
    scope_ = std::make_unique<TaskScope>(m_->task_init("test"));
    mm_ = mm_alloc(m_.get());
    ASSERT_NE(mm_, nullptr);
    scope_->task()->mm = mm_;
  }

  void TearDown() override {
    drop_mm();
    rcu_barrier();
    EXPECT_EQ(nr_free_pages(m_.get()), m_->boot_free_pages()) << "pages leaked";
    for (vm_stat_item i : {NR_PAGETABLE, NR_ANON_MAPPED, NR_ANON_THPS, NR_FILE_PAGES, NR_ZONE_INACTIVE_ANON,
                           NR_ZONE_ACTIVE_ANON, NR_ZONE_INACTIVE_FILE, NR_ZONE_ACTIVE_FILE, NR_ZONE_UNEVICTABLE})
      EXPECT_EQ(vs(i), 0) << vm_stat_name(i);
    for (const auto& o : m_->oopses()) ADD_FAILURE() << o.format();
    EXPECT_EQ(static_cast<int>(m_->nr_warnings()), expected_warnings_);
    if (static_cast<int>(m_->nr_warnings()) != expected_warnings_)
      for (const auto& w : m_->warnings()) ADD_FAILURE() << w.format();
    scope_.reset();
    m_.reset();
  }

  /** drop_mm() - mmput() the test's mm now (before objects its vmas point at go). */
  void drop_mm() {
    if (!mm_) return;
    scope_->task()->mm = nullptr;
    mmput(mm_);
    mm_ = nullptr;
  }

  int64_t vs(vm_stat_item i) const { return m_->vmstat().read(i); }

  unsigned long map(unsigned long len, int prot = PROT_READ | PROT_WRITE, int flags = MAP_PRIVATE | MAP_ANONYMOUS,
                    unsigned long addr = 0, mm_struct* mm = nullptr) {
    long a = vm_mmap(mm ? mm : mm_, addr, len, prot, flags, nullptr, 0);
    EXPECT_GT(a, 0) << errname(static_cast<int>(a));
    return static_cast<unsigned long>(a);
  }

  void put_u64(unsigned long addr, uint64_t v, mm_struct* mm = nullptr) {
    ASSERT_EQ(uaccess_write(mm ? mm : mm_, addr, &v, sizeof(v)), 0);
  }
  uint64_t get_u64(unsigned long addr, mm_struct* mm = nullptr) {
    uint64_t v = ~0ull;
    EXPECT_EQ(uaccess_read(mm ? mm : mm_, addr, &v, sizeof(v)), 0);
    return v;
  }

  /** fault() - handle_mm_fault() as a user access would, under mmap_lock for read. */
  // On VM_FAULT_RETRY the handler released mmap_lock: a conditional unlock.
  vm_fault_t fault(unsigned long addr, fault_flag flags, mm_struct* mm = nullptr) NO_THREAD_SAFETY_ANALYSIS {
    mm = mm ? mm : mm_;
    mmap_read_lock(mm);
    vm_area_struct* vma = vma_lookup(mm, addr);
    vm_fault_t ret = vma ? handle_mm_fault(vma, addr, flags) : VM_FAULT_SIGSEGV;
    if (!any(ret, VM_FAULT_RETRY)) mmap_read_unlock(mm);
    return ret;
  }

  vm_area_struct* lookup(unsigned long addr, mm_struct* mm = nullptr) {
    mm = mm ? mm : mm_;
    mmap_read_lock(mm);
    vm_area_struct* vma = vma_lookup(mm, addr);
    mmap_read_unlock(mm);
    return vma;
  }

  /** pte_at() - the pte mapping @addr (0 if none, or if a huge PMD maps it). */
  pte_t pte_at(unsigned long addr, mm_struct* mm = nullptr) {
    mm = mm ? mm : mm_;
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* s = pte_walk(mm, addr);
    return s ? ptep_get(s) : pte_t{0};
  }
  /** pmd_at() - the pmd entry covering @addr (0 if none). */
  pmd_t pmd_at(unsigned long addr, mm_struct* mm = nullptr) {
    mm = mm ? mm : mm_;
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* s = pmd_walk(mm, addr);
    return s ? pmdp_get(s) : pmd_t{0};
  }
  /** page_at() - the 4 KiB page mapped at @addr (by pte or huge PMD), or nullptr. */
  page* page_at(unsigned long addr, mm_struct* mm = nullptr) {
    mm = mm ? mm : mm_;
    pmd_t pmd = pmd_at(addr, mm);
    if (pmd_leaf(pmd)) return m_->mem().pfn_to_page(pmd_pfn(pmd)) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
    pte_t pte = pte_at(addr, mm);
    return pte_present(pte) ? m_->mem().pfn_to_page(pte_pfn(pte)) : nullptr;
  }

  std::unique_ptr<Machine> m_;
  std::unique_ptr<TaskScope> scope_;
  mm_struct* mm_ = nullptr;
  int expected_warnings_ = 0;
};

class ThpTest : public MmTest {
 protected:
  MachineConfig config() override {
    MachineConfig c = small_config();
    c.thp = true;
    return c;
  }
  /** map_thp() - a 2 MiB-aligned VM_HUGEPAGE private anonymous mapping. */
  unsigned long map_thp(unsigned long len, mm_struct* mm = nullptr) {
    unsigned long a = map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, mm);
    EXPECT_EQ(a & ~PMD_MASK, 0ul);
    EXPECT_EQ(do_madvise(mm ? mm : mm_, a, len, MADV_HUGEPAGE), 0);
    return a;
  }
};

}  // namespace guplab::test
