// mprotect.cc - mprotect(2): vma flags and entry protections.
#include "mm/mprotect.h"

#include <sys/mman.h>

#include "base/bug.h"
#include "base/errno.h"
#include "mm/huge_memory.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/mmap.h"
#include "mm/mmu_notifier.h"
#include "mm/pgalloc.h"
#include "mm/swapops.h"

namespace guplab {

namespace {

constexpr vm_flags_t kAccessFlags = VM_READ | VM_WRITE | VM_EXEC;

inline unsigned long addr_end(unsigned long addr, unsigned long size, unsigned long end) {
  unsigned long b = (addr + size) & ~(size - 1);
  return (b - 1 < end - 1) ? b : end;
}

inline vm_flags_t mprotect_newflags(const vm_area_struct* vma, vm_flags_t prot_bits) {
  return (vma->vm_flags & ~kAccessFlags) | prot_bits;
}

// The VM_MAY* bits sit 4 above the access bits they allow.
inline bool mprotect_allowed(vm_flags_t newflags) {
  using U = std::underlying_type_t<vm_flags_t>;
  const U f = static_cast<U>(newflags);
  return ((f & ~(f >> 4)) & static_cast<U>(kAccessFlags)) == 0;
}

long change_pte_range(vm_area_struct* vma, pmd_t pmd, unsigned long addr, unsigned long end, pgprot_t newprot) {
  mm_struct* mm = vma->vm_mm;
  const PhysMem& mem = mm_mem(mm);
  const bool may_write = any(vma->vm_flags, VM_WRITE);
  long changed = 0;
  SpinGuard g(&mm->page_table_lock);
  for (; addr < end; addr += PAGE_SIZE) {
    pgtable_slot* slot = pte_offset(mem, pmd, addr);
    pte_t old = ptep_get(slot);
    if (is_migration_entry(old)) {  // the migration must not bring the write bit back
      if (!may_write && is_writable_migration_entry(old)) set_pte(slot, make_readable_migration_entry(old));
      continue;
    }
    if (!pte_present(old)) continue;
    pteval_t v = (old.val & kPteKeepMask) | newprot.val;
    if (pte_write(old) && may_write) v |= _PAGE_RW;
    if (v == old.val) continue;
    set_pte(slot, pte_t{v});
    changed++;
  }
  return changed;
}

}  // namespace

long change_protection(vm_area_struct* vma, unsigned long addr, unsigned long end, pgprot_t newprot) {
  mmap_assert_write_locked(vma->vm_mm);  // REQUIRES (mprotect.h)
  MmuNotifierScope notify(MMU_NOTIFY_PROTECTION_VMA, vma->vm_mm, addr, end);
  if (is_vm_hugetlb_page(vma)) return hugetlb_change_protection(vma, addr, end, newprot);
  mm_struct* mm = vma->vm_mm;
  const PhysMem& mem = mm_mem(mm);
  long changed = 0;
  for (unsigned long next; addr < end; addr = next) {
    pgd_t pgd = pgdp_get(pgd_slot(mm, addr));
    if (!pgd_present(pgd)) {
      next = addr_end(addr, PGDIR_SIZE, end);
      continue;
    }
    pud_t pud = pudp_get(pud_offset(mem, pgd, addr));
    if (!pud_present(pud) || pud_leaf(pud)) {
      next = addr_end(addr, PUD_SIZE, end);
      continue;
    }
    next = addr_end(addr, PMD_SIZE, end);
    pgtable_slot* pmdp = pmd_offset(mem, pud, addr);
    pmd_t pmd = pmdp_get(pmdp);
    if (pmd_leaf(pmd)) {
      if (!(addr & ~PMD_MASK) && next - addr == PMD_SIZE && change_huge_pmd(vma, pmdp, addr, newprot)) {
        changed++;
        continue;
      }
      __split_huge_pmd(vma, pmdp, addr);
      pmd = pmdp_get(pmdp);
    }
    if (!pmd_present(pmd) || pmd_leaf(pmd)) continue;
    changed += change_pte_range(vma, pmd, addr, next, newprot);
  }
  return changed;
}

int do_mprotect(mm_struct* mm, unsigned long start, unsigned long len, int prot) {
  if (start & ~PAGE_MASK) return -EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -EINVAL;
  if (!len) return 0;
  len = (len + PAGE_SIZE - 1) & PAGE_MASK;
  const unsigned long end = start + len;
  if (!len || end <= start) return -ENOMEM;
  const vm_flags_t prot_bits = calc_vm_prot_bits(prot);

  mmap_write_lock(mm);
  int err = 0;
  // Check the whole range first, so a failure changes nothing.
  unsigned long nstart = start;
  for (vm_area_struct* vma = find_vma(mm, start); nstart < end; vma = vma_next(mm, vma)) {
    if (!vma || vma->vm_start > nstart) {
      err = -ENOMEM;
      break;
    }
    if (!mprotect_allowed(mprotect_newflags(vma, prot_bits))) {
      err = -EACCES;
      break;
    }
    nstart = vma->vm_end;
  }
  if (!err) {
    vm_area_struct* vma = find_vma(mm, start);
    if (vma->vm_start < start) err = split_vma(mm, vma, start, true);
    while (!err && vma && vma->vm_start < end) {
      if (vma->vm_end > end) err = split_vma(mm, vma, end, false);
      if (err) break;
      const vm_flags_t newflags = mprotect_newflags(vma, prot_bits);
      if (newflags != vma->vm_flags) {
        vma->vm_flags = newflags;
        vma_set_page_prot(vma);
        change_protection(vma, vma->vm_start, vma->vm_end, vma->vm_page_prot);
      }
      vma = vma_next(mm, vma);
    }
  }
  mmap_write_unlock(mm);
  return err;
}

}  // namespace guplab
