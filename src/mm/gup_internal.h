// gup_internal.h - pieces shared by the GUP slow path (gup.cc) and fast path
// (gup_fast.cc): unshare and write rules, vmstat accounting.
// Threading: stateless helpers; see each function's REQUIRES.
#pragma once
#include "mm/gup.h"
#include "mm/mm_types.h"
#include "mm/page-flags.h"
#include "mm/pgtable.h"
#include "mm/vma.h"

namespace guplab {

/**
 * gup_must_unshare() - a read-only FOLL_PIN of an anon page that is shared (not
 * PageAnonExclusive, e.g. after fork) must first break COW (FAULT_FLAG_UNSHARE), or the
 * pin could end up on a page the process no longer maps after its next write. A
 * long-term read pin of a private file or zero page in a COW mapping must unshare too.
 * @vma may be nullptr (GUP-fast), meaning "unknown": then file pages are left alone.
 * REQUIRES: @p is the page that holds the exclusivity: the head of a PMD-mapped THP,
 * the page itself when pte-mapped (a split hands the head's flag to every subpage, and
 * fork and COW then change it per subpage).
 */
inline bool gup_must_unshare(const vm_area_struct* vma, foll_flags flags, const page* p) {
  if (!any(flags, FOLL_PIN) || any(flags, FOLL_WRITE)) return false;
  if (!PageAnon(p)) {
    if (!any(flags, FOLL_LONGTERM)) return false;
    if (!vma) return true;
    return is_cow_mapping(vma->vm_flags);
  }
  return !PageAnonExclusive(p);
}

/**
 * can_follow_write_pte() - may a FOLL_WRITE GUP use this pte? Either it is writable, or
 * this is FOLL_FORCE on a private read-only mapping and the page is already our own
 * COW copy (anon and exclusive): the original page is never written.
 */
inline bool can_follow_write_pte(pte_t pte, const page* p, const vm_area_struct* vma, foll_flags flags) {
  if (pte_write(pte)) return true;
  if (!any(flags, FOLL_FORCE)) return false;
  if (pte_uffd_wp(pte) && any(vma->vm_flags, VM_UFFD_WP)) return false;  // fault: the handler decides
  if (!any(vma->vm_flags, VM_MAYWRITE)) return false;
  if (any(vma->vm_flags, VM_WRITE)) return false;  // writable vma: fault to make the pte writable
  if (!p || !PageAnon(p) || !PageAnonExclusive(p)) return false;
  return true;
}
/** REQUIRES: @head is the PMD-mapped folio's head (where its exclusivity is kept). */
inline bool can_follow_write_pmd(pmd_t pmd, const page* head, const vm_area_struct* vma, foll_flags flags) {
  return can_follow_write_pte(pte_t{pmd.val}, head, vma, flags);
}

/** Add @nr to NR_FOLL_PIN_ACQUIRED of @f's machine. */
void gup_count_pins(const page* p, long nr);

inline unsigned long pgd_addr_end(unsigned long addr, unsigned long end) {
  unsigned long b = (addr + PGDIR_SIZE) & ~(PGDIR_SIZE - 1);
  return (b - 1 < end - 1) ? b : end;
}
inline unsigned long pud_addr_end(unsigned long addr, unsigned long end) {
  unsigned long b = (addr + PUD_SIZE) & PUD_MASK;
  return (b - 1 < end - 1) ? b : end;
}
inline unsigned long pmd_addr_end(unsigned long addr, unsigned long end) {
  unsigned long b = (addr + PMD_SIZE) & PMD_MASK;
  return (b - 1 < end - 1) ? b : end;
}

/**
 * gup_prepare_flags() - upstream's is_valid_gup_args(): refuse internal flags from
 * callers and impossible mixes (WARN + -EINVAL), then add what the entry point implies.
 */
int gup_prepare_flags(foll_flags* flags, foll_flags to_set, page** pages, const int* locked);

/**
 * gup_design_flags() - @flags as the machine's pin design takes them: under a design
 * with kGetIsPin (bias_all: seed 000 as posted, no FOLL_GET/FOLL_PIN split) FOLL_GET
 * becomes FOLL_PIN, so every get_user_pages*() adds the bias and is counted as a pin.
 */
foll_flags gup_design_flags(const mm_struct* mm, foll_flags flags);

/**
 * __get_user_pages_locked() - the slow path with the *locked protocol; shared by every
 * entry point. @locked nullptr: mmap_lock held throughout (FOLL_UNLOCKABLE must not be
 * set). *@locked == 0: takes mmap_lock itself and releases it before returning (the
 * *_unlocked and GUP-fast fallback callers). *@locked == 1: the caller holds it; if a
 * fault dropped it during the call, returns with it released and *@locked == 0.
 */
long __get_user_pages_locked(mm_struct* mm, unsigned long start, unsigned long nr_pages, page** pages,
                             int* locked, foll_flags flags);

}  // namespace guplab
