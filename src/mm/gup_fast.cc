// gup_fast.cc - the lockless GUP walk (get_user_pages_fast, pin_user_pages_fast).
//
// No mmap_lock and no page-table lock: the walk reads entries with READ_ONCE inside an
// RCU read-side section (page-table pages are RCU-freed), takes a speculative
// reference or pin on the folio (which fails if the folio is being freed), then re-reads
// the entry and backs off if it changed. A huge pmd or pud leaf (THP, hugetlb) pins its
// folio once for all the subpages returned; so does a run of ptes mapping consecutive subpages of one large
// folio (each pte of the run re-checked after the grab). For FOLL_PIN it also backs off
// if fork() was copying page tables meanwhile (mm->write_protect_seq), so a pin can't
// land on a page fork just shared. Whatever the walk can't do (not present, not
// writable, zero page, must unshare, an fs-DAX pte under FOLL_LONGTERM) is left to the
// slow path, and so is every FOLL_PIN under the fake_vma design.
//
// Under the sim backend only (it compiles away natively), every entry the walk reads is
// checked to come from a live page table: a KASAN-like check that the RCU section makes
// redundant, so that a table freed under the walk is an oops, not a silent read of
// whatever the frame holds now.
//
// Cost: the design and the scheduling-point policy are resolved once per call; per pte
// the loop makes one mask test, one CAS on the folio's _refcount, and the re-reads, with
// the struct page asked for kPrefetchAhead ptes early. vmstat is updated once per call.
//
// Threading: any task that is not holding mmap_lock; see mm/gup.h.
#include <algorithm>

#include "machine/trace_point.h"
#include "base/prefetch.h"
#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/gup_internal.h"
#include "mm/gup_longterm.h"
#include "mm/mm_struct.h"
#include "mm/pin.h"
#include "base/bug.h"

namespace guplab {

namespace {

/**
 * FastWalk - one lockless walk. D is the pin design for a FOLL_PIN walk and PinGet for
 * a FOLL_GET one (a reference is the same under every design); S is the scheduling-point
 * policy (base/sched.h). Both are resolved once per call, so the per-pte loop has no
 * switch, no call through a pointer and, natively, no scheduling-point test.
 */
template <typename D, typename S>
class FastWalk {
  // How many ptes ahead the walk asks for the struct page (see prefetch_pte_page()): a
  // memory miss is several times the per-page cost of the loop, so the hint has to be
  // that many pages early to have arrived when the CAS needs the line.
  static constexpr long kPrefetchAhead = 32;

 public:
  FastWalk(const PhysMem& mem, foll_flags flags, page** pages)
      : mem_(mem),
        mem_map_(mem.mem_map()),
        flags_(flags),
        // Like pte_access_permitted(): present, user-accessible (not PROT_NONE), not
        // special (no refcounted page; the zero page is only ever mapped special), and
        // writable for FOLL_WRITE: one mask test per pte.
        // FOLL_LONGTERM leaves a devmap (fs-DAX) pte to the slow path, which knows the vma.
        pte_check_(_PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL | (any(flags, FOLL_WRITE) ? _PAGE_RW : 0) |
                   (any(flags, FOLL_LONGTERM) ? _PAGE_DEVMAP : 0)),
        pte_want_(pte_check_ & ~(_PAGE_SPECIAL | _PAGE_DEVMAP)),
        may_unshare_(any(flags, FOLL_PIN) && !any(flags, FOLL_WRITE)),
        pages_(pages) {}
  long nr() const { return nr_; }

  bool pte_range(pmd_t pmd, const pgtable_slot* pmdp, unsigned long addr, unsigned long end) {
    // Locals, not members: the compiler must assume each atomic below may change what
    // `this` points at, and would reload members from memory every time.
    const pgtable_slot* ptep = pte_offset(mem_, pmd, addr);
    const pgtable_slot* const last = ptep + ((end - addr) >> PAGE_SHIFT);
    page* const mem_map = mem_map_;
    const pteval_t check = pte_check_, want = pte_want_;
    const bool may_unshare = may_unshare_;
    page** out = pages_ + nr_;
    for (const pgtable_slot* a = ptep; a < last && a < ptep + kPrefetchAhead; a++) prefetch_pte_page(a);
    // The first entries with the hint kPrefetchAhead ahead, the last ones without.
    const pgtable_slot* const hinted = last - std::min<long>(last - ptep, kPrefetchAhead);
    bool whole = true;
    while (ptep < last) {
      if (ptep < hinted) prefetch_pte_page(ptep + kPrefetchAhead);
      const pte_t pte = ptep_get<S>(ptep);
      check_table_live(ptep);
      if ((pte.val & check) != want) {
        whole = false;
        break;
      }
      page* const p = mem_map + pte_pfn(pte);
      if (unlikely(PageTail(p))) {
        // The pte maps part of a large folio, and the following ptes likely map the
        // following subpages: grab them together.
        const long got = pte_run(pmd, pmdp, ptep, last, pte, p, page_folio(p), out);
        ptep += got;
        out += got;
        if (got == 0 || (ptep < last && !run_complete_)) {
          whole = false;
          break;
        }
        continue;
      }
      folio* const f = page_folio_of_head(p);
      VM_BUG_ON(!(!is_zero_folio<S>(f)));  // special: refused by the mask test
      if (D::template grab_fast<S>(f, 1) <= 0) {
        whole = false;
        break;
      }
      // Re-check: the folio may have been freed and reused (now a tail of another) or
      // unmapped since.
      if (unlikely(PageTail(p) || pmdp_get<S>(pmdp).val != pmd.val || ptep_get<S>(ptep).val != pte.val ||
                   (may_unshare && gup_must_unshare(nullptr, flags_, p)))) {
        D::template unpin<S>(f, 1);
        whole = false;
        break;
      }
      *out++ = p;
      ptep++;
    }
    nr_ = out - pages_;
    return whole;
  }

  bool pmd_leaf_range(pmd_t orig, const pgtable_slot* pmdp, unsigned long addr, unsigned long end) {
    if ((orig.val & pte_check_) != pte_want_) return false;  // the same rules as a pte
    page* head = mem_map_ + pmd_pfn(orig);
    return grab_leaf(head, head + ((addr & ~PMD_MASK) >> PAGE_SHIFT), static_cast<int>((end - addr) >> PAGE_SHIFT),
                     [&] { return pmdp_get<S>(pmdp).val != orig.val; });
  }

  /**
   * grab_leaf() - the run @p..@p+@refs-1 of the folio a huge leaf maps at @head, grabbed
   * with one operation, then re-checked: @leaf_changed() re-reads the leaf entry; a
   * changed entry, a folio freed and reused meanwhile, or a page that must be unshared
   * (exclusivity is the head's) undoes the grab and falls back (false).
   */
  template <typename Changed>
  bool grab_leaf(page* head, page* p, int refs, Changed&& leaf_changed) {
    folio* f = page_folio(p);
    if (D::template grab_fast<S>(f, refs) <= 0) return false;
    if (unlikely(page_folio(p) != f || leaf_changed() || (may_unshare_ && gup_must_unshare(nullptr, flags_, head)))) {
      D::template unpin<S>(f, refs);
      return false;
    }
    page** const out = pages_ + nr_;
    for (int i = 0; i < refs; i++) out[i] = p + i;
    nr_ += refs;
    return true;
  }

  /**
   * gup_huge_pud() - seed 000's PUD leaf (a 1 GiB hugetlb folio): the subpages of
   * [@addr, @end) grabbed with one operation on the folio, then the pud re-read; any
   * change (zapped, remapped, the folio freed and reused) undoes the grab.
   */
  bool gup_huge_pud(pud_t orig, const pgtable_slot* pudp, unsigned long addr, unsigned long end) {
    if ((orig.val & pte_check_) != pte_want_) return false;  // the same rules as a pte
    page* head = mem_map_ + pud_pfn(orig);
    return grab_leaf(head, head + ((addr & ~PUD_MASK) >> PAGE_SHIFT), static_cast<int>((end - addr) >> PAGE_SHIFT),
                     [&] { return pudp_get<S>(pudp).val != orig.val; });
  }

  bool pmd_range(pud_t pud, unsigned long addr, unsigned long end) {
    const pgtable_slot* pmdp = pmd_offset(mem_, pud, addr);
    do {
      pmd_t pmd = pmdp_get<S>(pmdp);
      check_table_live(pmdp);
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
      pud_t pud = pudp_get<S>(pudp);
      check_table_live(pudp);
      unsigned long next = pud_addr_end(addr, end);
      if (!pud_present(pud)) return false;
      if (pud_leaf(pud)) {
        if (!gup_huge_pud(pud, pudp, addr, next)) return false;
      } else if (!pmd_range(pud, addr, next)) {
        return false;
      }
      addr = next;
    } while (++pudp, addr != end);
    return true;
  }

  void pgd_range(unsigned long pgd_pfn, unsigned long addr, unsigned long end) {
    const pgtable_slot* pgdp = pgd_offset_pfn(mem_, pgd_pfn, addr);
    do {
      pgd_t pgd = pgdp_get<S>(pgdp);
      unsigned long next = pgd_addr_end(addr, end);
      if (!pgd_present(pgd)) return;
      if (!pud_range(pgd, addr, next)) return;
      addr = next;
    } while (++pgdp, addr != end);
  }

 private:
  /**
   * check_table_live() - sim only: the entry just read at @slot must come from a frame
   * that is still a page table. Oopses if the walk read a table freed under it.
   */
  void check_table_live(const pgtable_slot* slot) const {
    if constexpr (!S::kNative) {
      BUG_ON_MSG(!PageTable(virt_to_page(slot, mem_)), "GUP-fast read a page table that was freed under it");
    }
  }

  // Ask for the struct page of the pte at @ptep in exclusive state: the speculative
  // reference on it is a load then a CAS, which would otherwise pay a read miss and
  // then an ownership upgrade. A hint only: the entry may change, nothing is read
  // through it.
  void prefetch_pte_page(const pgtable_slot* ptep) const {
    const pte_t ahead{read_hint(*ptep)};
    if (pte_present(ahead)) prefetchw(mem_map_ + pte_pfn(ahead));
  }

  /**
   * pte_run() - grab, with one operation on the folio, the run of ptes from @ptep (which
   * read @first, mapping @p, a tail page of the large folio @f) that map the following
   * subpages of @f with the same bits, up to @last and the end of the folio; each is
   * re-checked after the grab as a walk of its own would be. Writes the pages to @out
   * and returns how many; sets run_complete_ if all of the run was taken (otherwise the
   * walk stops after what it got).
   */
  long pte_run(pmd_t pmd, const pgtable_slot* pmdp, const pgtable_slot* ptep, const pgtable_slot* last,
               pte_t first, page* p, folio* f, page** out) {
    run_complete_ = false;
    // Candidates: the following ptes that map the following pfns with the same bits.
    // Nothing of the folio is read yet: before a reference is held its struct pages may
    // be in reuse (its order word is a free page's list link then).
    const long max = last - ptep;
    long run = 1;
    while (run < max && ptep_get<S>(ptep + run).val == first.val + (static_cast<pteval_t>(run) << PAGE_SHIFT)) run++;
    if (D::template grab_fast<S>(f, static_cast<int>(run)) <= 0) return 0;
    if (unlikely(page_folio(p) != f || pmdp_get<S>(pmdp).val != pmd.val || ptep_get<S>(ptep).val != first.val)) {
      D::template unpin<S>(f, static_cast<int>(run));
      return 0;
    }
    // Referenced, and still mapped as we read it: the folio's order is stable now. The
    // candidates past its end belong to the next folio and start a run of their own.
    const long keep = std::min<long>(run, static_cast<long>(folio_nr_pages(f)) - (p - static_cast<page*>(f)));
    long ok = 0;
    while (ok < keep && (ok == 0 || ptep_get<S>(ptep + ok).val == first.val + (static_cast<pteval_t>(ok) << PAGE_SHIFT)) &&
           !(may_unshare_ && gup_must_unshare(nullptr, flags_, p + ok)))  // pte-mapped: the subpage's own
      ok++;
    if (ok < run) D::template unpin<S>(f, static_cast<int>(run - ok));
    for (long k = 0; k < ok; k++) out[k] = p + k;
    run_complete_ = ok == keep;
    return ok;
  }

  const PhysMem& mem_;
  page* const mem_map_;
  const foll_flags flags_;
  const pteval_t pte_check_, pte_want_;
  const bool may_unshare_;
  bool run_complete_ = false;
  page** const pages_;
  long nr_ = 0;
};

/**
 * gup_fast() - the lockless part of gup_fast_fallback(), under design D (PinGet for a
 * FOLL_GET call) and scheduling-point policy S. Returns how many pages it took.
 */
template <typename D, typename S>
long gup_fast(mm_struct* mm, unsigned long start, unsigned long end, foll_flags flags, page** pages) {
  const bool pin = any(flags, FOLL_PIN);
  VM_BUG_ON(!(pin || !D::kTracksPins));
  uint32_t seq = 0;
  if (pin) {
    mm->has_pinned.store(true, std::memory_order_relaxed);
    if constexpr (!D::kHasFastPath) {
      // e.g. fake_vma: a fake vma is linked under sleeping locks, which the lockless walk
      // cannot take (Jan Kara's first objection to seed 003): every pin goes to the slow path.
      return 0;
    }
    seq = mm->write_protect_seq.load(std::memory_order_acquire);
    if (seq & 1) return 0;  // fork() is copying page tables right now
  }
  FastWalk<D, S> walk(mm->machine->mem(), flags, pages);
  {
    RcuReadGuard rcu;
    walk.pgd_range(mm->pgd_pfn, start, end);
  }
  long nr = walk.nr();
  if (pin && all(flags, FOLL_LONGTERM | FOLL_WRITE) && mm->machine->config().refuse_longterm_file_pins) {
    // gup_fast_folio_allowed(): a file page that is neither anonymous nor shmem (swap
    // backed) may need dirty tracking; leave it and what follows to the slow path,
    // which refuses it by its vma.
    long ok = 0;
    while (ok < nr && (PageAnon(pages[ok]) || PageSwapBacked(pages[ok]))) ok++;
    for (long i = ok; i < nr; i++) D::template unpin<S>(page_folio(pages[i]), 1);
    nr = ok;
  }
  if (pin) {
    smp_mb();
    if (mm->write_protect_seq.load(std::memory_order_acquire) != seq) {
      // A fork raced with us and may have write-protected (and shared) what we pinned.
      for (long i = 0; i < nr; i++) D::template unpin<S>(page_folio(pages[i]), 1);
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
  const char* const what = any(flags, FOLL_PIN) ? "pin_user_pages_fast" : "get_user_pages_fast";
  flags = gup_design_flags(mm, flags);
  // Upstream's rules: the lockless walk does not take a page a long-term pin may not
  // hold; the model sends every long-term pin to the slow path, which migrates those
  // out (mm/gup_longterm.h; docs/seeds.md D-migrate-2).
  const bool walk = !(any(flags, FOLL_LONGTERM) && longterm_rules_upstream(mm));
  if (!walk && any(flags, FOLL_FAST_ONLY)) return 0;

  long nr_pinned = !walk ? 0 : sched_dispatch([&](auto s) {
    using S = decltype(s);
    if (!any(flags, FOLL_PIN)) return gup_fast<PinGet, S>(mm, start, end, flags, pages);
    return pin_dispatch(mm->machine->pin_design(),
                        [&](auto d) { return gup_fast<decltype(d), S>(mm, start, end, flags, pages); });
  });
  if (static_cast<unsigned long>(nr_pinned) == nr_pages || any(flags, FOLL_FAST_ONLY)) {
    trace_point(mm->machine, "pin", what,
                "start={:#x} nr={} ret={} pfn={:#x} fast", start, nr_pages, nr_pinned,
                nr_pinned > 0 ? page_to_pfn(pages[0]) : 0ul);
    return nr_pinned;
  }

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
