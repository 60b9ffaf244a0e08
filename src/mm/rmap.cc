// rmap.cc - anon_vma trees, mapcounts, rmap_walk() and page_vma_mapped_walk().
#include "mm/rmap.h"

#include <fmt/format.h>

#include "base/bug.h"
#include "fs/fs.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/fake_vma.h"
#include "mm/gup.h"
#include "mm/internal.h"
#include "mm/mmu_notifier.h"
#include "mm/page_ref.h"
#include "mm/pagemap.h"
#include "mm/pgalloc.h"
#include "mm/pin.h"
#include "mm/swap.h"

namespace guplab {

namespace {

anon_vma* anon_vma_alloc() {
  auto* av = new anon_vma;
  av->root = av;
  init_rwsem(&av->rwsem, "anon_vma->rwsem");
  atomic_set(&av->refcount, 1);
  INIT_LIST_HEAD(&av->head);  // not yet visible: no lock needed
  return av;
}

void anon_vma_free_rcu(rcu_head* head) { delete container_of(head, anon_vma, rcu); }

// Link @vma and @av. REQUIRES: @av's root locked for write (or @av not yet visible).
void anon_vma_chain_link(vm_area_struct* vma, anon_vma* av, anon_vma_chain* avc) REQUIRES(av->root->rwsem) {
  avc->vma = vma;
  avc->av = av;
  list_add_tail(&avc->same_vma, &vma->anon_vma_chain);
  list_add_tail(&avc->same_anon_vma, &av->head);
}

inline address_space* anon_mapping_of(anon_vma* av) {
  return reinterpret_cast<address_space*>(reinterpret_cast<uintptr_t>(av) | PAGE_MAPPING_ANON);
}

// Mapcount transitions. Each returns how many pages became (un)mapped for the first
// (last) time, the NR_ANON_MAPPED delta.
int add_pte_mapping(page* p) {
  folio* f = page_folio(p);
  if (!atomic_inc_and_test(&p->_mapcount)) return 0;
  if (!folio_test_large(f)) return 1;
  return folio_int_add_return(&f[1]._nr_pages_mapped, 1) < COMPOUND_MAPPED ? 1 : 0;
}

int add_pmd_mapping(folio* f) {
  if (folio_int_add_return(&f[1]._entire_mapcount, 1) != 0) return 0;
  int nr = folio_int_add_return(&f[1]._nr_pages_mapped, COMPOUND_MAPPED);
  if (nr >= 2 * COMPOUND_MAPPED) return 0;
  int n = static_cast<int>(folio_nr_pages(f)) - (nr & FOLIO_PAGES_MAPPED);
  return n > 0 ? n : 0;
}

int remove_pte_mapping(page* p) {
  folio* f = page_folio(p);
  int mc = atomic_dec_return(&p->_mapcount);
  BUG_ON_MSG(mc < -1, "page_remove_rmap: mapcount underflow");
  if (mc != -1) return 0;
  if (!folio_test_large(f)) return 1;
  return folio_int_add_return(&f[1]._nr_pages_mapped, -1) < COMPOUND_MAPPED ? 1 : 0;
}

int remove_pmd_mapping(folio* f) {
  int mc = folio_int_add_return(&f[1]._entire_mapcount, -1);
  BUG_ON_MSG(mc < -1, "page_remove_rmap: entire mapcount underflow");
  if (mc != -1) return 0;
  int nr = folio_int_add_return(&f[1]._nr_pages_mapped, -COMPOUND_MAPPED);
  if (nr >= COMPOUND_MAPPED) return 0;
  int n = static_cast<int>(folio_nr_pages(f)) - (nr & FOLIO_PAGES_MAPPED);
  return n > 0 ? n : 0;
}

inline void mod_anon_mapped(const page* p, int nr) {
  if (nr) page_machine(p)->vmstat().mod(NR_ANON_MAPPED, nr);
}

}  // namespace

void put_anon_vma(anon_vma* av) {
  if (!atomic_dec_and_test(&av->refcount)) return;
  anon_vma* root = av->root;
  call_rcu(&av->rcu, anon_vma_free_rcu);
  if (root != av) put_anon_vma(root);
}

namespace {
void put_anon_vma_abandoned(anon_vma* av) {
  if (!atomic_dec_and_test(&av->refcount)) return;
  anon_vma* root = av->root;
  delete av;
  if (root != av) put_anon_vma_abandoned(root);
}
}  // namespace

void unlink_anon_vmas_abandoned(vm_area_struct* vma) NO_THREAD_SAFETY_ANALYSIS {
  list_head* e = vma->anon_vma_chain.next;
  while (e != &vma->anon_vma_chain) {
    list_head* next = e->next;
    anon_vma_chain* avc = list_entry(e, anon_vma_chain, same_vma);
    anon_vma* av = avc->av;
    list_del(&avc->same_anon_vma);
    const bool empty = list_empty(&av->head);
    list_del(&avc->same_vma);
    delete avc;
    if (empty) put_anon_vma_abandoned(av);
    e = next;
  }
  vma->anon_vma_ = nullptr;
}

int anon_vma_prepare(vm_area_struct* vma) {
  mmap_assert_locked(vma->vm_mm);  // REQUIRES (rmap.h)
  if (likely(vma_anon_vma(vma))) return 0;
  mm_struct* mm = vma->vm_mm;
  mmap_assert_locked(mm);
  anon_vma* av = anon_vma_alloc();
  auto* avc = new anon_vma_chain;
  bool used = false;
  anon_vma_lock_write(av);
  {
    SpinGuard g(&mm->page_table_lock);
    if (!vma->anon_vma_) {
      anon_vma_chain_link(vma, av, avc);
      __atomic_store_n(&vma->anon_vma_, av, __ATOMIC_RELEASE);
      used = true;
    }
  }
  anon_vma_unlock_write(av);
  if (!used) {  // another fault of this vma won the race; ours was never visible
    delete avc;
    delete av;
  }
  return 0;
}

int anon_vma_clone(vm_area_struct* dst, vm_area_struct* src) {
  for (list_head* e = src->anon_vma_chain.next; e != &src->anon_vma_chain; e = e->next) {
    anon_vma_chain* pavc = list_entry(e, anon_vma_chain, same_vma);
    anon_vma* av = pavc->av;
    auto* avc = new anon_vma_chain;
    anon_vma_lock_write(av);
    anon_vma_chain_link(dst, av, avc);
    anon_vma_unlock_write(av);
  }
  return 0;
}

int anon_vma_fork(vm_area_struct* vma, vm_area_struct* pvma) {
  anon_vma* pav = vma_anon_vma(pvma);
  vma->anon_vma_ = nullptr;
  if (!pav) return 0;
  if (int err = anon_vma_clone(vma, pvma)) return err;
  anon_vma* av = anon_vma_alloc();
  av->root = pav->root;
  av->parent = pav;
  atomic_inc(&av->root->refcount);
  auto* avc = new anon_vma_chain;
  anon_vma_lock_write(av);
  anon_vma_chain_link(vma, av, avc);
  anon_vma_unlock_write(av);
  __atomic_store_n(&vma->anon_vma_, av, __ATOMIC_RELEASE);
  return 0;
}

void unlink_anon_vmas(vm_area_struct* vma) {
  list_head* e = vma->anon_vma_chain.next;
  while (e != &vma->anon_vma_chain) {
    list_head* next = e->next;
    anon_vma_chain* avc = list_entry(e, anon_vma_chain, same_vma);
    anon_vma* av = avc->av;
    bool empty;
    anon_vma_lock_write(av);
    list_del(&avc->same_anon_vma);
    empty = list_empty(&av->head);
    anon_vma_unlock_write(av);
    list_del(&avc->same_vma);
    delete avc;
    if (empty) put_anon_vma(av);  // the reference its chains held
    e = next;
  }
  __atomic_store_n(&vma->anon_vma_, static_cast<anon_vma*>(nullptr), __ATOMIC_RELEASE);
}

void folio_add_new_anon_rmap(folio* f, vm_area_struct* vma, unsigned long address) {
  anon_vma* av = vma_anon_vma(vma);
  BUG_ON(!av);
  Machine* m = page_machine(f);
  __SetPageSwapBacked(f);
  f->index = linear_page_index(vma, address);
  int nr;
  if (!folio_test_large(f)) {
    atomic_set(&f->_mapcount, 0);
    nr = 1;
  } else {
    __atomic_store_n(&f[1]._entire_mapcount, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&f[1]._nr_pages_mapped, COMPOUND_MAPPED, __ATOMIC_RELAXED);
    nr = static_cast<int>(folio_nr_pages(f));
    m->vmstat().mod(NR_ANON_THPS, 1);  // undone by __folio_put() of a large swap-backed folio
  }
  __SetPageAnonExclusive(f);
  folio_mapping_write(f, anon_mapping_of(av));
  m->vmstat().mod(NR_ANON_MAPPED, nr);
}

void page_add_anon_rmap(page* p, vm_area_struct* vma, unsigned long address, rmap_t flags) {
  folio* f = page_folio(p);
  BUG_ON(!PageAnon(f));
  int nr = any(flags, RMAP_COMPOUND) ? add_pmd_mapping(f) : add_pte_mapping(p);
  if (any(flags, RMAP_EXCLUSIVE)) SetPageAnonExclusive(any(flags, RMAP_COMPOUND) ? f : p);
  mod_anon_mapped(f, nr);
}

void page_add_file_rmap(page* p, vm_area_struct* vma, bool compound) {
  if (compound) add_pmd_mapping(page_folio(p));
  else add_pte_mapping(p);
}

int page_try_dup_anon_rmap(page* p, bool compound, vm_area_struct* src_vma) {
  folio* f = page_folio(p);
  page* ex = compound ? static_cast<page*>(f) : p;
  if (PageAnonExclusive(ex)) {
    if (is_cow_mapping(src_vma->vm_flags) && src_vma->vm_mm->has_pinned.load(std::memory_order_acquire) &&
        page_maybe_dma_pinned(p))
      return -EBUSY;
    ClearPageAnonExclusive(ex);
  }
  int nr = compound ? add_pmd_mapping(f) : add_pte_mapping(p);
  mod_anon_mapped(f, nr);
  return 0;
}

void page_remove_rmap(page* p, vm_area_struct* vma, bool compound) {
  folio* f = page_folio(p);
  int nr = compound ? remove_pmd_mapping(f) : remove_pte_mapping(p);
  if (PageAnon(f)) mod_anon_mapped(f, -nr);
}

void folio_move_anon_rmap(folio* f, vm_area_struct* vma) {
  BUG_ON(!PageLocked(f));
  anon_vma* av = vma_anon_vma(vma);
  BUG_ON(!av);
  folio_mapping_write(f, anon_mapping_of(av));
}

void page_add_fake_rmap(page* p, int nr) {
  for (int i = 0; i < nr; i++) {
    const int n = add_pte_mapping(p);
    if (PageAnon(p)) mod_anon_mapped(p, n);
  }
}

void page_remove_fake_rmap(page* p, int nr) {
  for (int i = 0; i < nr; i++) {
    const int n = remove_pte_mapping(p);
    if (PageAnon(p)) mod_anon_mapped(p, -n);
  }
}

int folio_entire_mapcount(const folio* f) {
  if (!folio_test_large(f)) return 0;
  return folio_int_read(&f[1]._entire_mapcount) + 1;
}

int page_mapcount(const page* p) {
  int mc = atomic_read(&p->_mapcount) + 1;
  const folio* f = page_folio(p);
  if (folio_test_large(f)) mc += folio_entire_mapcount(f);
  return mc;  // fake mappings (fake_vma pins) are in _mapcount
}

int folio_mapcount(const folio* f) {
  if (!folio_test_large(f)) return atomic_read(&f->_mapcount) + 1;
  int mc = folio_entire_mapcount(f);
  const unsigned long nr = folio_nr_pages(f);
  for (unsigned long i = 0; i < nr; i++) mc += atomic_read(&f[i]._mapcount) + 1;
  return mc;
}

bool folio_pte_mapped(const folio* f) {
  // Under fake_vma part of _mapcount is pins: a page is mapped by a page table only if
  // its mappings outnumber its fake ones.
  if (!folio_test_large(f)) return atomic_read(&f->_mapcount) + 1 > static_cast<int>(page_fake_mapcount(f));
  if (folio_int_read(&f[1]._entire_mapcount) >= 0) return true;
  if (folio_int_read(&f[1]._nr_pages_mapped) == 0) return false;
  if (folio_fake_mapcount(f) == 0) return true;
  const unsigned long nr = folio_nr_pages(f);
  for (unsigned long i = 0; i < nr; i++)
    if (atomic_read(&f[i]._mapcount) + 1 > static_cast<int>(page_fake_mapcount(&f[i]))) return true;
  return false;
}

bool folio_mapped(const folio* f) { return folio_fake_mapcount(f) || folio_pte_mapped(f); }

unsigned long vma_address(const page* p, const vm_area_struct* vma) {
  const folio* f = page_folio(p);
  const long pgoff = static_cast<long>(f->index) + (p - static_cast<const page*>(f));
  const long delta = pgoff - static_cast<long>(vma->vm_pgoff);
  const unsigned long address = vma->vm_start + (static_cast<unsigned long>(delta) << PAGE_SHIFT);
  if (delta < 0 || address >= vma->vm_end) return static_cast<unsigned long>(-EFAULT);
  return address;
}

namespace {

// Where @vma would map the first page of @f (possibly below vm_start for a large folio);
// false if no page of @f falls inside @vma.
bool folio_vma_address(const folio* f, const vm_area_struct* vma, unsigned long* address) {
  const long delta = static_cast<long>(f->index) - static_cast<long>(vma->vm_pgoff);
  const unsigned long nr = folio_nr_pages(f);
  const unsigned long a = vma->vm_start + (static_cast<unsigned long>(delta) << PAGE_SHIFT);
  const unsigned long folio_end = a + (nr << PAGE_SHIFT);
  if (!(a < vma->vm_end && folio_end > vma->vm_start)) return false;  // (wraps cover delta < 0)
  if (delta < 0 && static_cast<unsigned long>(-delta) >= nr) return false;
  *address = a;
  return true;
}

// One vma of a walk: false stops the walk.
bool rmap_visit(folio* f, vm_area_struct* vma, rmap_walk_control* rwc) {
  unsigned long address;
  if (!folio_vma_address(f, vma, &address)) return true;
  if (vma_is_gup_fake(vma)) {
    if (!rwc->fake_one) return true;
    if (!rwc->fake_one(f, vma, address, rwc->arg)) return false;
  } else {
    if (rwc->invalid_vma && rwc->invalid_vma(vma, rwc->arg)) return true;
    if (!rwc->rmap_one(f, vma, address, rwc->arg)) return false;
  }
  return !(rwc->done && rwc->done(f));
}

void rmap_walk_anon(folio* f, rmap_walk_control* rwc) {
  anon_vma* av;
  {
    RcuReadGuard rcu;
    uintptr_t m = reinterpret_cast<uintptr_t>(folio_mapping_read(f));
    av = reinterpret_cast<anon_vma*>(m - PAGE_MAPPING_ANON);
    // An unmapped folio's anon_vma may already be on its way out: nothing to walk.
    if (!folio_mapped(f) || !atomic_inc_not_zero(&av->refcount)) return;
  }
  anon_vma_lock_read(av);
  for (list_head* e = av->head.next; e != &av->head; e = e->next) {
    anon_vma_chain* avc = list_entry(e, anon_vma_chain, same_anon_vma);
    if (!rmap_visit(f, avc->vma, rwc)) break;
  }
  anon_vma_unlock_read(av);
  put_anon_vma(av);
}

void rmap_walk_file(folio* f, rmap_walk_control* rwc) {
  address_space* mapping = folio_mapping_read(f);
  if (!mapping) return;  // truncated
  i_mmap_lock_read(mapping);
  for (list_head* e = mapping->i_mmap.next; e != &mapping->i_mmap; e = e->next) {
    vm_area_struct* vma = list_entry(e, vm_area_struct, shared);
    if (!rmap_visit(f, vma, rwc)) break;
  }
  i_mmap_unlock_read(mapping);
}

}  // namespace

void rmap_walk(folio* f, rmap_walk_control* rwc) {
  BUG_ON(!PageLocked(f));
  if (PageAnon(f)) rmap_walk_anon(f, rwc);
  else rmap_walk_file(f, rwc);
}

// The lock is handed from one call to the next (held while returning true), which the
// analysis cannot follow.
bool page_vma_mapped_walk(struct page_vma_mapped_walk* pvmw) NO_THREAD_SAFETY_ANALYSIS {
  vm_area_struct* vma = pvmw->vma;
  mm_struct* mm = vma->vm_mm;
  folio* f = pvmw->folio_;
  const unsigned long pfn0 = page_to_pfn(f);
  const unsigned long nr = folio_nr_pages(f);
  unsigned long addr;
  if (!pvmw->started) {
    pvmw->started = true;
    pvmw->base = pvmw->address;
    unsigned long end = pvmw->base + (nr << PAGE_SHIFT);
    pvmw->end = end < vma->vm_end ? end : vma->vm_end;
    addr = pvmw->base > vma->vm_start ? pvmw->base : vma->vm_start;
    spin_lock(&mm->page_table_lock);
    pvmw->locked = true;
  } else {
    addr = pvmw->pte ? pvmw->address + PAGE_SIZE : (pvmw->address & PMD_MASK) + PMD_SIZE;
  }
  while (addr < pvmw->end) {
    pgtable_slot* pmdp = pmd_walk(mm, addr);
    const unsigned long next_pmd = (addr & PMD_MASK) + PMD_SIZE;
    if (!pmdp) {
      addr = next_pmd;
      continue;
    }
    pmd_t pmd = pmdp_get(pmdp);
    if (pmd_leaf(pmd)) {
      if (pmd_pfn(pmd) == pfn0 && folio_test_large(f)) {
        pvmw->pmd = pmdp;
        pvmw->pte = nullptr;
        pvmw->address = addr & PMD_MASK;
        return true;
      }
      addr = next_pmd;
      continue;
    }
    if (!pmd_present(pmd)) {
      addr = next_pmd;
      continue;
    }
    for (; addr < pvmw->end && addr < next_pmd; addr += PAGE_SIZE) {
      pgtable_slot* ptep = pte_offset(mm_mem(mm), pmd, addr);
      pte_t pte = ptep_get(ptep);
      if (pte_present(pte) && pte_pfn(pte) == pfn0 + ((addr - pvmw->base) >> PAGE_SHIFT)) {
        pvmw->pmd = pmdp;
        pvmw->pte = ptep;
        pvmw->address = addr;
        return true;
      }
    }
  }
  page_vma_mapped_walk_done(pvmw);
  return false;
}

void page_vma_mapped_walk_done(struct page_vma_mapped_walk* pvmw) NO_THREAD_SAFETY_ANALYSIS {
  if (pvmw->locked) spin_unlock(&pvmw->vma->vm_mm->page_table_lock);
  pvmw->locked = false;
}

unsigned long page_vma_mapped_address(folio* f, vm_area_struct* vma) {
  const long delta = static_cast<long>(f->index) - static_cast<long>(vma->vm_pgoff);
  struct page_vma_mapped_walk pvmw;
  pvmw.folio_ = f;
  pvmw.vma = vma;
  pvmw.address = vma->vm_start + (static_cast<unsigned long>(delta) << PAGE_SHIFT);
  if (!page_vma_mapped_walk(&pvmw)) return 0;
  unsigned long a = pvmw.address;
  page_vma_mapped_walk_done(&pvmw);
  return a;
}

// ---- page_mkclean, try_to_unmap, folio_referenced -------------------------------------

namespace {

// How page_mkclean() treats a page that may be DMA-pinned (machine/wb_policy.h): as any
// page where the policy does not act on pins; skipped if the caller asks; else as the
// policy's row says (pagecache_isize_extended(), WB_SYNC_ALL).
enum class pin_action { ignore, skip, wait };

pin_action mkclean_pin_action(const Machine* m, bool skip_pinned_pages) {
  const WbPolicy& wb = m->wb();
  if (!wb.acts_on_pins) return pin_action::ignore;
  if (skip_pinned_pages) return pin_action::skip;
  switch (wb.mkclean) {
    case MkcleanPinned::clean: return pin_action::ignore;
    case MkcleanPinned::skip: return pin_action::skip;
    case MkcleanPinned::wait: return pin_action::wait;
  }
  return pin_action::skip;
}

// Seed 002's wait_for_dma_pinned_to_clear(), with a wait queue for schedule().
void wait_for_dma_pinned_to_clear(folio* f) {
  TEST_SYNC_POINT(sp::kWritebackWaitPinned);
  Machine* m = page_machine(f);
  if (m->tracing()) m->trace(fmt::format("page_mkclean: pfn {:#x} index {} pinned: waiting", page_to_pfn(f), f->index));
  // Announce the sleeper before each look (an unpin clears the bit when it wakes us).
  wait_event(folio_pin_waitqueue(f), [f] {
    SetPagePinWaiters(f);
    return !folio_pinned_now(f);
  });
}

struct mkclean_info {
  int cleaned = 0;
  int skipped = 0;
  pin_action action = pin_action::ignore;
  bool fake_design = false;  // pins are found as fake vmas, not by asking the page
};

// Returns false (stop the walk) when a pinned page is skipped, as seed 002 does.
bool mkclean_pinned(folio* f, mkclean_info* mi) {
  if (mi->action == pin_action::skip) {
    mi->skipped++;
    return false;
  }
  wait_for_dma_pinned_to_clear(f);
  return true;
}

bool page_mkclean_one(folio* f, vm_area_struct* vma, unsigned long address, void* arg) {
  auto* mi = static_cast<mkclean_info*>(arg);
  if (mi->action != pin_action::ignore && !mi->fake_design && folio_pinned_now(f) && !mkclean_pinned(f, mi))
    return false;
  TEST_SYNC_POINT(sp::kRmapMkcleanPinChecked);
  MmuNotifierScope notify(MMU_NOTIFY_PROTECTION_PAGE, vma->vm_mm, address, address + (folio_nr_pages(f) << PAGE_SHIFT));
  struct page_vma_mapped_walk pvmw;
  pvmw.folio_ = f;
  pvmw.vma = vma;
  pvmw.address = address;
  while (page_vma_mapped_walk(&pvmw)) {
    if (!pvmw.pte) continue;  // file folios are never PMD-mapped in the model
    sched_point(SchedPoint::kAtomicWrite, pvmw.pte);
    // One atomic step, so a concurrent hardware-style A/D update is never lost.
    const pteval_t old = pvmw.pte->fetch_and(~(_PAGE_RW | _PAGE_DIRTY), std::memory_order_seq_cst);
    if (old & (_PAGE_RW | _PAGE_DIRTY)) mi->cleaned++;
  }
  // A pin may have been taken through a pte that was still writable after the check
  // above (GUP-fast takes no lock; the slow path only the page-table lock). Now that
  // the ptes are read-only, a new FOLL_WRITE pin must fault, and GUP-fast re-reads the
  // pte after its grab and backs off if it changed; so one more look, after the
  // write-protection, sees every pin that got through. (The ptes stay read-only: the
  // next CPU store faults and dirties the page again, which is harmless.)
  if (mi->action != pin_action::ignore && !mi->fake_design) {
    smp_mb();  // the ptes' write-protection before the pin count's read (GUP: grab, then re-read)
    if (folio_pinned_now(f) && !mkclean_pinned(f, mi)) return false;
  }
  return true;
}

bool page_mkclean_fake(folio* f, vm_area_struct* fake, unsigned long, void* arg) {
  auto* mi = static_cast<mkclean_info*>(arg);
  if (mi->action == pin_action::ignore || !folio_fake_mapcount(f)) return true;
  Machine* m = page_machine(f);
  if (m->tracing())
    m->trace(fmt::format("page_mkclean: index {} met fake vma [{:#x}, {:#x})", f->index, fake->vm_start, fake->vm_end));
  return mkclean_pinned(f, mi);
}

bool ttu_one(folio* f, vm_area_struct* vma, unsigned long address, void* arg) {
  auto* pinned = static_cast<bool*>(arg);
  Machine* m = page_machine(f);
  // Seed 002: try_to_unmap() leaves a DMA-pinned page mapped. (Where a pin is a mapping
  // it is met as a fake vma, first in i_mmap; where pins are not tracked nothing can be
  // known, and the policy's row is ignore's: the machine takes no notice of pins.)
  if (m->wb().unmap_skips_pinned && !pin_design_props(m->pin_design()).pin_is_mapping && folio_pinned_now(f)) {
    *pinned = true;
    return false;
  }
  mm_struct* mm = vma->vm_mm;
  MmuNotifierScope notify(MMU_NOTIFY_CLEAR, mm, address, address + (folio_nr_pages(f) << PAGE_SHIFT));
  struct page_vma_mapped_walk pvmw;
  pvmw.folio_ = f;
  pvmw.vma = vma;
  pvmw.address = address;
  while (page_vma_mapped_walk(&pvmw)) {
    if (!pvmw.pte) continue;
    pte_t pte = ptep_get_and_clear(pvmw.pte);
    page* p = mm_pfn_page(mm, pte_pfn(pte));
    if (pte_dirty(pte)) folio_mark_dirty(f);
    page_remove_rmap(p, vma, false);
    add_mm_rss(mm, false, -1);
    page_ref_dec(f);  // the mapping's reference; never the last (the caller holds one)
  }
  return true;
}

bool ttu_fake(folio* f, vm_area_struct*, unsigned long, void* arg) {
  // A fake mapping cannot be unmapped; under the policy ignore it is not looked at. A
  // fake vma covers every page of the range one call pinned; the pages already unpinned
  // are not mapped by it any more (their fake mapcount says so).
  if (!page_machine(f)->wb().unmap_skips_pinned || !folio_fake_mapcount(f)) return true;
  *static_cast<bool*>(arg) = true;
  return false;
}

// Where try_to_unmap() takes no notice of pins only real mappings count: the fake ones
// are pins nobody asks about.
bool ttu_unmapped(const folio* f) {
  if (!page_machine(f)->wb().unmap_skips_pinned) return !folio_pte_mapped(f);
  return !folio_mapped(f);
}

bool ttu_done(folio* f) { return ttu_unmapped(f); }

bool referenced_one(folio* f, vm_area_struct* vma, unsigned long address, void* arg) {
  auto* referenced = static_cast<int*>(arg);
  struct page_vma_mapped_walk pvmw;
  pvmw.folio_ = f;
  pvmw.vma = vma;
  pvmw.address = address;
  while (page_vma_mapped_walk(&pvmw)) {
    pgtable_slot* slot = pvmw.pte ? pvmw.pte : pvmw.pmd;
    sched_point(SchedPoint::kAtomicWrite, slot);
    if (slot->fetch_and(~_PAGE_ACCESSED, std::memory_order_seq_cst) & _PAGE_ACCESSED) (*referenced)++;
  }
  return true;
}

}  // namespace

int __page_mkclean(page* p, bool skip_pinned_pages, int* skipped) {
  folio* f = page_folio(p);
  BUG_ON(!PageLocked(f));
  *skipped = 0;
  if (PageAnon(f) || !folio_mapping_read(f)) return 0;
  Machine* m = page_machine(f);
  mkclean_info mi;
  mi.action = mkclean_pin_action(m, skip_pinned_pages);
  mi.fake_design = pin_design_props(m->pin_design()).pin_is_mapping;
  // A pinned page nobody maps any more is still pinned: ask before the walk, which
  // would not visit it (the walk asks again at each vma, where seed 002 asks).
  if (!folio_mapped(f)) {
    if (mi.action != pin_action::ignore && folio_pinned_now(f)) mkclean_pinned(f, &mi);
    *skipped = mi.skipped;
    return 0;
  }
  rmap_walk_control rwc;
  rwc.arg = &mi;
  rwc.rmap_one = page_mkclean_one;
  rwc.fake_one = page_mkclean_fake;
  rmap_walk(f, &rwc);
  // fake_vma: a pin made without a fake vma in this rmap (a shmem page, or a pin taken
  // outside GUP) is still a fake mapping of the page; never miss it.
  if (mi.fake_design && mi.action != pin_action::ignore && !mi.skipped && folio_fake_mapcount(f))
    mkclean_pinned(f, &mi);
  *skipped = mi.skipped;
  return mi.cleaned;
}

bool folio_mkclean_wait_pinned(folio* f) {
  BUG_ON(!PageLocked(f));
  if (mkclean_pin_action(page_machine(f), false) != pin_action::wait || !folio_pinned_now(f)) return false;
  folio_unlock(f);
  wait_for_dma_pinned_to_clear(f);
  folio_lock(f);
  return true;
}

int page_mkclean(page* p, bool skip_pinned_pages) {
  int skipped = 0;
  const int cleaned = __page_mkclean(p, skip_pinned_pages, &skipped);
  return cleaned && !skipped;
}

bool try_to_unmap(folio* f, ttu_flags flags) {
  BUG_ON(!PageLocked(f));
  if (PageAnon(f)) return !folio_mapped(f);  // no swap: anon pages stay mapped
  bool pinned = false;
  rmap_walk_control rwc;
  rwc.arg = &pinned;
  rwc.rmap_one = ttu_one;
  rwc.fake_one = ttu_fake;
  rwc.done = ttu_done;
  rmap_walk(f, &rwc);
  Machine* m = page_machine(f);
  if (pinned && m->tracing())
    m->trace(fmt::format("try_to_unmap: pfn {:#x} index {} is pinned: left mapped", page_to_pfn(f), f->index));
  return ttu_unmapped(f);
}

int folio_referenced(folio* f) {
  BUG_ON(!PageLocked(f));
  if (!folio_mapped(f)) return 0;
  int referenced = 0;
  rmap_walk_control rwc;
  rwc.arg = &referenced;
  rwc.rmap_one = referenced_one;
  rmap_walk(f, &rwc);
  return referenced;
}

}  // namespace guplab
