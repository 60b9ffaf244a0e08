// fork.cc - mm_struct lifetime, dup_mm() and copy_page_range().
#include "mm/fork.h"

#include <vector>

#include "base/bug.h"
#include "base/errno.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/huge_memory.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/memory.h"
#include "mm/mmap.h"
#include "mm/mmu_notifier.h"
#include "mm/page_alloc.h"
#include "mm/pgalloc.h"
#include "mm/rmap.h"
#include "mm/swap.h"
#include "mm/swapops.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

// mm->write_protect_seq as a seqcount: odd while fork write-protects the parent.
void write_protect_seq_bump(mm_struct* mm) {
  sched_point(SchedPoint::kAtomicWrite, &mm->write_protect_seq);
  mm->write_protect_seq.fetch_add(1, std::memory_order_seq_cst);
}

inline unsigned long pmd_addr_end(unsigned long addr, unsigned long end) {
  unsigned long b = (addr + PMD_SIZE) & PMD_MASK;
  return (b - 1 < end - 1) ? b : end;
}

// The child gets its own copy of the maybe-pinned anon page @src right away.
int copy_present_page(vm_area_struct* dst_vma, pgtable_slot* dst_pte, const pgtable_slot* src_pte, unsigned long addr,
                      page* src, page** prealloc) {
  page* np = *prealloc;
  if (!np) return -EAGAIN;
  *prealloc = nullptr;
  copy_user_highpage(np, src);
  folio* nf = page_folio(np);
  folio_add_new_anon_rmap(nf, dst_vma, addr);
  folio_add_lru(nf);
  add_mm_rss(dst_vma->vm_mm, true, 1);
  pte_t pte = maybe_mkwrite(pte_mkdirty(mk_pte(np, dst_vma->vm_page_prot)), dst_vma);
  // A write-protected page stays write-protected in the child's copy when the child's vma
  // keeps the context.
  if (userfaultfd_wp(dst_vma) && pte_uffd_wp(ptep_get(src_pte))) pte = pte_mkuffd_wp(pte);
  set_pte(dst_pte, pte);
  return 0;
}

// Returns 0, or -EAGAIN when a maybe-pinned page needs a *prealloc'ed page first.
int copy_present_pte(vm_area_struct* dst_vma, vm_area_struct* src_vma, pgtable_slot* dst_pte, pgtable_slot* src_pte,
                     unsigned long addr, page** prealloc) {
  mm_struct* dst_mm = dst_vma->vm_mm;
  pte_t pte = ptep_get(src_pte);
  page* p = vm_normal_page(src_vma, addr, pte);
  if (p && PageAnon(p)) {
    folio* f = page_folio(p);
    folio_get(f);
    if (page_try_dup_anon_rmap(p, false, src_vma)) {
      page_ref_dec(f);  // never the last: the parent's mapping holds one
      return copy_present_page(dst_vma, dst_pte, src_pte, addr, p, prealloc);
    }
    add_mm_rss(dst_mm, true, 1);
  } else if (p) {
    folio_get(page_folio(p));
    page_dup_file_rmap(p, dst_vma, false);
    add_mm_rss(dst_mm, false, 1);
  }
  if (is_cow_mapping(src_vma->vm_flags) && pte_write(pte)) {
    ptep_set_wrprotect(src_pte);
    pte = pte_wrprotect(pte);
  }
  if (any(src_vma->vm_flags, VM_SHARED)) pte = pte_mkclean(pte);
  // The protection is the registered context's: a child vma without one (the parent's
  // context did not negotiate UFFD_FEATURE_EVENT_FORK) gets no uffd-wp bit.
  if (!userfaultfd_wp(dst_vma)) pte = pte_clear_uffd_wp(pte);
  set_pte(dst_pte, pte_mkold(pte));
  return 0;
}

int copy_pte_range(vm_area_struct* dst_vma, vm_area_struct* src_vma, pgtable_slot* dst_pmd, pmd_t src_pmd,
                   unsigned long addr, unsigned long end) {
  mm_struct* dst_mm = dst_vma->vm_mm;
  mm_struct* src_mm = src_vma->vm_mm;
  const PhysMem& mem = mm_mem(src_mm);
  page* prealloc = nullptr;
  while (addr < end) {
    bool need_page = false;
    {
      SpinGuard gd(&dst_mm->page_table_lock);
      SpinGuard gs(&src_mm->page_table_lock);
      pmd_t dpmd = pmdp_get(dst_pmd);
      BUG_ON(!pmd_present(dpmd) || pmd_leaf(dpmd));
      for (; addr < end; addr += PAGE_SIZE) {
        pgtable_slot* s = pte_offset(mem, src_pmd, addr);
        pte_t pte = ptep_get(s);
        if (pte_none(pte)) continue;
        if (is_migration_entry(pte)) {  // copied as it is; read-only on both sides of a COW mapping
          if (is_cow_mapping(src_vma->vm_flags)) {
            pte = make_readable_migration_entry(pte);
            set_pte(s, pte);
          }
          set_pte(pte_offset(mem, dpmd, addr), pte);
          add_mm_rss(dst_vma->vm_mm, PageAnon(mm_pfn_page(src_mm, migration_entry_pfn(pte))), 1);
          continue;
        }
        if (WARN_ON_ONCE(!pte_present(pte))) continue;
        if (copy_present_pte(dst_vma, src_vma, pte_offset(mem, dpmd, addr), s, addr, &prealloc) == -EAGAIN) {
          need_page = true;
          break;
        }
      }
    }
    if (need_page) {  // allocate outside the locks, then go on from the same address
      prealloc = alloc_pages_on(mm_machine(dst_mm), gfp_t::GFP_HIGHUSER_MOVABLE, 0);
      if (!prealloc) return -ENOMEM;
    }
  }
  if (prealloc) put_page(prealloc);
  return 0;
}

}  // namespace

mm_struct* mm_alloc(Machine* m) {
  auto* mm = new mm_struct;
  mm->machine = m;
  init_rwsem(&mm->mmap_lock, "mmap_lock");
  spin_lock_init(&mm->page_table_lock, "page_table_lock");
  atomic_set(&mm->mm_users, 1);
  atomic_set(&mm->mm_count, 1);
  if (pgd_alloc(mm)) {
    delete mm;
    return nullptr;
  }
  return mm;
}

void mm_abandon(mm_struct* mm) NO_THREAD_SAFETY_ANALYSIS {
  for (auto& [end, vma] : mm->mm_mt) {
    unlink_anon_vmas_abandoned(vma);
    if (vma->vm_file) {
      list_del_init(&vma->shared);
      file_abandon(vma->vm_file);
    }
    delete vma;
  }
  mm->mm_mt.clear();
  delete mm;
}

void mmget(mm_struct* mm) {
  WARN_ON(atomic_read(&mm->mm_users) <= 0);
  atomic_inc(&mm->mm_users);
}

bool mmget_not_zero(mm_struct* mm) { return atomic_inc_not_zero(&mm->mm_users); }

void mmput(mm_struct* mm) {
  if (!atomic_dec_and_test(&mm->mm_users)) return;
  exit_mmap(mm);
  mmdrop(mm);
}

void mmgrab(mm_struct* mm) { atomic_inc(&mm->mm_count); }

void mmdrop(mm_struct* mm) {
  if (!atomic_dec_and_test(&mm->mm_count)) return;
  WARN_ON(atomic_read(&mm->mm_users) != 0);
  mmu_notifier_subscriptions_destroy(mm);
  pgd_free(mm);
  WARN_ON(atomic_read(&mm->pgtables_bytes) != 0);
  delete mm;
}

int copy_page_range(vm_area_struct* dst_vma, vm_area_struct* src_vma) {
  mmap_assert_write_locked(src_vma->vm_mm);  // REQUIRES (fork.h): both mms
  mmap_assert_write_locked(dst_vma->vm_mm);
  mm_struct* src_mm = src_vma->vm_mm;
  mm_struct* dst_mm = dst_vma->vm_mm;
  const bool cow = is_cow_mapping(src_vma->vm_flags);
  if (is_vm_hugetlb_page(src_vma)) {  // shared and private alike (mm/hugetlb.h)
    if (cow) write_protect_seq_bump(src_mm);
    int r = copy_hugetlb_page_range(dst_vma, src_vma);
    if (cow) write_protect_seq_bump(src_mm);
    return r;
  }
  // Nothing to copy unless there are anon pages: the rest faults in from the backing.
  if (!vma_anon_vma(src_vma) && !any(src_vma->vm_flags, VM_PFNMAP | VM_MIXEDMAP)) return 0;
  if (cow) write_protect_seq_bump(src_mm);
  int ret = 0;
  const unsigned long end = src_vma->vm_end;
  for (unsigned long addr = src_vma->vm_start, next; addr < end; addr = next) {
    next = pmd_addr_end(addr, end);
    pgtable_slot* src_pmd = pmd_walk(src_mm, addr);
    if (!src_pmd) continue;
    pmd_t spmd = pmdp_get(src_pmd);
    if (pmd_none(spmd)) continue;
    pgtable_slot* dst_pmd = pmd_alloc_walk(dst_mm, addr);
    if (!dst_pmd) {
      ret = -ENOMEM;
      break;
    }
    if (pmd_leaf(spmd)) {
      int r = copy_huge_pmd(dst_vma, src_vma, dst_pmd, src_pmd, addr);
      if (r == 0) continue;
      if (r != -EAGAIN) {
        ret = r;
        break;
      }
      spmd = pmdp_get(src_pmd);  // split: copy its ptes
    }
    if (__pte_alloc(dst_mm, dst_pmd)) {
      ret = -ENOMEM;
      break;
    }
    ret = copy_pte_range(dst_vma, src_vma, dst_pmd, spmd, addr, next);
    if (ret) break;
  }
  if (cow) write_protect_seq_bump(src_mm);
  return ret;
}

mm_struct* dup_mm(mm_struct* oldmm) {
  mm_struct* mm = mm_alloc(oldmm->machine);
  if (!mm) return nullptr;
  int err = 0;
  std::vector<userfaultfd_fork_pair> uf;  // UFFD_FEATURE_EVENT_FORK contexts, sent after the copy
  mmap_write_lock(oldmm);
  mmap_write_lock(mm);  // nobody else can see the new mm: no ordering against oldmm's
  mm->mmap_base = oldmm->mmap_base;
  for (auto& [end, mpnt] : oldmm->mm_mt) {
    if (any(mpnt->vm_flags, VM_DONTCOPY)) continue;
    vm_area_struct* tmp = vm_area_dup(mpnt);
    tmp->vm_mm = mm;
    tmp->vm_flags &= ~VM_LOCKED;
    dup_userfaultfd(tmp, &uf);
    const bool wipe = any(mpnt->vm_flags, VM_WIPEONFORK);
    if (wipe) tmp->anon_vma_ = nullptr;
    else err = anon_vma_fork(tmp, mpnt);
    if (err) {
      vm_area_free(tmp);
      break;
    }
    if (tmp->vm_file) get_file(tmp->vm_file);
    if (tmp->vm_ops && tmp->vm_ops->open) tmp->vm_ops->open(tmp);
    insert_vm_struct(mm, tmp);
    if (tmp->vm_file) vma_link_file(tmp);
    if (!wipe) err = copy_page_range(tmp, mpnt);
    if (err) break;
  }
  mmap_write_unlock(mm);
  mmap_write_unlock(oldmm);
  if (err) {
    mmput(mm);  // tears down whatever was copied
    dup_userfaultfd_fail(&uf);
    return nullptr;
  }
  dup_userfaultfd_complete(&uf);  // waits until the parent's handler reads each fork event
  return mm;
}

}  // namespace guplab
