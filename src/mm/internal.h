// internal.h - helpers shared by the mm core's files (memory.cc, huge_memory.cc, fork.cc,
// mmap.cc, rmap.cc, ...), as the kernel's mm/internal.h. Not an API for other layers.
//
// Threading: see each helper. The plain-int fields of a large folio's first tail page
// (_entire_mapcount, _nr_pages_mapped) are only ever touched through folio_int_*()
// below: atomically, and as scheduling points of the base/ seam.
#pragma once
#include "base/atomic.h"
#include "base/sched.h"
#include "machine/machine.h"
#include "mm/mm_struct.h"
#include "mm/page-flags.h"
#include "mm/pgtable.h"
#include "mm/vma.h"

namespace guplab {

// ---- atomics on plain int words of struct page -------------------------------------
inline int folio_int_read(const int* p) {
  sched_point(SchedPoint::kAtomicRead, p);
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}
inline int folio_int_add_return(int* p, int v) {
  sched_point(SchedPoint::kAtomicWrite, p);
  return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST);
}

/** READ_ONCE/WRITE_ONCE of page->mapping (rmap readers race with folio_move_anon_rmap). */
inline address_space* folio_mapping_read(const page* f) {
  return __atomic_load_n(&f->mapping, __ATOMIC_ACQUIRE);
}
inline void folio_mapping_write(page* f, address_space* m) { __atomic_store_n(&f->mapping, m, __ATOMIC_RELEASE); }

/**
 * folio_ref_count_acquire() - the refcount, read with acquire ordering: a COW reuse
 * decision ("we hold the only reference") must see everything the holders of the
 * references just dropped did before dropping them (their reads of ->mapping, say).
 */
inline int folio_ref_count_acquire(const page* f) {
  sched_point(SchedPoint::kAtomicRead, &f->_refcount);
  return f->_refcount.counter.load(std::memory_order_acquire);
}

/** COMPOUND_MAPPED - added to _nr_pages_mapped while the folio is PMD-mapped (upstream). */
inline constexpr int COMPOUND_MAPPED = 1 << 23;
inline constexpr int FOLIO_PAGES_MAPPED = COMPOUND_MAPPED - 1;

// ---- the mm and its machine ---------------------------------------------------------
inline Machine* mm_machine(const mm_struct* mm) { return mm->machine; }
inline const PhysMem& mm_mem(const mm_struct* mm) { return mm->machine->mem(); }

/** add_mm_counter() - resident-set accounting (MM_ANONPAGES / MM_FILEPAGES). */
inline void add_mm_rss(mm_struct* mm, bool anon, long nr) {
  if (nr) atomic_add(nr, anon ? &mm->rss_anon : &mm->rss_file);
}

/** pfn_page() - the struct page of frame @pfn of @mm's machine. */
inline page* mm_pfn_page(const mm_struct* mm, unsigned long pfn) { return mm_mem(mm).pfn_to_page(pfn); }

// ---- vma helpers --------------------------------------------------------------------
/** vma_anon_vma() - READ_ONCE(vma->anon_vma): it is set once, under page_table_lock. */
inline anon_vma* vma_anon_vma(const vm_area_struct* vma) { return __atomic_load_n(&vma->anon_vma_, __ATOMIC_ACQUIRE); }

/** vma_has_access() - may user space touch this vma at all (not PROT_NONE)? */
inline bool vma_is_accessible(const vm_area_struct* vma) {
  return any(vma->vm_flags, VM_READ | VM_WRITE | VM_EXEC);
}

/** maybe_mkwrite() - make the entry writable if the vma allows writes. */
inline pte_t maybe_mkwrite(pte_t pte, const vm_area_struct* vma) {
  return any(vma->vm_flags, VM_WRITE) ? pte_mkwrite(pte) : pte;
}
inline pmd_t maybe_pmd_mkwrite(pmd_t pmd, const vm_area_struct* vma) {
  return any(vma->vm_flags, VM_WRITE) ? pmd_mkwrite(pmd) : pmd;
}

/** vma_set_page_prot() - vm_page_prot from vm_flags, read-only for write-notify mappings. */
void vma_set_page_prot(vm_area_struct* vma);

/** Protection and state bits a pte keeps when mprotect() rewrites its permissions. */
inline constexpr pteval_t kPteKeepMask = _PAGE_PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SPECIAL | _PAGE_PSE;

/**
 * mmu_fault_in_page() - the software MMU's translation of one user address: walk the
 * page tables, faulting as the hardware would (not present, or a write to a read-only
 * entry), until the entry allows the access.
 * @write: the access writes. @force: FOLL_FORCE rules (write a read-only private
 * mapping through COW; read PROT_NONE if VM_MAYREAD). @fflags: FAULT_FLAG_USER /
 * FAULT_FLAG_REMOTE. On success *@pagep is the 4 KiB page with a reference (the zero
 * page without one; test PageZero before put_page()).
 * Returns 0, -EFAULT (no vma, no permission, SIGSEGV/SIGBUS), -ENOMEM, or -EAGAIN:
 * a FAULT_FLAG_USER fault on a userfaultfd-registered vma waited for its handler with
 * mmap_lock dropped (FAULT_FLAG_ALLOW_RETRY); the caller retakes it and tries again.
 * REQUIRES: mmap_lock of @mm held for read; dropped only in the -EAGAIN case.
 */
int mmu_fault_in_page(mm_struct* mm, unsigned long addr, bool write, bool force, fault_flag fflags,
                      page** pagep);

}  // namespace guplab
