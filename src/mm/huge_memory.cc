// huge_memory.cc - THP faults, PMD splitting, zap/fork/mprotect of huge PMDs.
#include "mm/huge_memory.h"

#include "base/bug.h"
#include "machine/machine.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/rmap.h"
#include "mm/swap.h"

namespace guplab {

bool vma_thp_eligible(const vm_area_struct* vma) {
  const MachineConfig& cfg = mm_machine(vma->vm_mm)->config();
  if (!cfg.thp) return false;
  if (!vma_is_anonymous(vma) || any(vma->vm_flags, VM_SHARED | VM_NOHUGEPAGE)) return false;
  return any(vma->vm_flags, VM_HUGEPAGE) || cfg.thp_always;
}

bool thp_vma_suitable(const vm_area_struct* vma, unsigned long address) {
  const unsigned long haddr = address & PMD_MASK;
  // The folio's index must be 2 MiB-aligned too, so rmap finds it at haddr.
  if (((vma->vm_start >> PAGE_SHIFT) - vma->vm_pgoff) & (HPAGE_PMD_NR - 1)) return false;
  return haddr >= vma->vm_start && haddr + PMD_SIZE <= vma->vm_end;
}

vm_fault_t do_huge_pmd_anonymous_page(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  Machine* m = mm_machine(mm);
  const unsigned long haddr = vmf->address & PMD_MASK;
  if (!thp_vma_suitable(vma, haddr)) return VM_FAULT_FALLBACK;
  if (anon_vma_prepare(vma)) return VM_FAULT_OOM;
  page* head = alloc_pages_on(m, gfp_t::GFP_TRANSHUGE | gfp_t::__GFP_ZERO, HPAGE_PMD_ORDER);
  if (!head) {
    m->vmstat().inc(THP_FAULT_FALLBACK);
    return VM_FAULT_FALLBACK;
  }
  folio* f = page_folio(head);
  page* table = pgtable_alloc(mm);
  if (!table) {
    folio_put(f);
    m->vmstat().inc(THP_FAULT_FALLBACK);
    return VM_FAULT_FALLBACK;
  }
  pmd_t entry = maybe_pmd_mkwrite(pmd_mkdirty(pmd_mkyoung(mk_huge_pmd(head, vma->vm_page_prot))), vma);
  bool mapped = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (pmd_none(pmdp_get(vmf->pmd))) {
      folio_add_new_anon_rmap(f, vma, haddr);
      folio_add_lru(f);
      pgtable_trans_huge_deposit(mm, vmf->pmd, table);
      add_mm_rss(mm, true, HPAGE_PMD_NR);
      set_pmd(vmf->pmd, entry);
      mapped = true;
    }
  }
  if (!mapped) {  // raced with another fault of this range: let the caller re-walk
    pgtable_free_now(mm, table);
    folio_put(f);
    return VM_FAULT_NONE;
  }
  m->vmstat().inc(THP_FAULT_ALLOC);
  return VM_FAULT_NONE;
}

vm_fault_t do_huge_pmd_wp_page(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  const unsigned long haddr = vmf->address & PMD_MASK;
  const pmd_t orig = vmf->orig_pmd;
  SpinGuard g(&mm->page_table_lock);
  if (!pmd_same(pmdp_get(vmf->pmd), orig)) return VM_FAULT_NONE;
  folio* f = page_folio(mm_pfn_page(mm, pmd_pfn(orig)));
  if (PageAnon(f)) {
    bool exclusive = PageAnonExclusive(f);
    if (!exclusive && folio_trylock(f)) {
      if (folio_ref_count_acquire(f) == 1) {  // our PMD is its only user
        folio_move_anon_rmap(f, vma);
        SetPageAnonExclusive(f);
        exclusive = true;
      }
      folio_unlock(f);
    }
    if (exclusive) {
      if (!any(vmf->flags, FAULT_FLAG_UNSHARE)) {
        set_pmd(vmf->pmd, maybe_pmd_mkwrite(pmd_mkdirty(pmd_mkyoung(orig)), vma));
        mm_machine(mm)->vmstat().inc(PGREUSE);
      }
      return VM_FAULT_NONE;
    }
  }
  // Shared with another mm (after fork): map the folio by ptes, COW one 4 KiB page.
  __split_huge_pmd_locked(vma, vmf->pmd, haddr, orig);
  return VM_FAULT_FALLBACK;
}

void huge_pmd_set_accessed(vm_fault* vmf) {
  mm_struct* mm = vmf->vma->vm_mm;
  SpinGuard g(&mm->page_table_lock);
  if (!pmd_same(pmdp_get(vmf->pmd), vmf->orig_pmd)) return;
  pmd_t entry = pmd_mkyoung(vmf->orig_pmd);
  if (any(vmf->flags, FAULT_FLAG_WRITE)) entry = pmd_mkdirty(entry);
  if (!pmd_same(entry, vmf->orig_pmd)) set_pmd(vmf->pmd, entry);
}

void __split_huge_pmd_locked(vm_area_struct* vma, pgtable_slot* pmdp, unsigned long haddr, pmd_t orig) {
  mm_struct* mm = vma->vm_mm;
  assert_spin_locked(&mm->page_table_lock);
  BUG_ON(!pmd_leaf(orig) || (haddr & ~PMD_MASK));
  page* head = mm_pfn_page(mm, pmd_pfn(orig));
  folio* f = page_folio(head);
  page* table = pgtable_trans_huge_withdraw(mm, pmdp);
  const bool anon = PageAnon(f);
  const bool anon_exclusive = anon && PageAnonExclusive(f);
  const pteval_t bits = orig.val & (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY);
  pgtable_slot* slots = table_slots(mm_mem(mm), page_to_pfn(table));
  const unsigned long pfn = pmd_pfn(orig);
  // The PMD's one reference becomes one per pte.
  page_ref_add(f, HPAGE_PMD_NR - 1);
  for (unsigned i = 0; i < HPAGE_PMD_NR; i++) {
    page* sub = head + i;
    if (anon) page_add_anon_rmap(sub, vma, haddr + i * PAGE_SIZE, anon_exclusive ? RMAP_EXCLUSIVE : RMAP_NONE);
    else page_add_file_rmap(sub, vma, false);
    slots[i].store(((static_cast<pteval_t>(pfn + i)) << PAGE_SHIFT) | bits, std::memory_order_relaxed);
  }
  page_remove_rmap(head, vma, true);
  // One atomic switch from the huge entry to the table: a lockless walker sees either.
  set_pmd(pmdp, pmd_t{pgtable_entry(table)});
  mm_machine(mm)->vmstat().inc(THP_SPLIT_PMD);
}

void __split_huge_pmd(vm_area_struct* vma, pgtable_slot* pmdp, unsigned long address) {
  mm_struct* mm = vma->vm_mm;
  SpinGuard g(&mm->page_table_lock);
  pmd_t orig = pmdp_get(pmdp);
  if (pmd_leaf(orig)) __split_huge_pmd_locked(vma, pmdp, address & PMD_MASK, orig);
}

void split_huge_pmd_address(vm_area_struct* vma, unsigned long address) {
  pgtable_slot* pmdp = pmd_walk(vma->vm_mm, address);
  if (pmdp && pmd_leaf(pmdp_get(pmdp))) __split_huge_pmd(vma, pmdp, address);
}

void vma_adjust_trans_huge(vm_area_struct* vma, unsigned long start, unsigned long end) {
  for (unsigned long a : {start, end}) {
    if (!(a & ~PMD_MASK)) continue;
    const unsigned long haddr = a & PMD_MASK;
    if (haddr >= vma->vm_start && haddr + PMD_SIZE <= vma->vm_end) split_huge_pmd_address(vma, a);
  }
}

bool zap_huge_pmd(mmu_gather* tlb, vm_area_struct* vma, pgtable_slot* pmdp, unsigned long addr) {
  mm_struct* mm = vma->vm_mm;
  page* table;
  {
    SpinGuard g(&mm->page_table_lock);
    pmd_t orig = pmdp_get(pmdp);
    if (!pmd_leaf(orig)) return false;
    orig = pmdp_get_and_clear(pmdp);
    table = pgtable_trans_huge_withdraw(mm, pmdp);
    page* head = mm_pfn_page(mm, pmd_pfn(orig));
    folio* f = page_folio(head);
    if (pmd_dirty(orig)) folio_mark_dirty(f);
    page_remove_rmap(head, vma, true);
    add_mm_rss(mm, PageAnon(f), -static_cast<long>(HPAGE_PMD_NR));
    tlb_remove_page(tlb, head);
  }
  pgtable_free_now(mm, table);  // withdrawn: no walker ever saw it
  return true;
}

int copy_huge_pmd(vm_area_struct* dst_vma, vm_area_struct* src_vma, pgtable_slot* dst_pmd, pgtable_slot* src_pmd,
                  unsigned long addr) {
  mm_struct* dst_mm = dst_vma->vm_mm;
  mm_struct* src_mm = src_vma->vm_mm;
  page* table = pgtable_alloc(dst_mm);
  if (!table) return -ENOMEM;
  int ret = 0;
  {
    SpinGuard gd(&dst_mm->page_table_lock);
    SpinGuard gs(&src_mm->page_table_lock);
    pmd_t orig = pmdp_get(src_pmd);
    if (!pmd_leaf(orig)) {
      ret = -EAGAIN;  // split meanwhile: copy ptes
    } else {
      BUG_ON(!pmd_none(pmdp_get(dst_pmd)));
      page* head = mm_pfn_page(src_mm, pmd_pfn(orig));
      folio* f = page_folio(head);
      BUG_ON_MSG(!PageAnon(f), "huge PMDs map anonymous folios only");
      folio_get(f);
      if (page_try_dup_anon_rmap(head, true, src_vma)) {
        // Maybe pinned: the parent keeps its pages; the child gets copies, page by page.
        page_ref_dec(f);
        __split_huge_pmd_locked(src_vma, src_pmd, addr & PMD_MASK, orig);
        ret = -EAGAIN;
      } else {
        add_mm_rss(dst_mm, true, HPAGE_PMD_NR);
        pgtable_trans_huge_deposit(dst_mm, dst_pmd, table);
        table = nullptr;
        if (pmd_write(orig)) {
          pmdp_set_wrprotect(src_pmd);
          orig = pmd_wrprotect(orig);
        }
        set_pmd(dst_pmd, pmd_t{orig.val & ~_PAGE_ACCESSED});
      }
    }
  }
  if (table) pgtable_free_now(dst_mm, table);
  return ret;
}

bool change_huge_pmd(vm_area_struct* vma, pgtable_slot* pmdp, unsigned long addr, pgprot_t newprot) {
  mm_struct* mm = vma->vm_mm;
  SpinGuard g(&mm->page_table_lock);
  pmd_t orig = pmdp_get(pmdp);
  if (!pmd_leaf(orig)) return false;
  pteval_t v = (orig.val & kPteKeepMask) | newprot.val | _PAGE_PSE;
  if (pmd_write(orig) && any(vma->vm_flags, VM_WRITE)) v |= _PAGE_RW;
  if (v != orig.val) set_pmd(pmdp, pmd_t{v});
  return true;
}

}  // namespace guplab
