// memory.cc - page faults, copy-on-write, and zapping user mappings.
#include "machine/trace_point.h"
#include "mm/memory.h"

#include <cstring>

#include "base/bug.h"
#include "machine/machine.h"
#include "mm/huge_memory.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/migrate.h"
#include "mm/mmu_notifier.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/rmap.h"
#include "mm/swap.h"
#include "mm/swapops.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

inline bool fault_write(const vm_fault* vmf) { return any(vmf->flags, FAULT_FLAG_WRITE); }
inline bool fault_unshare(const vm_fault* vmf) { return any(vmf->flags, FAULT_FLAG_UNSHARE); }

constexpr vm_fault_t kFaultStop = VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY | VM_FAULT_DONE_COW;

inline unsigned long addr_end(unsigned long addr, unsigned long size, unsigned long end) {
  unsigned long b = (addr + size) & ~(size - 1);
  return (b - 1 < end - 1) ? b : end;
}

// ---- anonymous memory ---------------------------------------------------------------

vm_fault_t do_anonymous_page(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  Machine* m = mm_machine(mm);
  if (any(vma->vm_flags, VM_SHARED)) return VM_FAULT_SIGBUS;  // shared anon is shmem-backed
  if (userfaultfd_missing(vma)) return handle_userfault(vmf, VM_UFFD_MISSING);  // may drop mmap_lock

  if (!fault_write(vmf)) {  // read (or unshare of nothing): the shared zero page
    pte_t entry = pte_mkspecial(mk_pte(m->zero_page(), vma->vm_page_prot));
    SpinGuard g(&mm->page_table_lock);
    if (pte_none(ptep_get(vmf->pte))) set_pte(vmf->pte, entry);
    return VM_FAULT_NONE;
  }

  if (anon_vma_prepare(vma)) return VM_FAULT_OOM;
  page* p = alloc_pages_on(m, gfp_t::GFP_HIGHUSER_MOVABLE | gfp_t::__GFP_ZERO, 0);
  if (!p) return VM_FAULT_OOM;
  folio* f = page_folio(p);
  pte_t entry = maybe_mkwrite(pte_mkdirty(pte_mkyoung(mk_pte(p, vma->vm_page_prot))), vma);
  bool mapped = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (pte_none(ptep_get(vmf->pte))) {
      // Everything about the page is in place before the entry is published (release).
      folio_add_new_anon_rmap(f, vma, vmf->address);
      folio_add_lru(f);
      add_mm_rss(mm, true, 1);
      set_pte(vmf->pte, entry);
      mapped = true;
    }
  }
  if (!mapped) folio_put(f);  // another fault mapped this address first
  return VM_FAULT_NONE;
}

// Upstream's wp_can_reuse_anon_folio(): a small anon folio whose only reference is our
// mapping can become exclusive to this vma.
bool wp_can_reuse_anon_folio(folio* f, vm_area_struct* vma) {
  if (folio_test_large(f)) return false;
  if (folio_ref_count_acquire(f) > 1) return false;
  if (!folio_trylock(f)) return false;
  const bool reuse = folio_ref_count_acquire(f) == 1;
  if (reuse) folio_move_anon_rmap(f, vma);
  folio_unlock(f);
  return reuse;
}

// Give this mm its own copy of the page (or a zeroed page for the zero page, @old null).
// @old carries a reference of ours.
vm_fault_t wp_page_copy(vm_fault* vmf, page* old) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  Machine* m = mm_machine(mm);
  if (anon_vma_prepare(vma)) {
    if (old) put_page(old);
    return VM_FAULT_OOM;
  }
  page* np = alloc_pages_on(m, gfp_t::GFP_HIGHUSER_MOVABLE | (old ? gfp_t::NONE : gfp_t::__GFP_ZERO), 0);
  if (!np) {
    if (old) put_page(old);
    return VM_FAULT_OOM;
  }
  if (old) copy_user_highpage(np, old);
  folio* nf = page_folio(np);
  bool mapped = false;
  // The old page leaves this mm at this address: secondary MMUs drop it (CLEAR).
  const unsigned long haddr = vmf->address & PAGE_MASK;
  MmuNotifierScope notify(MMU_NOTIFY_CLEAR, mm, haddr, haddr + PAGE_SIZE);
  {
    SpinGuard g(&mm->page_table_lock);
    if (pte_same(ptep_get(vmf->pte), vmf->orig_pte)) {
      folio_add_new_anon_rmap(nf, vma, vmf->address);
      folio_add_lru(nf);
      pte_t entry = pte_mkyoung(mk_pte(np, vma->vm_page_prot));
      if (!fault_unshare(vmf)) entry = maybe_mkwrite(pte_mkdirty(entry), vma);
      else if (pte_uffd_wp(vmf->orig_pte)) entry = pte_mkuffd_wp(entry);  // unsharing keeps the protection
      set_pte(vmf->pte, entry);
      if (old) {
        page_remove_rmap(old, vma, false);
        if (!PageAnon(old)) {
          add_mm_rss(mm, false, -1);
          add_mm_rss(mm, true, 1);
        }
      } else {
        add_mm_rss(mm, true, 1);
      }
      mapped = true;
    }
  }
  if (!mapped) folio_put(nf);
  if (old) {
    if (mapped) put_page(old);  // the old mapping's reference
    put_page(old);              // ours
  }
  if (mapped) m->vmstat().inc(COW_FAULTS);
  return VM_FAULT_NONE;
}

// ->page_mkwrite() for @p (referenced by us). On success the page is returned locked.
vm_fault_t do_page_mkwrite(vm_fault* vmf, page* p) {
  const fault_flag saved = vmf->flags;
  vmf->flags = (saved & ~(FAULT_FLAG_UNSHARE)) | FAULT_FLAG_WRITE | FAULT_FLAG_MKWRITE;
  vmf->page_ = p;
  vm_fault_t ret = vmf->vma->vm_ops->page_mkwrite(vmf);
  vmf->flags = saved;
  if (any(ret, VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) return ret;
  if (!any(ret, VM_FAULT_LOCKED)) {
    lock_page(p);
    if (!page_mapping(p)) {  // truncated meanwhile
      unlock_page(p);
      return VM_FAULT_NOPAGE;
    }
    ret |= VM_FAULT_LOCKED;
  }
  return ret;
}

// Write to a read-only pte of a shared (file or shmem) mapping. @p carries our reference.
vm_fault_t wp_page_shared(vm_fault* vmf, page* p) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  const bool mkwrite = vma->vm_ops && vma->vm_ops->page_mkwrite;
  if (mkwrite) {
    vm_fault_t ret = do_page_mkwrite(vmf, p);
    if (any(ret, VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) {
      put_page(p);
      return ret;
    }
  }
  bool done = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (pte_same(ptep_get(vmf->pte), vmf->orig_pte)) {
      set_pte(vmf->pte, pte_mkwrite(pte_mkdirty(pte_mkyoung(vmf->orig_pte))));
      done = true;
    }
  }
  if (done) folio_mark_dirty(page_folio(p));
  if (mkwrite) unlock_page(p);
  put_page(p);
  if (done) mm_machine(mm)->vmstat().inc(PGREUSE);
  return VM_FAULT_NONE;
}

// The rule before 5.8 (MachineConfig::cow_reuse == mapcount; reuse_swap_page()): an anon
// page mapped only here is reused, whatever other references it has, so a page that a
// pipe or a GUP still holds becomes writable by this mm (CVE-2020-29374).
bool wp_can_reuse_by_mapcount(folio* f, page* p, vm_area_struct* vma) {
  if (folio_test_large(f) && folio_entire_mapcount(f) > 0) return false;
  if (page_mapcount(p) != 1) return false;
  if (!folio_trylock(f)) return false;
  const bool reuse = page_mapcount(p) == 1;
  if (reuse && !folio_test_large(f)) folio_move_anon_rmap(f, vma);
  folio_unlock(f);
  return reuse;
}

// A write (or unshare) fault on a present read-only pte.
vm_fault_t do_wp_page(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  const bool unshare = fault_unshare(vmf);
  page* p;
  {
    SpinGuard g(&mm->page_table_lock);
    if (!pte_same(ptep_get(vmf->pte), vmf->orig_pte)) return VM_FAULT_NONE;
    p = vm_normal_page(vma, vmf->address, vmf->orig_pte);
    if (any(vma->vm_flags, VM_SHARED)) {
      if (unshare) return VM_FAULT_NONE;  // nothing is COW-shared in a shared mapping
      if (!p) return VM_FAULT_SIGBUS;
      get_page(p);
    } else if (p && PageAnon(p)) {
      folio* f = page_folio(p);
      bool exclusive = PageAnonExclusive(p);
      const bool by_mapcount = mm_machine(mm)->config().cow_reuse == CowReuse::mapcount;
      if (!exclusive && (by_mapcount ? !unshare && wp_can_reuse_by_mapcount(f, p, vma)
                                     : wp_can_reuse_anon_folio(f, vma))) {
        SetPageAnonExclusive(p);
        exclusive = true;
      }
      if (exclusive) {  // reuse: this mm is the only user
        if (!unshare) {
          set_pte(vmf->pte, maybe_mkwrite(pte_mkdirty(pte_mkyoung(vmf->orig_pte)), vma));
          mm_machine(mm)->vmstat().inc(PGREUSE);
        }
        return VM_FAULT_NONE;
      }
      get_page(p);
    } else if (p) {
      // A file page in a private mapping: COW. An unshare (a long-term R/O pin) copies
      // it too, mapped read-only, so the pin and later writes of this mm see one page;
      // returning without the copy left GUP asking for the unshare forever.
      get_page(p);
    }
    // p == nullptr: the zero page, replaced by a zeroed page of our own (also on unshare,
    // so that a read-only pin sees what later writes of this mm write).
  }
  if (any(vma->vm_flags, VM_SHARED)) return wp_page_shared(vmf, p);
  return wp_page_copy(vmf, p);
}

// ---- file and shmem backed memory -----------------------------------------------------

// ->fault(). On success vmf->page_ holds a reference and is locked.
vm_fault_t __do_fault(vm_fault* vmf) {
  vmf->pgoff = linear_page_index(vmf->vma, vmf->address);
  vmf->page_ = nullptr;
  vm_fault_t ret = vmf->vma->vm_ops->fault(vmf);
  // On VM_FAULT_RETRY mmap_lock is gone, and with it any right to look at the vma.
  if (any(ret, kFaultStop)) return ret;
  if (WARN_ON(!vmf->page_)) return VM_FAULT_SIGBUS;
  if (!any(ret, VM_FAULT_LOCKED)) lock_page(vmf->page_);
  return ret | VM_FAULT_LOCKED;
}

// Map @p at vmf->address if the pte is still empty. @new_anon: a fresh COW page.
// Returns 0 (mapped: the mapping owns the caller's reference) or VM_FAULT_NOPAGE.
vm_fault_t finish_fault(vm_fault* vmf, page* p, bool new_anon, bool write) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  pte_t entry = pte_mkyoung(mk_pte(p, vma->vm_page_prot));
  if (write) entry = maybe_mkwrite(pte_mkdirty(entry), vma);
  SpinGuard g(&mm->page_table_lock);
  if (!pte_none(ptep_get(vmf->pte))) return VM_FAULT_NOPAGE;
  if (new_anon) {
    folio* f = page_folio(p);
    folio_add_new_anon_rmap(f, vma, vmf->address);
    folio_add_lru(f);
  } else {
    page_add_file_rmap(p, vma, false);
  }
  add_mm_rss(mm, new_anon, 1);
  set_pte(vmf->pte, entry);
  return VM_FAULT_NONE;
}

vm_fault_t do_read_fault(vm_fault* vmf) {
  vm_fault_t ret = __do_fault(vmf);
  if (any(ret, kFaultStop)) return ret;
  page* p = vmf->page_;
  vm_fault_t fin = finish_fault(vmf, p, false, false);
  unlock_page(p);
  if (fin != VM_FAULT_NONE) put_page(p);
  return ret & ~VM_FAULT_LOCKED;
}

vm_fault_t do_cow_fault(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  Machine* m = mm_machine(vma->vm_mm);
  if (anon_vma_prepare(vma)) return VM_FAULT_OOM;
  page* cow = alloc_pages_on(m, gfp_t::GFP_HIGHUSER_MOVABLE, 0);
  if (!cow) return VM_FAULT_OOM;
  vm_fault_t ret = __do_fault(vmf);
  if (any(ret, kFaultStop)) {
    put_page(cow);
    return ret;
  }
  copy_user_highpage(cow, vmf->page_);
  unlock_page(vmf->page_);
  put_page(vmf->page_);
  if (finish_fault(vmf, cow, true, true) != VM_FAULT_NONE) put_page(cow);
  else m->vmstat().inc(COW_FAULTS);
  return ret & ~VM_FAULT_LOCKED;
}

vm_fault_t do_shared_fault(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  vm_fault_t ret = __do_fault(vmf);
  if (any(ret, kFaultStop)) return ret;
  page* p = vmf->page_;
  if (vma->vm_ops->page_mkwrite) {
    unlock_page(p);
    vm_fault_t tmp = do_page_mkwrite(vmf, p);
    if (any(tmp, VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) {
      put_page(p);
      return tmp;
    }
  }
  vm_fault_t fin = finish_fault(vmf, p, false, true);
  if (fin == VM_FAULT_NONE) folio_mark_dirty(page_folio(p));
  unlock_page(p);
  if (fin != VM_FAULT_NONE) put_page(p);
  return ret & ~VM_FAULT_LOCKED;
}

vm_fault_t do_fault(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  if (!vma->vm_ops->fault) return VM_FAULT_SIGBUS;
  if (!fault_write(vmf)) return do_read_fault(vmf);
  if (!any(vma->vm_flags, VM_SHARED)) return do_cow_fault(vmf);
  return do_shared_fault(vmf);
}

// ---- dispatch -------------------------------------------------------------------------

vm_fault_t handle_pte_fault(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  pmd_t pmd = pmdp_get(vmf->pmd);
  if (pmd_none(pmd)) {
    if (__pte_alloc(mm, vmf->pmd)) return VM_FAULT_OOM;
    pmd = pmdp_get(vmf->pmd);
  }
  if (pmd_leaf(pmd)) return VM_FAULT_NONE;  // a THP fault got there first: re-walk
  vmf->pte = pte_offset(mm_mem(mm), pmd, vmf->address);
  vmf->orig_pte = ptep_get(vmf->pte);
  if (pte_none(vmf->orig_pte)) return vma_is_anonymous(vma) ? do_anonymous_page(vmf) : do_fault(vmf);
  if (is_migration_entry(vmf->orig_pte)) {  // the page is moving: wait, then fault again
    migration_entry_wait(mm, vmf->pte, vmf->orig_pte);
    return VM_FAULT_NONE;
  }
  if (WARN_ON_ONCE(!pte_present(vmf->orig_pte))) return VM_FAULT_SIGBUS;  // no swap entries here
  if (fault_write(vmf) && userfaultfd_wp(vma) && pte_uffd_wp(vmf->orig_pte))
    return handle_userfault(vmf, VM_UFFD_WP);  // may drop mmap_lock
  if ((fault_write(vmf) || fault_unshare(vmf)) && !pte_write(vmf->orig_pte)) return do_wp_page(vmf);
  // The entry already allows the access: what the hardware would do is set A/D.
  SpinGuard g(&mm->page_table_lock);
  if (pte_same(ptep_get(vmf->pte), vmf->orig_pte)) {
    pte_t entry = pte_mkyoung(vmf->orig_pte);
    if (fault_write(vmf)) entry = pte_mkdirty(entry);
    if (!pte_same(entry, vmf->orig_pte)) set_pte(vmf->pte, entry);
  }
  return VM_FAULT_NONE;
}

vm_fault_t __handle_mm_fault(vm_area_struct* vma, unsigned long address, fault_flag flags) {
  vm_fault vmf;
  vmf.vma = vma;
  vmf.flags = flags;
  vmf.real_address = address;
  vmf.address = address & PAGE_MASK;
  vmf.pgoff = linear_page_index(vma, vmf.address);
  vmf.pmd = pmd_alloc_walk(vma->vm_mm, address);
  if (!vmf.pmd) return VM_FAULT_OOM;
  pmd_t pmd = pmdp_get(vmf.pmd);
  // A registered vma faults in 4 KiB pages (the model has no huge-PMD userfaultfd).
  if (pmd_none(pmd) && vma_thp_eligible(vma) && thp_vma_suitable(vma, address) && !userfaultfd_armed(vma)) {
    vm_fault_t ret = do_huge_pmd_anonymous_page(&vmf);
    if (!any(ret, VM_FAULT_FALLBACK)) return ret;
  } else if (pmd_leaf(pmd)) {
    vmf.orig_pmd = pmd;
    if ((fault_write(&vmf) || fault_unshare(&vmf)) && !pmd_write(pmd)) {
      vm_fault_t ret = do_huge_pmd_wp_page(&vmf);
      if (!any(ret, VM_FAULT_FALLBACK)) return ret;
    } else {
      huge_pmd_set_accessed(&vmf);
      return VM_FAULT_NONE;
    }
  }
  return handle_pte_fault(&vmf);
}

// ---- zap -------------------------------------------------------------------------------

void zap_pte_range(mmu_gather* tlb, vm_area_struct* vma, pmd_t pmd, unsigned long addr, unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  const PhysMem& mem = mm_mem(mm);
  SpinGuard g(&mm->page_table_lock);
  for (; addr < end; addr += PAGE_SIZE) {
    pgtable_slot* slot = pte_offset(mem, pmd, addr);
    if (pte_none(ptep_get(slot))) continue;
    pte_t pte = ptep_get_and_clear(slot);
    if (is_migration_entry(pte)) {  // rmap and reference already dropped by the migration
      add_mm_rss(mm, PageAnon(mm_pfn_page(mm, migration_entry_pfn(pte))), -1);
      continue;
    }
    page* p = vm_normal_page(vma, addr, pte);
    if (!p) continue;  // the zero page
    folio* f = page_folio(p);
    if (pte_dirty(pte)) folio_mark_dirty(f);
    page_remove_rmap(p, vma, false);
    add_mm_rss(mm, PageAnon(f), -1);
    tlb_remove_page(tlb, p);
  }
}

}  // namespace

vm_fault_t handle_mm_fault(vm_area_struct* vma, unsigned long address, fault_flag flags) {
  mmap_assert_locked(vma->vm_mm);  // REQUIRES (memory.h), checked in every build
  mm_struct* mm = vma->vm_mm;
  mmap_assert_locked(mm);
  if (WARN_ON_ONCE(address < vma->vm_start || address >= vma->vm_end)) return VM_FAULT_SIGSEGV;
  const bool write = any(flags, FAULT_FLAG_WRITE), unshare = any(flags, FAULT_FLAG_UNSHARE);
  if (unshare && (WARN_ON_ONCE(write) || WARN_ON_ONCE(!is_cow_mapping(vma->vm_flags)))) return VM_FAULT_SIGSEGV;
  // Writes to a read-only vma are FOLL_FORCE's, and only COW mappings allow them.
  if (write && !any(vma->vm_flags, VM_WRITE) && !is_cow_mapping(vma->vm_flags)) return VM_FAULT_SIGSEGV;
  Machine* m = mm_machine(mm);
  m->vmstat().inc(PGFAULT);
  vm_fault_t ret = is_vm_hugetlb_page(vma) ? hugetlb_fault(vma, address, flags) : __handle_mm_fault(vma, address, flags);
  trace_point(m, "fault", "handle_mm_fault", "address={:#x}{}{} ret={:#x}", address, write ? " write" : "",
              unshare ? " unshare" : "", static_cast<unsigned>(ret));
  if (!any(ret, VM_FAULT_RETRY) && (any(ret, VM_FAULT_MAJOR) || any(flags, FAULT_FLAG_TRIED)))
    m->vmstat().inc(PGMAJFAULT);
  return ret;
}

page* vm_normal_page(vm_area_struct* vma, unsigned long addr, pte_t pte) {
  if (pte_special(pte)) return nullptr;
  return mm_pfn_page(vma->vm_mm, pte_pfn(pte));
}

void copy_user_highpage(page* to, const page* from) { copy_frame(page_address(to), page_address(from)); }

void unmap_page_range(mmu_gather* tlb, vm_area_struct* vma, unsigned long addr, unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  const PhysMem& mem = mm_mem(mm);
  BUG_ON(addr < vma->vm_start || end > vma->vm_end);
  if (is_vm_hugetlb_page(vma)) return unmap_hugepage_range(tlb, vma, addr, end);
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
      if (addr == (addr & PMD_MASK) && next - addr == PMD_SIZE && zap_huge_pmd(tlb, vma, pmdp, addr)) continue;
      __split_huge_pmd(vma, pmdp, addr);
      pmd = pmdp_get(pmdp);
    }
    if (!pmd_present(pmd) || pmd_leaf(pmd)) continue;
    zap_pte_range(tlb, vma, pmd, addr, next);
  }
}

void zap_page_range_single(vm_area_struct* vma, unsigned long address, unsigned long size) {
  mmap_assert_locked(vma->vm_mm);  // REQUIRES (memory.h)
  mmap_assert_locked(vma->vm_mm);
  unsigned long start = address > vma->vm_start ? address : vma->vm_start;
  unsigned long end = address + size < vma->vm_end ? address + size : vma->vm_end;
  if (start >= end) return;
  MmuNotifierScope notify(MMU_NOTIFY_CLEAR, vma->vm_mm, start, end);
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, vma->vm_mm);
  unmap_page_range(&tlb, vma, start, end);
  tlb_finish_mmu(&tlb);
}

void unmap_vmas(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end) {
  MmuNotifierScope notify(MMU_NOTIFY_UNMAP, mm, start, end);
  for (auto it = mm->mm_mt.upper_bound(start); it != mm->mm_mt.end() && it->second->vm_start < end; ++it) {
    vm_area_struct* vma = it->second;
    unmap_page_range(tlb, vma, start > vma->vm_start ? start : vma->vm_start, end < vma->vm_end ? end : vma->vm_end);
  }
}

}  // namespace guplab
