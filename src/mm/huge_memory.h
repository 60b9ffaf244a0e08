// huge_memory.h - transparent huge pages: order-9 anonymous folios mapped by one PMD
// (mm/huge_memory.c).
//
// A vma is THP-eligible when it is private anonymous, the machine boots with thp, and
// it has VM_HUGEPAGE (MADV_HUGEPAGE) or the machine boots with thp_always, and not
// VM_NOHUGEPAGE. A fault in a whole aligned 2 MiB range of such a vma allocates one
// order-9 folio and maps it with a huge PMD (entire mapcount 1); read faults do so too
// (no huge zero page). Without an order-9 block the fault falls back to 4 KiB pages
// (THP_FAULT_FALLBACK).
//
// Write after fork (the choice upstream made too): a write-protect fault on a huge PMD
// reuses the folio if it is exclusive to this mm (PageAnonExclusive, or its only
// reference is this mapping); otherwise the PMD is *split* into 512 ptes of the same
// folio and the fault continues at pte level, where only the written 4 KiB page is
// copied. The folio itself is never split (no split_huge_page()): a partly unmapped
// THP stays allocated until its last page is unmapped and unreferenced.
//
// Each huge PMD has a pte table deposited with it (mm/pgalloc.h), so splitting a PMD
// (COW, partial munmap/mprotect/MADV_DONTNEED, vma split, fork of a pinned THP) never
// allocates and never fails.
//
// Threading: as mm/memory.h. Functions named _locked REQUIRE page_table_lock.
#pragma once
#include "mm/mm_struct.h"
#include "mm/pgalloc.h"
#include "mm/vma.h"

namespace guplab {

/** vma_thp_eligible() - may faults in @vma be served by huge PMDs (see above)? */
bool vma_thp_eligible(const vm_area_struct* vma);
/** thp_vma_suitable() - is the aligned 2 MiB range around @address inside @vma? */
bool thp_vma_suitable(const vm_area_struct* vma, unsigned long address);

/**
 * do_huge_pmd_anonymous_page() - fault in a THP for the empty pmd vmf->pmd.
 * Returns 0, VM_FAULT_OOM, or VM_FAULT_FALLBACK (use 4 KiB pages).
 */
vm_fault_t do_huge_pmd_anonymous_page(vm_fault* vmf);
/**
 * do_huge_pmd_wp_page() - write (or unshare) fault on the read-only huge PMD
 * vmf->orig_pmd: reuse if exclusive, else split the PMD and return VM_FAULT_FALLBACK.
 */
vm_fault_t do_huge_pmd_wp_page(vm_fault* vmf);
/** huge_pmd_set_accessed() - a fault the huge PMD already allows: mark it young/dirty. */
void huge_pmd_set_accessed(vm_fault* vmf);

/**
 * __split_huge_pmd() - replace the huge PMD at @pmd (covering @address) by a table of
 * 512 ptes mapping the same folio; nothing if it is not a huge PMD (any more).
 * REQUIRES: mmap_lock held; page_table_lock not held.
 */
void __split_huge_pmd(vm_area_struct* vma, pgtable_slot* pmd, unsigned long address);
/**
 * __split_huge_pmd_locked() - the same for the huge value @orig read under the lock.
 * REQUIRES: vma->vm_mm->page_table_lock held (asserted at run time: the analysis cannot
 * tie it to the caller's spelling of the lock).
 */
void __split_huge_pmd_locked(vm_area_struct* vma, pgtable_slot* pmd, unsigned long haddr, pmd_t orig);
/** split_huge_pmd_address() - split the huge PMD covering @address, if there is one. */
void split_huge_pmd_address(vm_area_struct* vma, unsigned long address);
/**
 * vma_adjust_trans_huge() - before @vma's bounds move to [@start, @end): split huge
 * PMDs that would straddle a boundary.
 */
void vma_adjust_trans_huge(vm_area_struct* vma, unsigned long start, unsigned long end);

/**
 * zap_huge_pmd() - unmap the huge PMD at @pmd: rmap, rss, deposited table, and the
 * folio's reference through @tlb. Returns true if it was (still) a huge PMD.
 */
bool zap_huge_pmd(mmu_gather* tlb, vm_area_struct* vma, pgtable_slot* pmd, unsigned long addr);

/**
 * copy_huge_pmd() - fork: share the huge PMD @src_pmd with the child, read-only in both,
 * with a deposited table for the child. Returns 0, -ENOMEM, or -EAGAIN when the folio
 * may be pinned: the source PMD has then been split and the caller copies ptes.
 */
int copy_huge_pmd(vm_area_struct* dst_vma, vm_area_struct* src_vma, pgtable_slot* dst_pmd,
                  pgtable_slot* src_pmd, unsigned long addr);

/**
 * change_huge_pmd() - mprotect of a whole huge PMD to @newprot (keeping it writable
 * only if it was and the vma still allows writes). Returns true if it was a huge PMD.
 */
bool change_huge_pmd(vm_area_struct* vma, pgtable_slot* pmd, unsigned long addr, pgprot_t newprot);

}  // namespace guplab
