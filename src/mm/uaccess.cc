// uaccess.cc - the software MMU: translate, fault, copy.
#include "mm/uaccess.h"

#include <cstring>

#include "base/bug.h"
#include "base/errno.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/memory.h"
#include "mm/mmap.h"
#include "mm/swap.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

constexpr int kMaxFaultRetries = 100000;  // a fault that never makes progress is a bug

// FOLL_FORCE may write through a read-only entry once COW made the page ours alone.
inline bool force_write_ok(bool force, const page* p) { return force && PageAnon(p) && PageAnonExclusive(p); }

// The page at @addr if the current entries allow the access (with a reference, the
// zero page without), after setting A/D as the MMU would; nullptr if it must fault.
page* mmu_follow(mm_struct* mm, vm_area_struct* vma, unsigned long addr, bool write, bool force) {
  if (is_vm_hugetlb_page(vma)) return hugetlb_mmu_follow(mm, vma, addr, write, force);
  pgtable_slot* pmdp = pmd_walk(mm, addr);
  if (!pmdp) return nullptr;
  const pteval_t ad = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
  SpinGuard g(&mm->page_table_lock);
  pmd_t pmd = pmdp_get(pmdp);
  if (pmd_leaf(pmd)) {
    page* head = mm_pfn_page(mm, pmd_pfn(pmd));
    if (write && !pmd_write(pmd) && !force_write_ok(force, head)) return nullptr;
    folio_get(page_folio(head));
    ptep_set_bits(pmdp, ad);
    return head + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
  }
  if (!pmd_present(pmd)) return nullptr;
  pgtable_slot* ptep = pte_offset(mm_mem(mm), pmd, addr);
  pte_t pte = ptep_get(ptep);
  if (!pte_present(pte)) return nullptr;
  page* p = vm_normal_page(vma, addr, pte);
  if (!p) {
    page* zero = mm_machine(mm)->zero_page();
    if (pte_pfn(pte) != page_to_pfn(zero) || write) return nullptr;  // a write to it must COW
    p = zero;
  } else {
    if (write && !pte_write(pte) && !force_write_ok(force, p)) return nullptr;
    get_page(p);
  }
  ptep_set_bits(ptep, ad);
  return p;
}

// Copy between @buf and [addr, addr + len) of @mm; returns the bytes done, *@err the
// reason it stopped early.
size_t access_mm(mm_struct* mm, unsigned long addr, void* buf, size_t len, bool write, bool force, fault_flag fflags,
                 int* err) NO_THREAD_SAFETY_ANALYSIS /* a userfault drops mmap_lock; retaken here */ {
  *err = 0;
  size_t done = 0;
  if (!len) return 0;
  if (addr >= TASK_SIZE) {  // not user memory (a range crossing TASK_SIZE stops there)
    *err = -EFAULT;
    return 0;
  }
  char* b = static_cast<char*>(buf);
  mmap_read_lock(mm);
  while (done < len) {
    const unsigned long a = addr + done;
    if (a >= TASK_SIZE) {
      *err = -EFAULT;
      break;
    }
    const size_t off = a & ~PAGE_MASK;
    const size_t n = (len - done) < (PAGE_SIZE - off) ? (len - done) : (PAGE_SIZE - off);
    page* p = nullptr;
    *err = mmu_fault_in_page(mm, a & PAGE_MASK, write, force, fflags, &p);
    if (*err == -EAGAIN) {  // a userfaultfd fault dropped mmap_lock and waited: retry
      *err = -EFAULT;
      task_struct* t = current();
      if (t && fatal_signal_pending(t)) return done;
      mmap_read_lock(mm);
      fflags |= FAULT_FLAG_TRIED;
      *err = 0;
      continue;
    }
    if (*err) break;
    char* k = static_cast<char*>(page_address(p)) + off;
    // Relaxed accesses: a device's DMA or a migration copy may touch the frame meanwhile.
    if (write) copy_to_frame(k, b + done, n);
    else copy_from_frame(b + done, k, n);
    if (!PageZero(p)) put_page(p);
    done += n;
  }
  mmap_read_unlock(mm);
  return done;
}

}  // namespace

int mmu_fault_in_page(mm_struct* mm, unsigned long addr, bool write, bool force, fault_flag fflags, page** pagep) {
  mmap_assert_locked(mm);
  vm_area_struct* vma = vma_lookup(mm, addr);
  if (!vma) return -EFAULT;
  if (write) {
    if (!any(vma->vm_flags, VM_WRITE) && !(force && is_cow_mapping(vma->vm_flags))) return -EFAULT;
  } else {
    if (!vma_is_accessible(vma) && !(force && any(vma->vm_flags, VM_MAYREAD))) return -EFAULT;
  }
  fault_flag ff = fflags | (write ? FAULT_FLAG_WRITE : FAULT_FLAG_NONE);
  // A user access to a userfaultfd range may wait for its handler, as a user fault
  // (always ALLOW_RETRY upstream) does; the model's other user faults never drop the lock.
  if (any(fflags, FAULT_FLAG_USER) && userfaultfd_armed(vma)) ff |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;
  for (int tries = 0; tries < kMaxFaultRetries; tries++) {
    if (page* p = mmu_follow(mm, vma, addr, write, force)) {
      *pagep = p;
      return 0;
    }
    vm_fault_t ret = handle_mm_fault(vma, addr, ff);
    if (any(ret, VM_FAULT_RETRY) && any(ff, FAULT_FLAG_ALLOW_RETRY)) return -EAGAIN;  // mmap_lock dropped
    BUG_ON_MSG(any(ret, VM_FAULT_RETRY), "VM_FAULT_RETRY without FAULT_FLAG_ALLOW_RETRY");
    if (any(ret, VM_FAULT_OOM)) return -ENOMEM;
    if (any(ret, VM_FAULT_ERROR)) return -EFAULT;
    cond_resched();
  }
  WARN_ON_ONCE(true);
  return -EFAULT;
}

unsigned long copy_to_user(unsigned long to, const void* from, size_t n) {
  task_struct* t = current();
  if (!t || !t->mm) return n;
  int err;
  return n - access_mm(t->mm, to, const_cast<void*>(from), n, true, false, FAULT_FLAG_USER, &err);
}

unsigned long copy_from_user(void* to, unsigned long from, size_t n) {
  task_struct* t = current();
  if (!t || !t->mm) return n;
  int err;
  return n - access_mm(t->mm, from, to, n, false, false, FAULT_FLAG_USER, &err);
}

int uaccess_write(mm_struct* mm, unsigned long addr, const void* buf, size_t n) {
  int err;
  access_mm(mm, addr, const_cast<void*>(buf), n, true, false, FAULT_FLAG_USER, &err);
  return err ? -EFAULT : 0;
}

int uaccess_read(mm_struct* mm, unsigned long addr, void* buf, size_t n) {
  int err;
  access_mm(mm, addr, buf, n, false, false, FAULT_FLAG_USER, &err);
  return err ? -EFAULT : 0;
}

long access_remote_vm(mm_struct* mm, unsigned long addr, void* buf, size_t len, foll_flags gup_flags) {
  int err;
  return static_cast<long>(access_mm(mm, addr, buf, len, any(gup_flags, FOLL_WRITE), any(gup_flags, FOLL_FORCE),
                                     FAULT_FLAG_REMOTE, &err));
}

}  // namespace guplab
