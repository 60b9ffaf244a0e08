// hmm.cc - hmm_range_fault(): collect the pfns of a range for a mirroring device,
// faulting in what the request needs, with no reference taken.
#include "mm/hmm.h"

#include <vector>

#include "base/errno.h"
#include "machine/machine.h"
#include "mm/memory.h"
#include "mm/mmap.h"
#include "mm/page-flags.h"
#include "mm/pgalloc.h"
#include "mm/vma.h"

namespace guplab {

namespace {

/** What the current page table says about one address. */
struct hmm_entry {
  bool present = false;
  bool write = false;
  bool special = false;  // a special pte that is not the zero page: no struct page to give
  unsigned long pfn = 0;
};

/** Read the entry mapping @addr (pte, 2 MiB PMD leaf or 1 GiB PUD leaf) under page_table_lock. */
hmm_entry hmm_read_entry(mm_struct* mm, unsigned long addr) REQUIRES_SHARED(mm->mmap_lock) {
  hmm_entry e;
  SpinGuard g(&mm->page_table_lock);
  pgtable_slot* pudp = pud_walk(mm, addr);
  if (!pudp) return e;
  pud_t pud = pudp_get(pudp);
  if (pud_leaf(pud)) {
    e.present = true;
    e.write = pud_write(pud);
    e.pfn = pud_pfn(pud) + ((addr & ~PUD_MASK) >> PAGE_SHIFT);
    return e;
  }
  pgtable_slot* pmdp = pmd_walk(mm, addr);
  if (!pmdp) return e;
  pmd_t pmd = pmdp_get(pmdp);
  if (pmd_leaf(pmd)) {
    e.present = true;
    e.write = pmd_write(pmd);
    e.pfn = pmd_pfn(pmd) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
    return e;
  }
  pgtable_slot* ptep = pte_walk(mm, addr);
  if (!ptep) return e;
  pte_t pte = ptep_get(ptep);
  if (!pte_present(pte)) return e;  // none, or a swap/migration entry: a fault resolves it
  e.present = true;
  e.write = pte_write(pte);
  e.pfn = pte_pfn(pte);
  if (pte_special(pte) && !PageZero(mm->machine->mem().pfn_to_page(e.pfn))) e.special = true;
  return e;
}

/** The request bits of entry @i (default_flags, plus what the mask lets the entry add). */
unsigned long hmm_request(const hmm_range* range, unsigned long i) {
  return (range->default_flags | (range->hmm_pfns[i] & range->pfn_flags_mask)) & (HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);
}

}  // namespace

int hmm_range_fault(hmm_range* range) {
  mmu_interval_notifier* mni = range->notifier;
  mm_struct* mm = mni->mm;
  mmap_assert_locked(mm);  // the caller's; the analysis cannot follow range->notifier->mm
  const unsigned long npages = (range->end - range->start) >> PAGE_SHIFT;
  // Request bits are read from the input entries once, before any entry is overwritten.
  std::vector<unsigned long> req(npages);
  for (unsigned long i = 0; i < npages; i++) req[i] = hmm_request(range, i);

  unsigned long i = 0;
  vm_area_struct* vma = nullptr;
  while (i < npages) {
    // An invalidation since the caller's read_begin makes everything collected stale.
    if (mmu_interval_check_retry(mni, range->notifier_seq)) return -EBUSY;
    const unsigned long addr = range->start + (i << PAGE_SHIFT);
    const unsigned long want = req[i];
    if (!vma || addr >= vma->vm_end || addr < vma->vm_start) vma = vma_lookup(mm, addr);
    if (!vma || any(vma->vm_flags, VM_IO | VM_PFNMAP) ||
        !any(vma->vm_flags, VM_READ)) {
      if (want) return -EFAULT;
      range->hmm_pfns[i++] = HMM_PFN_ERROR;
      continue;
    }
    hmm_entry e = hmm_read_entry(mm, addr);
    if (e.special) {
      if (want) return -EFAULT;
      range->hmm_pfns[i++] = HMM_PFN_ERROR;
      continue;
    }
    const bool need_fault = ((want & HMM_PFN_REQ_FAULT) && !e.present) ||
                            ((want & HMM_PFN_REQ_WRITE) && !(e.present && e.write));
    if (!need_fault) {
      range->hmm_pfns[i++] = e.present ? (e.pfn | HMM_PFN_VALID | (e.write ? HMM_PFN_WRITE : 0)) : 0;
      continue;
    }
    fault_flag ff = FAULT_FLAG_REMOTE;
    if ((want & HMM_PFN_REQ_WRITE)) {
      if (!any(vma->vm_flags, VM_WRITE)) return -EPERM;
      ff |= FAULT_FLAG_WRITE;
    }
    // No FAULT_FLAG_ALLOW_RETRY: the handler keeps mmap_lock, and the vma stays valid.
    vm_fault_t ret = handle_mm_fault(vma, addr, ff);
    if (any(ret, VM_FAULT_OOM)) return -ENOMEM;
    if (any(ret, VM_FAULT_ERROR)) return -EFAULT;
    // Walk this address again: the fault may have raced, or mapped it read-only.
  }
  return 0;
}

}  // namespace guplab
