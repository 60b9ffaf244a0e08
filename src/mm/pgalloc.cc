// pgalloc.cc - page-table pages: allocate, populate, deposit, and free after RCU.
#include "mm/pgalloc.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/bug.h"
#include "base/rcu.h"
#include "machine/machine.h"
#include "mm/internal.h"
#include "mm/page_alloc.h"
#include "mm/page_ref.h"
#include "mm/swap.h"

namespace guplab {

namespace {

// What call_rcu() carries: the tables of one unmap, freed after the grace period.
struct PgtableFreeBatch {
  rcu_head rcu;
  std::vector<page*> tables;
};

void pgtable_free_frame(page* table) {
  Machine* m = page_machine(table);
  table->private_ = 0;
  ClearPageTable(table);
  m->vmstat().mod(NR_PAGETABLE, -1);
  __free_page(table);
}

void pgtable_free_batch_rcu(rcu_head* head) {
  auto* batch = container_of(head, PgtableFreeBatch, rcu);
  for (page* t : batch->tables) pgtable_free_frame(t);
  delete batch;
}

void unaccount(mm_struct* mm) { atomic_sub(static_cast<int64_t>(PAGE_SIZE), &mm->pgtables_bytes); }

bool table_empty(const PhysMem& mem, unsigned long pfn) {
  const pgtable_slot* s = table_slots(mem, pfn);
  for (unsigned i = 0; i < PTRS_PER_TABLE; i++)
    if (s[i].load(std::memory_order_relaxed) != 0) return false;
  return true;
}

// Install a new table in the empty @slot, allocating outside the lock.
int populate_slot(mm_struct* mm, pgtable_slot* slot) {
  page* table = pgtable_alloc(mm);
  if (!table) return -ENOMEM;
  bool installed = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (READ_ONCE(*slot) == 0) {
      WRITE_ONCE(*slot, pgtable_entry(table));  // release: the zeroed table before the link
      installed = true;
    }
  }
  if (!installed) pgtable_free_now(mm, table);
  return 0;
}

}  // namespace

page* pgtable_alloc(mm_struct* mm) {
  Machine* m = mm_machine(mm);
  page* table = alloc_pages_on(m, gfp_t::GFP_KERNEL | gfp_t::__GFP_ZERO, 0);
  if (!table) return nullptr;
  __SetPageTable(table);
  table->private_ = 0;  // deposit stack head (pmd tables)
  m->vmstat().mod(NR_PAGETABLE, 1);
  atomic_add(static_cast<int64_t>(PAGE_SIZE), &mm->pgtables_bytes);
  return table;
}

void pgtable_free_now(mm_struct* mm, page* table) {
  unaccount(mm);
  pgtable_free_frame(table);
}

void pgtable_free_rcu(mm_struct* mm, page* table) {
  unaccount(mm);
  auto* batch = new PgtableFreeBatch;
  batch->tables.push_back(table);
  call_rcu(&batch->rcu, pgtable_free_batch_rcu);
}

int pgd_alloc(mm_struct* mm) {
  page* pgd = pgtable_alloc(mm);
  if (!pgd) return -ENOMEM;
  mm->pgd_pfn = page_to_pfn(pgd);
  return 0;
}

void pgd_free(mm_struct* mm) {
  page* pgd = mm_pfn_page(mm, mm->pgd_pfn);
  WARN_ON(!table_empty(mm_mem(mm), mm->pgd_pfn));
  mm->pgd_pfn = 0;
  pgtable_free_rcu(mm, pgd);
}

pgtable_slot* pgd_slot(mm_struct* mm, unsigned long addr) {
  return pgd_offset_pfn(mm_mem(mm), mm->pgd_pfn, addr);
}

pgtable_slot* pmd_walk(mm_struct* mm, unsigned long addr) {
  const PhysMem& mem = mm_mem(mm);
  pgd_t pgd = pgdp_get(pgd_slot(mm, addr));
  if (!pgd_present(pgd)) return nullptr;
  pud_t pud = pudp_get(pud_offset(mem, pgd, addr));
  if (!pud_present(pud) || pud_leaf(pud)) return nullptr;
  return pmd_offset(mem, pud, addr);
}

pgtable_slot* pud_walk(mm_struct* mm, unsigned long addr) {
  pgd_t pgd = pgdp_get(pgd_slot(mm, addr));
  if (!pgd_present(pgd)) return nullptr;
  return pud_offset(mm_mem(mm), pgd, addr);
}

pgtable_slot* pud_alloc_walk(mm_struct* mm, unsigned long addr) {
  BUG_ON(!rwsem_is_locked(&mm->mmap_lock));
  pgtable_slot* pgdp = pgd_slot(mm, addr);
  if (pgd_none(pgdp_get(pgdp)) && populate_slot(mm, pgdp)) return nullptr;
  return pud_offset(mm_mem(mm), pgdp_get(pgdp), addr);
}

pgtable_slot* pte_walk(mm_struct* mm, unsigned long addr) {
  pgtable_slot* pmd = pmd_walk(mm, addr);
  if (!pmd) return nullptr;
  pmd_t v = pmdp_get(pmd);
  if (!pmd_present(v) || pmd_leaf(v)) return nullptr;
  return pte_offset(mm_mem(mm), v, addr);
}

pgtable_slot* pmd_alloc_walk(mm_struct* mm, unsigned long addr) {
  BUG_ON(!rwsem_is_locked(&mm->mmap_lock));
  const PhysMem& mem = mm_mem(mm);
  pgtable_slot* pgdp = pgd_slot(mm, addr);
  if (pgd_none(pgdp_get(pgdp)) && populate_slot(mm, pgdp)) return nullptr;
  pgtable_slot* pudp = pud_offset(mem, pgdp_get(pgdp), addr);
  if (pud_none(pudp_get(pudp)) && populate_slot(mm, pudp)) return nullptr;
  pud_t pud = pudp_get(pudp);
  if (pud_leaf(pud)) return nullptr;  // a 1 GiB hugetlb leaf: no pmd table below it
  return pmd_offset(mem, pud, addr);
}

int __pte_alloc(mm_struct* mm, pgtable_slot* pmd) {
  if (!pmd_none(pmdp_get(pmd))) return 0;
  return populate_slot(mm, pmd);
}

void pgtable_trans_huge_deposit(mm_struct* mm, pgtable_slot* pmd, page* table) {
  page* pmd_table = virt_to_page(pmd, mm_mem(mm));
  table->private_ = pmd_table->private_;
  pmd_table->private_ = reinterpret_cast<unsigned long>(table);
}

page* pgtable_trans_huge_withdraw(mm_struct* mm, pgtable_slot* pmd) {
  page* pmd_table = virt_to_page(pmd, mm_mem(mm));
  auto* table = reinterpret_cast<page*>(pmd_table->private_);
  BUG_ON_MSG(!table, "huge PMD without a deposited pte table");
  pmd_table->private_ = table->private_;
  table->private_ = 0;
  return table;
}

void tlb_gather_mmu(mmu_gather* tlb, mm_struct* mm, bool fullmm) {
  tlb->mm = mm;
  tlb->fullmm = fullmm;
  tlb->pages.clear();
  tlb->tables.clear();
}

void tlb_flush_mmu(mmu_gather* tlb) {
  for (page* p : tlb->pages) put_page(p);
  tlb->pages.clear();
}

void tlb_finish_mmu(mmu_gather* tlb) {
  tlb_flush_mmu(tlb);
  if (tlb->tables.empty()) return;
  auto* batch = new PgtableFreeBatch;
  batch->tables.swap(tlb->tables);
  for (size_t i = 0; i < batch->tables.size(); i++) unaccount(tlb->mm);
  call_rcu(&batch->rcu, pgtable_free_batch_rcu);
}

void free_pgtables(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end) {
  mmap_assert_write_locked(mm);
  if (start >= end) return;
  const PhysMem& mem = mm_mem(mm);
  SpinGuard g(&mm->page_table_lock);
  // Every writer of a table entry holds page_table_lock (the MMU's A/D updates touch
  // leaves only, which are skipped here): the entries are read with no scheduling point.
  // Each level scans the slots of its table that [start, end) touches (most are empty:
  // a slot costs a load and a test) and works out the range of a present one.
  using S = SchedOwned;
  pgtable_slot* const pgd = table_slots(mem, mm->pgd_pfn);
  for (unsigned long i = pgd_index(start), il = pgd_index(end - 1); i <= il; i++) {
    const pgd_t pgdv = pgdp_get<S>(&pgd[i]);
    if (!pgd_present(pgdv)) continue;
    const unsigned long a = std::max(start, i << PGDIR_SHIFT);
    const unsigned long anext = std::min(end, (i + 1) << PGDIR_SHIFT);
    pgtable_slot* const pud = table_slots(mem, pgd_pfn(pgdv));
    const unsigned long pud_base = i << PGDIR_SHIFT;
    for (unsigned long j = pud_index(a), jl = pud_index(anext - 1); j <= jl; j++) {
      const pud_t pudv = pudp_get<S>(&pud[j]);
      if (!pud_present(pudv) || pud_leaf(pudv)) continue;
      const unsigned long b = std::max(a, pud_base + (j << PUD_SHIFT));
      const unsigned long bnext = std::min(anext, pud_base + ((j + 1) << PUD_SHIFT));
      pgtable_slot* const pmd = table_slots(mem, pud_pfn(pudv));
      for (unsigned long k = pmd_index(b), kl = pmd_index(bnext - 1); k <= kl; k++) {
        const pmd_t pmdv = pmdp_get<S>(&pmd[k]);
        if (!pmd_present(pmdv) || pmd_leaf(pmdv)) continue;
        if (!table_empty(mem, pmd_pfn(pmdv))) continue;
        set_pmd(&pmd[k], pmd_t{0});
        tlb_remove_table(tlb, mm_pfn_page(mm, pmd_pfn(pmdv)));
      }
      if (!table_empty(mem, pud_pfn(pudv))) continue;
      page* pmd_table = mm_pfn_page(mm, pud_pfn(pudv));
      BUG_ON_MSG(pmd_table->private_ != 0, "freeing a pmd table that still holds deposited tables");
      set_pud(&pud[j], pud_t{0});
      tlb_remove_table(tlb, pmd_table);
    }
    if (!table_empty(mem, pgd_pfn(pgdv))) continue;
    set_pgd(&pgd[i], pgd_t{0});
    tlb_remove_table(tlb, mm_pfn_page(mm, pgd_pfn(pgdv)));
  }
}

}  // namespace guplab
