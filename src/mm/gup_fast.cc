// gup_fast.cc - the lockless GUP walk (get_user_pages_fast, pin_user_pages_fast).
//
// No mmap_lock and no page-table lock: the walk reads entries with READ_ONCE inside an
// RCU read-side section (page-table pages are RCU-freed), takes a speculative
// reference or pin on the folio (which fails if the folio is being freed), then re-reads
// the entry and backs off if it changed. A huge pmd pins its folio once for all the
// subpages returned. For FOLL_PIN it also backs off if fork() was copying page tables
// meanwhile (mm->write_protect_seq), so a pin can't land on a page fork just shared.
// Whatever the walk can't do (not present, not writable, zero page, must unshare) is
// left to the slow path, and so is every FOLL_PIN under the fake_vma design.
#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/gup_internal.h"
#include "mm/mm_struct.h"
#include "mm/pin.h"

namespace guplab {

namespace {

template <typename D>
class FastWalk {
  static constexpr int kPrefetchAhead = 8;

 public:
  FastWalk(const PhysMem& mem, foll_flags flags, page** pages)
      : mem_(mem), mem_map_(mem.mem_map()), flags_(flags), pages_(pages) {}
  long nr() const { return nr_; }

  bool pte_range(pmd_t pmd, const pgtable_slot* pmdp, unsigned long addr, unsigned long end) {
    const pgtable_slot* ptep = pte_offset(mem_, pmd, addr);
    const pgtable_slot* const last = ptep + ((end - addr) >> PAGE_SHIFT);
    do {
      // Ask for the struct page a few entries ahead in exclusive state: the speculative
      // reference below is a load then a CAS on it, which would otherwise pay a read miss
      // and then an ownership upgrade. A hint only: nothing is read through it.
      if (ptep + kPrefetchAhead < last) {
        const pte_t ahead = ptep_get(ptep + kPrefetchAhead);
        if (pte_present(ahead)) __builtin_prefetch(mem_map_ + pte_pfn(ahead), 1, 3);
      }
      pte_t pte = ptep_get(ptep);
      // Like pte_access_permitted(): present, user-accessible (not PROT_NONE), not special.
      if (!pte_present(pte) || !pte_user(pte) || pte_special(pte)) return false;
      if (any(flags_, FOLL_WRITE) && !pte_write(pte)) return false;
      page* p = mem_map_ + pte_pfn(pte);
      folio* f = page_folio(p);
      if (try_grab_folio_fast<D>(f, 1, flags_) <= 0) return false;
      // Re-check: the folio may have been freed and reused, split, or unmapped since.
      if (unlikely(page_folio(p) != f || pmdp_get(pmdp).val != pmd.val || ptep_get(ptep).val != pte.val ||
                   gup_must_unshare(nullptr, flags_, p))) {
        gup_put_folio<D>(f, 1, flags_);
        return false;
      }
      pages_[nr_++] = p;
    } while (++ptep, addr += PAGE_SIZE, addr != end);
    return true;
  }

  bool pmd_leaf_range(pmd_t orig, const pgtable_slot* pmdp, unsigned long addr, unsigned long end) {
    if (any(flags_, FOLL_WRITE) && !pmd_write(orig)) return false;
    if (pmd_special(orig) || !pmd_user(orig)) return false;
    page* p = mem_map_ + pmd_pfn(orig) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
    const int refs = static_cast<int>((end - addr) >> PAGE_SHIFT);
    folio* f = page_folio(p);
    if (try_grab_folio_fast<D>(f, refs, flags_) <= 0) return false;
    // PMD-mapped: exclusivity is the head's.
    if (unlikely(page_folio(p) != f || pmdp_get(pmdp).val != orig.val ||
                 gup_must_unshare(nullptr, flags_, mem_map_ + pmd_pfn(orig)))) {
      gup_put_folio<D>(f, refs, flags_);
      return false;
    }
    for (int i = 0; i < refs; i++) pages_[nr_++] = p + i;
    return true;
  }

  bool pmd_range(pud_t pud, unsigned long addr, unsigned long end) {
    const pgtable_slot* pmdp = pmd_offset(mem_, pud, addr);
    do {
      pmd_t pmd = pmdp_get(pmdp);
      unsigned long next = pmd_addr_end(addr, end);
      if (!pmd_present(pmd)) return false;
      if (pmd_leaf(pmd)) {
        if (!pmd_leaf_range(pmd, pmdp, addr, next)) return false;
      } else if (!pte_range(pmd, pmdp, addr, next)) {
        return false;
      }
      addr = next;
    } while (++pmdp, addr != end);
    return true;
  }

  bool pud_range(pgd_t pgd, unsigned long addr, unsigned long end) {
    const pgtable_slot* pudp = pud_offset(mem_, pgd, addr);
    do {
      pud_t pud = pudp_get(pudp);
      unsigned long next = pud_addr_end(addr, end);
      if (!pud_present(pud) || pud_leaf(pud)) return false;
      if (!pmd_range(pud, addr, next)) return false;
      addr = next;
    } while (++pudp, addr != end);
    return true;
  }

  void pgd_range(unsigned long pgd_pfn, unsigned long addr, unsigned long end) {
    const pgtable_slot* pgdp = pgd_offset_pfn(mem_, pgd_pfn, addr);
    do {
      pgd_t pgd = pgdp_get(pgdp);
      unsigned long next = pgd_addr_end(addr, end);
      if (!pgd_present(pgd)) return;
      if (!pud_range(pgd, addr, next)) return;
      addr = next;
    } while (++pgdp, addr != end);
  }

 private:
  const PhysMem& mem_;
  page* const mem_map_;  // cached: the loop must not reload it after every atomic
  const foll_flags flags_;
  page** const pages_;
  long nr_ = 0;
};

template <typename D>
long gup_fast(mm_struct* mm, unsigned long start, unsigned long end, foll_flags flags, page** pages) {
  if constexpr (D::kDesign == PinDesign::fake_vma) {
    // A fake vma is linked under sleeping locks, which the lockless walk cannot take
    // (Jan Kara's first objection to seed 003): every pin goes to the slow path.
    if (any(flags, FOLL_PIN)) {
      mm->has_pinned.store(true, std::memory_order_relaxed);
      return 0;
    }
  }
  uint32_t seq = 0;
  if (any(flags, FOLL_PIN)) {
    mm->has_pinned.store(true, std::memory_order_relaxed);
    seq = mm->write_protect_seq.load(std::memory_order_acquire);
    if (seq & 1) return 0;  // fork() is copying page tables right now
  }
  FastWalk<D> walk(mm->machine->mem(), flags, pages);
  {
    RcuReadGuard rcu;
    walk.pgd_range(mm->pgd_pfn, start, end);
  }
  long nr = walk.nr();
  if (any(flags, FOLL_PIN)) {
    smp_mb();
    if (mm->write_protect_seq.load(std::memory_order_acquire) != seq) {
      // A fork raced with us and may have write-protected (and shared) what we pinned.
      for (long i = 0; i < nr; i++) gup_put_folio<D>(page_folio(pages[i]), 1, flags);
      return 0;
    }
    if (nr) gup_count_pins(pages[0], nr);
  }
  if (nr) mm->machine->vmstat().mod(GUP_FAST_PAGES, nr);
  return nr;
}

long gup_fast_fallback(unsigned long start, unsigned long nr_pages, foll_flags flags, page** pages) {
  task_struct* t = current();
  mm_struct* mm = t ? t->mm : nullptr;
  if (!mm) return -EFAULT;
  if (WARN_ON_ONCE(any(flags, ~(FOLL_WRITE | FOLL_LONGTERM | FOLL_FORCE | FOLL_PIN | FOLL_GET | FOLL_FAST_ONLY |
                                FOLL_NOFAULT | FOLL_PCI_P2PDMA | FOLL_HONOR_NUMA_FAULT | FOLL_NOWAIT))))
    return -EINVAL;
  if (int r = check_foll_flags(flags)) return r;
  if (WARN_ON_ONCE(!pages)) return -EINVAL;
  if (nr_pages == 0) return 0;
  start &= PAGE_MASK;
  if (nr_pages > (TASK_SIZE >> PAGE_SHIFT)) return -EOVERFLOW;
  const unsigned long end = start + (nr_pages << PAGE_SHIFT);
  if (end > TASK_SIZE || end < start) return -EFAULT;

  long nr_pinned = pin_dispatch(mm->machine->pin_design(),
                                [&](auto d) { return gup_fast<decltype(d)>(mm, start, end, flags, pages); });
  if (static_cast<unsigned long>(nr_pinned) == nr_pages || any(flags, FOLL_FAST_ONLY)) return nr_pinned;

  mm->machine->vmstat().inc(GUP_FAST_FALLBACK);
  int locked = 0;
  long ret = __get_user_pages_locked(mm, start + (static_cast<unsigned long>(nr_pinned) << PAGE_SHIFT),
                                     nr_pages - static_cast<unsigned long>(nr_pinned), pages + nr_pinned, &locked,
                                     flags | FOLL_TOUCH | FOLL_UNLOCKABLE);
  if (ret < 0) return nr_pinned ? nr_pinned : ret;
  if (ret > 0) mm->machine->vmstat().mod(GUP_SLOW_PAGES, ret);
  return ret + nr_pinned;
}

int clamp_result(long r) { return static_cast<int>(r); }

}  // namespace

int get_user_pages_fast(unsigned long start, int nr_pages, foll_flags flags, page** pages) {
  if (nr_pages < 0) return -EINVAL;
  if (WARN_ON_ONCE(any(flags, FOLL_PIN | FOLL_GET | FOLL_FAST_ONLY))) return -EINVAL;
  return clamp_result(gup_fast_fallback(start, static_cast<unsigned long>(nr_pages), flags | FOLL_GET, pages));
}

int get_user_pages_fast_only(unsigned long start, int nr_pages, foll_flags flags, page** pages) {
  if (nr_pages < 0) return -EINVAL;
  if (WARN_ON_ONCE(any(flags, FOLL_PIN | FOLL_GET | FOLL_FAST_ONLY))) return -EINVAL;
  long r = gup_fast_fallback(start, static_cast<unsigned long>(nr_pages), flags | FOLL_GET | FOLL_FAST_ONLY, pages);
  return r < 0 ? 0 : clamp_result(r);
}

int pin_user_pages_fast(unsigned long start, int nr_pages, foll_flags flags, page** pages) {
  if (nr_pages < 0) return -EINVAL;
  if (WARN_ON_ONCE(any(flags, FOLL_PIN | FOLL_GET | FOLL_FAST_ONLY))) return -EINVAL;
  return clamp_result(gup_fast_fallback(start, static_cast<unsigned long>(nr_pages), flags | FOLL_PIN, pages));
}

int pin_user_pages_fast_only(unsigned long start, int nr_pages, foll_flags flags, page** pages) {
  if (nr_pages < 0) return 0;
  if (WARN_ON_ONCE(any(flags, FOLL_PIN | FOLL_GET | FOLL_FAST_ONLY))) return 0;
  long r = gup_fast_fallback(start, static_cast<unsigned long>(nr_pages), flags | FOLL_PIN | FOLL_FAST_ONLY, pages);
  return r < 0 ? 0 : clamp_result(r);
}

}  // namespace guplab
