// pgalloc.h - page-table pages: allocation, population, walking, and freeing after an
// RCU grace period (the kernel's asm/pgalloc.h, mm/pgtable-generic.c, mm/mmu_gather.c).
//
// A page-table page is a ZONE_NORMAL frame (GFP_KERNEL | __GFP_ZERO) with PG_pgtable
// set, counted in the machine's NR_PAGETABLE and in mm->pgtables_bytes (the pgd too).
// Tables are populated under mm->page_table_lock: the new table is allocated outside
// the lock, installed if the slot is still empty, and the spare freed otherwise.
//
// The lifetime rule every walker relies on:
//   A table is unlinked from its parent only under mm->page_table_lock with mmap_lock
//   held for write (munmap, exit), and only when it is empty; its frame is freed after
//   an RCU grace period (call_rcu through a small heap record, as struct page has no
//   room for an rcu_head).
// Hence a walk from the pgd is safe (a) under page_table_lock, (b) with mmap_lock held
// (read or write: no table can go away), or (c) locklessly inside rcu_read_lock() (a
// detached table is empty; a freed frame is never reused before the reader leaves).
//
// THP: each huge PMD mapping has one pre-allocated pte table *deposited* with it (in a
// stack hanging off the pmd table's struct page), so splitting a huge PMD never needs
// to allocate. Deposited tables are never visible to walkers until a split publishes
// one, so withdrawing one to throw away may free it at once.
//
// Threading: as above; each function states what it needs.
#pragma once
#include <vector>

#include "base/thread_annotations.h"
#include "mm/mm_struct.h"
#include "mm/pgtable.h"

namespace guplab {

/**
 * pgtable_alloc() - a zeroed page-table page for @mm, accounted.
 * Returns the page, or nullptr when ZONE_NORMAL is exhausted. Any context.
 */
page* pgtable_alloc(mm_struct* mm);
/**
 * pgtable_free_now() - free a table that no walker can ever have seen (a spare that
 * lost the install race, a withdrawn deposit). Unaccounts it.
 */
void pgtable_free_now(mm_struct* mm, page* table);
/**
 * pgtable_free_rcu() - unaccount a table already unlinked from its parent and free its
 * frame after a grace period. Batches go through mmu_gather (tlb_remove_table()).
 */
void pgtable_free_rcu(mm_struct* mm, page* table);

/** pgtable_entry() - the upper-level entry value that points at @table. */
inline pteval_t pgtable_entry(const page* table) {
  return (static_cast<pteval_t>(page_to_pfn(table)) << PAGE_SHIFT) | _PAGE_TABLE;
}

/** pgd_alloc() - give @mm its top-level table. Returns 0 or -ENOMEM. */
int pgd_alloc(mm_struct* mm);
/** pgd_free() - free @mm's top-level table via RCU (last mmdrop()). REQUIRES: all else freed. */
void pgd_free(mm_struct* mm);

/** pgd_slot() - the pgd entry for @addr. */
pgtable_slot* pgd_slot(mm_struct* mm, unsigned long addr);

/**
 * pmd_walk() - the pmd entry covering @addr, or nullptr if an upper level is empty.
 * Allocates nothing. REQUIRES: one of the three walking rules above.
 */
pgtable_slot* pmd_walk(mm_struct* mm, unsigned long addr);
/**
 * pte_walk() - the pte entry for @addr if the pmd points to a pte table, else nullptr
 * (empty, or a huge PMD). Same rules as pmd_walk().
 */
pgtable_slot* pte_walk(mm_struct* mm, unsigned long addr);
/**
 * pud_walk() - the pud entry covering @addr (it may be a 1 GiB leaf), or nullptr if the
 * pgd entry is empty. Same rules as pmd_walk().
 */
pgtable_slot* pud_walk(mm_struct* mm, unsigned long addr);
/**
 * pud_alloc_walk() - the pud entry covering @addr, allocating the pud table.
 * Returns nullptr on -ENOMEM. REQUIRES: mmap_lock held (read or write).
 */
pgtable_slot* pud_alloc_walk(mm_struct* mm, unsigned long addr);
/**
 * pmd_alloc_walk() - the pmd entry covering @addr, allocating pud and pmd tables.
 * Returns nullptr on -ENOMEM. REQUIRES: mmap_lock held (read or write).
 */
pgtable_slot* pmd_alloc_walk(mm_struct* mm, unsigned long addr);
/**
 * __pte_alloc() - make the empty pmd @pmd point to a new pte table. Returns 0 (also if
 * someone else populated it first, possibly with a huge PMD) or -ENOMEM.
 * REQUIRES: mmap_lock held; page_table_lock not held.
 */
int __pte_alloc(mm_struct* mm, pgtable_slot* pmd);

/** pgtable_trans_huge_deposit() - keep @table for the huge PMD at @pmd. */
void pgtable_trans_huge_deposit(mm_struct* mm, pgtable_slot* pmd, page* table) REQUIRES(mm->page_table_lock);
/** pgtable_trans_huge_withdraw() - take back a table deposited in @pmd's table (never null). */
page* pgtable_trans_huge_withdraw(mm_struct* mm, pgtable_slot* pmd) REQUIRES(mm->page_table_lock);

/**
 * struct mmu_gather - what an unmap collects: pages whose mapping reference is dropped
 * once page_table_lock is released, and tables freed after a grace period.
 * Not shared; one per unmap operation.
 */
struct mmu_gather {
  mm_struct* mm = nullptr;
  bool fullmm = false;  // the whole address space is going (exit_mmap)
  std::vector<page*> pages;
  std::vector<page*> tables;
};

/** tlb_gather_mmu() - start an unmap of @mm. */
void tlb_gather_mmu(mmu_gather* tlb, mm_struct* mm, bool fullmm = false);
/** tlb_remove_page() - drop @p's mapping reference at the next flush. */
inline void tlb_remove_page(mmu_gather* tlb, page* p) { tlb->pages.push_back(p); }
/** tlb_remove_table() - free an unlinked table after a grace period (at finish). */
inline void tlb_remove_table(mmu_gather* tlb, page* table) { tlb->tables.push_back(table); }
/** tlb_flush_mmu() - put the gathered pages. REQUIRES: page_table_lock not held. */
void tlb_flush_mmu(mmu_gather* tlb);
/** tlb_finish_mmu() - flush, and queue the gathered tables for freeing after RCU. */
void tlb_finish_mmu(mmu_gather* tlb);

/**
 * free_pgtables() - unlink and free (via @tlb) every pte, pmd and pud table covering
 * part of [@start, @end) that is empty. The range's entries must have been zapped.
 * REQUIRES: mmap_lock held for write; page_table_lock not held.
 */
void free_pgtables(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end);

}  // namespace guplab
