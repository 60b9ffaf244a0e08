// gup.cc - the GUP slow path: walk under mmap_lock and the page-table lock, fault in
// what is missing, and the *locked protocol that lets a fault drop mmap_lock for I/O
// (seed 001). Entry points for get_user_pages*() and pin_user_pages*().
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "machine/trace_point.h"
#include "base/bug.h"
#include "base/clock.h"
#include "base/errno.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/fake_vma.h"
#include "mm/gup_internal.h"
#include "mm/gup_longterm.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/memremap.h"
#include "mm/memory.h"
#include "mm/mm_struct.h"
#include "mm/mmap.h"
#include "mm/pin.h"
#include "mm/shmem.h"
#include "mm/swap.h"

namespace guplab {

namespace {

struct follow_page_context {
  unsigned long page_mask = 0;  // HPAGE_PMD_NR - 1 (huge pmd) or PUD_SIZE/PAGE_SIZE - 1 (pud leaf)
  // Batching (pte level): follow_page_pte() may also grab the pages of the next ptes of
  // the same table, under the same page-table lock, into more[0..max_more); it says how
  // many in nr_more. Each is checked exactly as a walk of its own would check it; the
  // batch stops at the first that needs anything else (a fault, an unshare, the zero
  // page), which the caller's next step then handles alone.
  page** more = nullptr;
  unsigned long max_more = 0;
  unsigned long nr_more = 0;
};

constexpr foll_flags kInternalFlags = FOLL_TOUCH | FOLL_TRIED | FOLL_REMOTE | FOLL_PIN | FOLL_FAST_ONLY |
                                      FOLL_UNLOCKABLE | FOLL_MADV_POPULATE;

// follow_* return this when the pmd changed under them: walk again from the top.
page* const kRewalk = ERR_PTR<page>(-MAX_ERRNO);

page* no_page_table(foll_flags flags) {
  // FOLL_DUMP wants holes reported rather than filled.
  if (any(flags, FOLL_DUMP)) return ERR_PTR<page>(-EFAULT);
  return nullptr;
}

void gup_touch(folio* f, foll_flags flags) {
  if (!any(flags, FOLL_TOUCH)) return;
  if (any(flags, FOLL_WRITE) && !PageDirty(f)) folio_mark_dirty(f);
  folio_mark_accessed(f);
}

template <typename D>
page* follow_huge_pmd(vm_area_struct* vma, unsigned long address, pgtable_slot* pmdp, foll_flags flags,
                      follow_page_context* ctx) {
  mm_struct* mm = vma->vm_mm;
  PhysMem& mem = mm->machine->mem();
  SpinGuard g(&mm->page_table_lock);
  pmd_t pmd = pmdp_get(pmdp);
  if (!pmd_leaf(pmd)) return kRewalk;  // split or zapped meanwhile
  page* head = mem.pfn_to_page(pmd_pfn(pmd));
  page* p = head + ((address & ~PMD_MASK) >> PAGE_SHIFT);
  if (any(flags, FOLL_WRITE) && !can_follow_write_pmd(pmd, head, vma, flags)) return nullptr;
  if (gup_must_unshare(vma, flags, head)) return ERR_PTR<page>(-EMLINK);
  folio* f = page_folio(p);
  if (any(flags, FOLL_GET | FOLL_PIN)) {
    int ret = try_grab_folio<D>(f, 1, flags);
    if (ret) return ERR_PTR<page>(ret);
  }
  if (any(flags, FOLL_TOUCH) && any(flags, FOLL_WRITE) && !pmd_dirty(pmd)) set_pmd(pmdp, pmd_mkyoung(pmd_mkdirty(pmd)));
  gup_touch(f, flags);
  ctx->page_mask = HPAGE_PMD_NR - 1;
  return p;
}

/**
 * follow_huge_pud() - seed 000's huge pud path: the subpage at @address of the 1 GiB
 * folio a PUD leaf maps (hugetlb), grabbed once; ctx->page_mask covers the rest of the
 * leaf, which __get_user_pages() grabs with one more call for all of it.
 */
template <typename D>
page* follow_huge_pud(vm_area_struct* vma, unsigned long address, pgtable_slot* pudp, foll_flags flags,
                      follow_page_context* ctx) {
  mm_struct* mm = vma->vm_mm;
  PhysMem& mem = mm->machine->mem();
  SpinGuard g(&mm->page_table_lock);
  pud_t pud = pudp_get(pudp);
  if (!pud_leaf(pud)) return kRewalk;  // zapped meanwhile
  page* head = mem.pfn_to_page(pud_pfn(pud));
  page* p = head + ((address & ~PUD_MASK) >> PAGE_SHIFT);
  if (any(flags, FOLL_WRITE) && !can_follow_write_pte(pte_t{pud.val}, head, vma, flags)) return nullptr;
  if (gup_must_unshare(vma, flags, head)) return ERR_PTR<page>(-EMLINK);  // exclusivity is the head's
  folio* f = page_folio(p);
  if (any(flags, FOLL_GET | FOLL_PIN)) {
    int ret = try_grab_folio<D>(f, 1, flags);
    if (ret) return ERR_PTR<page>(ret);
  }
  if (any(flags, FOLL_TOUCH) && any(flags, FOLL_WRITE) && !pud_dirty(pud)) set_pud(pudp, pud_mkyoung(pud_mkdirty(pud)));
  gup_touch(f, flags);
  ctx->page_mask = (PUD_SIZE >> PAGE_SHIFT) - 1;
  return p;
}

// One pte of a batch: the checks and the grab of follow_page_pte(), nullptr to stop.
template <typename D>
page* follow_pte_more(vm_area_struct* vma, const PhysMem& mem, pgtable_slot* ptep, foll_flags flags) {
  pte_t pte = ptep_get(ptep);
  if (!pte_present(pte) || pte_special(pte)) return nullptr;
  page* p = mem.pfn_to_page(pte_pfn(pte));
  if (any(flags, FOLL_WRITE) && !can_follow_write_pte(pte, p, vma, flags)) return nullptr;
  if (gup_must_unshare(vma, flags, p)) return nullptr;
  folio* f = page_folio(p);
  if (try_grab_folio<D>(f, 1, flags)) return nullptr;
  if (any(flags, FOLL_TOUCH)) {
    if (any(flags, FOLL_WRITE) && !pte_dirty(pte)) set_pte(ptep, pte_mkyoung(pte_mkdirty(pte)));
    gup_touch(f, flags);
  }
  return p;
}

template <typename D>
page* follow_page_pte(vm_area_struct* vma, unsigned long address, pgtable_slot* pmdp, foll_flags flags,
                      follow_page_context* ctx) {
  mm_struct* mm = vma->vm_mm;
  PhysMem& mem = mm->machine->mem();
  SpinGuard g(&mm->page_table_lock);
  pmd_t pmd = pmdp_get(pmdp);
  if (!pmd_present(pmd) || pmd_leaf(pmd)) return kRewalk;
  pgtable_slot* ptep = pte_offset(mem, pmd, address);
  pte_t pte = ptep_get(ptep);
  if (!pte_present(pte)) return no_page_table(flags);
  page* p = mem.pfn_to_page(pte_pfn(pte));
  if (pte_special(pte) && !PageZero(p)) return ERR_PTR<page>(-EFAULT);  // no struct page to hand out
  if (any(flags, FOLL_WRITE) && !can_follow_write_pte(pte, p, vma, flags)) return nullptr;
  if (gup_must_unshare(vma, flags, p)) return ERR_PTR<page>(-EMLINK);
  folio* f = page_folio(p);
  if (any(flags, FOLL_GET | FOLL_PIN)) {
    int ret = try_grab_folio<D>(f, 1, flags);
    if (ret) return ERR_PTR<page>(ret);
  }
  if (any(flags, FOLL_TOUCH) && !PageZero(p)) {
    if (any(flags, FOLL_WRITE) && !pte_dirty(pte)) set_pte(ptep, pte_mkyoung(pte_mkdirty(pte)));
    gup_touch(f, flags);
  }
  if (ctx->max_more && !PageZero(p)) {
    // The rest of this table, as far as the caller wants.
    const unsigned long left_in_table = (PMD_SIZE - (address & ~PMD_MASK)) / PAGE_SIZE - 1;
    const unsigned long n = std::min(ctx->max_more, left_in_table);
    unsigned long k = 0;
    for (; k < n; k++) {
      page* q = follow_pte_more<D>(vma, mem, ptep + 1 + k, flags);
      if (!q) break;
      if (PageZero(q)) {  // never pin-accounted: leave it to a step of its own
        gup_put_folio<D>(page_folio(q), 1, flags);
        break;
      }
      ctx->more[k] = q;
    }
    ctx->nr_more = k;
  }
  return p;
}

/** follow_page_mask() - find and grab the page mapped at @address, or nullptr to fault. */
template <typename D>
page* follow_page_mask(vm_area_struct* vma, unsigned long address, foll_flags flags, follow_page_context* ctx) {
  mm_struct* mm = vma->vm_mm;
  PhysMem& mem = mm->machine->mem();
  ctx->page_mask = 0;
  for (;;) {
    pgd_t pgd = pgdp_get(pgd_offset_pfn(mem, mm->pgd_pfn, address));
    if (!pgd_present(pgd)) return no_page_table(flags);
    pgtable_slot* pudp = pud_offset(mem, pgd, address);
    pud_t pud = pudp_get(pudp);
    if (!pud_present(pud)) return no_page_table(flags);
    if (pud_leaf(pud)) {  // a 1 GiB hugetlb folio
      page* p = follow_huge_pud<D>(vma, address, pudp, flags, ctx);
      if (p == kRewalk) continue;
      return p;
    }
    pgtable_slot* pmdp = pmd_offset(mem, pud, address);
    pmd_t pmd = pmdp_get(pmdp);
    if (!pmd_present(pmd)) return no_page_table(flags);
    page* p = pmd_leaf(pmd) ? follow_huge_pmd<D>(vma, address, pmdp, flags, ctx)
                            : follow_page_pte<D>(vma, address, pmdp, flags, ctx);
    if (p == kRewalk) continue;
    return p;
  }
}

int vm_fault_to_errno(vm_fault_t ret, foll_flags flags) {
  if (any(ret, VM_FAULT_OOM)) return -ENOMEM;
  if (any(ret, VM_FAULT_HWPOISON)) return any(flags, FOLL_HWPOISON) ? -EHWPOISON : -EFAULT;
  if (any(ret, VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return -EFAULT;
  return 0;
}

/**
 * faultin_page() - fault in @address for GUP. Returns 0 (retry the walk), -EBUSY (the
 * fault dropped mmap_lock and *locked is now 0, or FOLL_NOWAIT would have to wait),
 * -EAGAIN (completed with mmap_lock dropped), or -errno.
 */
int faultin_page(vm_area_struct* vma, unsigned long address, foll_flags flags, bool unshare, int* locked)
    NO_THREAD_SAFETY_ANALYSIS /* the fault handler may release mmap_lock (VM_FAULT_RETRY) */ {
  fault_flag ff = FAULT_FLAG_NONE;
  if (any(flags, FOLL_WRITE)) ff |= FAULT_FLAG_WRITE;
  if (any(flags, FOLL_REMOTE)) ff |= FAULT_FLAG_REMOTE;
  // gup_retry off models a kernel before seed 001: GUP never lets a fault drop mmap_lock.
  if (any(flags, FOLL_UNLOCKABLE) && vma->vm_mm->machine->config().gup_retry)
    ff |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;
  if (any(flags, FOLL_INTERRUPTIBLE)) ff |= FAULT_FLAG_INTERRUPTIBLE;
  if (any(flags, FOLL_NOWAIT)) ff |= FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT;
  if (any(flags, FOLL_TRIED)) ff |= FAULT_FLAG_TRIED;
  if (unshare) ff |= FAULT_FLAG_UNSHARE;
  vm_fault_t ret = handle_mm_fault(vma, address, ff);
  if (any(ret, VM_FAULT_COMPLETED)) {
    // Handled, and mmap_lock was released on the way.
    BUG_ON(!locked);
    *locked = 0;
    return -EAGAIN;
  }
  if (any(ret, VM_FAULT_ERROR)) return vm_fault_to_errno(ret, flags);
  if (any(ret, VM_FAULT_RETRY)) {
    if (!any(ff, FAULT_FLAG_RETRY_NOWAIT)) {
      BUG_ON(!locked);  // a handler may only drop the lock when allowed to
      *locked = 0;
    }
    return -EBUSY;
  }
  return 0;
}

int check_vma_flags(const vm_area_struct* vma, foll_flags flags) {
  const vm_flags_t vf = vma->vm_flags;
  if (any(vf, VM_IO | VM_PFNMAP)) return -EFAULT;
  // writable_file_mapping_allowed(): a long-term writable pin of a page whose file needs
  // dirty tracking could be written behind writeback's back forever.
  if (all(flags, FOLL_LONGTERM | FOLL_WRITE) && any(vf, VM_SHARED) && vma->vm_file && !vma_is_shmem(vma) &&
      vma->vm_mm->machine->config().refuse_longterm_file_pins)
    return -EFAULT;
  // fs-DAX: the page is the disk block, and a long-term pin would keep truncate from
  // ever freeing it (seed 003's O3); upstream refuses. Under a policy that revokes pins
  // at truncate (MMU_NOTIFY_TRUNCATE) the pin is allowed and revoked there instead.
  if (any(flags, FOLL_LONGTERM) && vma_is_fsdax(vma) && !mm_machine(vma->vm_mm)->wb().truncate_revokes)
    return -EOPNOTSUPP;
  if (any(flags, FOLL_WRITE)) {
    if (!any(vf, VM_WRITE)) {
      if (!any(flags, FOLL_FORCE)) return -EFAULT;
      // FOLL_FORCE may write a private mapping (through a COW copy), never a shared one.
      if (!is_cow_mapping(vf)) return -EFAULT;
    }
  } else if (!any(vf, VM_READ)) {
    if (!any(flags, FOLL_FORCE)) return -EFAULT;
    if (!any(vf, VM_MAYREAD)) return -EFAULT;
  }
  return check_longterm_vma(vma, flags);  // fs-DAX; upstream's writable file pin rule
}

vm_area_struct* gup_vma_lookup(mm_struct* mm, unsigned long addr) REQUIRES_SHARED(mm->mmap_lock) {
  vm_area_struct* vma = find_vma(mm, addr);
  if (!vma || addr < vma->vm_start) return nullptr;
  return vma;
}

/**
 * FakeVmaCall - the fake vmas one __get_user_pages() pass links into rmap (design
 * fake_vma): one per vma it pins pages of, each dropped (building reference) at the end
 * of the pass; the pins accounted to them keep them linked.
 */
struct FakeVmaCall {
  std::vector<fake_vma*> made;
  fake_vma* cur = nullptr;
  FakeVmaCall() = default;
  FakeVmaCall(const FakeVmaCall&) = delete;
  FakeVmaCall& operator=(const FakeVmaCall&) = delete;
  ~FakeVmaCall() {
    for (fake_vma* fv : made) fake_vma_put(fv);
  }
};

/** __get_user_pages() - one pass with mmap_lock held; see __get_user_pages_locked(). */
template <typename D>
long __get_user_pages(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags flags, page** pages,
                      int* locked) NO_THREAD_SAFETY_ANALYSIS /* faults may drop mmap_lock */ {
  long i = 0;
  long ret = 0;
  long pinned = 0;
  vm_area_struct* vma = nullptr;
  page* first_pinned = nullptr;
  [[maybe_unused]] FakeVmaCall fake;
  start &= PAGE_MASK;
  while (nr_pages) {
    if (!vma || start >= vma->vm_end) {
      vma = gup_vma_lookup(mm, start);
      if (!vma) {
        ret = -EFAULT;
        break;
      }
      ret = check_vma_flags(vma, flags);
      if (ret) break;
      if constexpr (D::kPinIsMapping) {
        // Seed 003: the pin is a mapping; link it into rmap before taking any pin, so
        // an rmap walker that can see a pinned page can see its fake vma.
        if (any(flags, FOLL_PIN) && pages) {
          unsigned long end = start + (nr_pages << PAGE_SHIFT);
          if (end > vma->vm_end || end < start) end = vma->vm_end;
          fake.cur = fake_vma_insert(vma, start, end);
          if (!fake.cur) {
            ret = -ENOMEM;
            break;
          }
          fake.made.push_back(fake.cur);
        }
      }
    }
  retry:
    if (fatal_signal_pending(current())) {
      ret = -EINTR;
      break;
    }
    cond_resched();
    follow_page_context ctx;
    // Batch the ptes after this one (where the design may: fake_vma accounts per folio).
    if (D::kBatchesPtes && pages && nr_pages > 1 && any(flags, FOLL_GET | FOLL_PIN)) {
      ctx.more = pages + i + 1;
      ctx.max_more = std::min(nr_pages, (vma->vm_end - start) >> PAGE_SHIFT) - 1;
    }
    page* p = follow_page_mask<D>(vma, start, flags, &ctx);
    if (!p || p == ERR_PTR<page>(-EMLINK)) {
      ret = faultin_page(vma, start, flags, p != nullptr, locked);
      if (ret == 0) goto retry;
      if (ret == -EBUSY || ret == -EAGAIN) ret = 0;  // mmap_lock dropped (or NOWAIT): stop here
      break;
    }
    if (p == ERR_PTR<page>(-EAGAIN)) {
      // dma_count: the page is isolated by reclaim right now; its lru field is taken.
      sleep_ns(1000);
      goto retry;
    }
    if (IS_ERR(p)) {
      ret = PTR_ERR(p);
      break;
    }
    unsigned long increm = 1 + (~(start >> PAGE_SHIFT) & ctx.page_mask);
    if (increm > nr_pages) increm = nr_pages;
    if (pages) {
      folio* f = page_folio(p);
      if (increm > 1 && any(flags, FOLL_GET | FOLL_PIN)) {
        int r = try_grab_folio<D>(f, static_cast<int>(increm - 1), flags);
        if (r) {
          gup_put_folio<D>(f, 1, flags);
          ret = r;
          break;
        }
      }
      for (unsigned long j = 0; j < increm; j++) pages[i + static_cast<long>(j)] = p + j;
      increm += ctx.nr_more;  // already in pages[], grabbed, never the zero page
      if (any(flags, FOLL_PIN) && !is_zero_folio(f)) {
        pinned += static_cast<long>(increm);
        first_pinned = p;
        if constexpr (D::kPinIsMapping) fake_vma_account(fake.cur, p, static_cast<int>(increm));
      }
    } else if (any(flags, FOLL_GET | FOLL_PIN)) {
      gup_put_folio<D>(page_folio(p), 1, flags);
    }
    i += static_cast<long>(increm);
    start += increm << PAGE_SHIFT;
    nr_pages -= increm;
  }
  if (pinned) gup_count_pins(first_pinned, pinned);
  return i ? i : ret;
}

/**
 * gup_locked_loop() - __get_user_pages() passes until done, retrying each address
 * whose fault dropped mmap_lock (VM_FAULT_RETRY / VM_FAULT_COMPLETED) with FOLL_TRIED
 * after retaking the lock. Pages got before a drop stay in @pages and are counted.
 * Sets *@dropped once the lock has been dropped at least once; *@locked then says
 * whether the loop holds it again (it does unless retaking it failed).
 */
template <typename D>
long gup_locked_loop(mm_struct* mm, unsigned long start, unsigned long nr_pages, page** pages, int* locked,
                     foll_flags flags, bool* dropped) NO_THREAD_SAFETY_ANALYSIS /* the *locked protocol */ {
  long pages_done = 0;
  for (;;) {
    long ret = __get_user_pages<D>(mm, start, nr_pages, flags, pages, locked);
    if (!any(flags, FOLL_UNLOCKABLE)) return ret;
    if (!*locked) BUG_ON(ret < 0 || static_cast<unsigned long>(ret) >= nr_pages);
    if (ret > 0) {
      nr_pages -= static_cast<unsigned long>(ret);
      pages_done += ret;
      if (!nr_pages) return pages_done;
    }
    if (*locked) {  // no VM_FAULT_RETRY: an error, or FOLL_NOWAIT stopping short
      return pages_done ? pages_done : ret;
    }
    // The fault at this address dropped mmap_lock: retake it and retry that one page
    // with FOLL_TRIED; it may drop the lock again, in which case we go round.
    *dropped = true;
    if (pages) pages += ret;
    start += static_cast<unsigned long>(ret) << PAGE_SHIFT;
    for (;;) {
      if (fatal_signal_pending(current())) return pages_done ? pages_done : -EINTR;
      int r = mmap_read_lock_killable(mm);
      if (r) return pages_done ? pages_done : r;
      *locked = 1;
      ret = __get_user_pages<D>(mm, start, 1, flags | FOLL_TRIED, pages, locked);
      if (*locked) break;
      BUG_ON(ret != 0);
    }
    if (ret != 1) return pages_done ? pages_done : ret;
    nr_pages--;
    pages_done++;
    if (!nr_pages) return pages_done;
    if (pages) pages++;
    start += PAGE_SIZE;
  }
}

}  // namespace

void gup_count_pins(const page* p, long nr) { page_machine(p)->vmstat().mod(NR_FOLL_PIN_ACQUIRED, nr); }

int gup_prepare_flags(foll_flags* flags, foll_flags to_set, page** pages, const int* locked) {
  if (WARN_ON_ONCE(any(*flags, kInternalFlags))) return -EINVAL;
  foll_flags f = *flags | to_set;
  if (locked) {
    if (WARN_ON_ONCE(*locked != 1)) return -EINVAL;  // the caller holds mmap_lock and says so
    f |= FOLL_UNLOCKABLE;
  }
  if (pages && !any(f, FOLL_PIN)) f |= FOLL_GET;
  if (int r = check_foll_flags(f)) return r;
  if (WARN_ON_ONCE(any(f, FOLL_PIN) && !pages)) return -EINVAL;  // a pin nobody can release
  *flags = f;
  return 0;
}

foll_flags gup_design_flags(const mm_struct* mm, foll_flags flags) {
  if (!any(flags, FOLL_GET) || !pin_design_props(mm->machine->pin_design()).get_is_pin) return flags;
  return (flags & ~FOLL_GET) | FOLL_PIN;
}

namespace {

/** gup_locked_once() - __get_user_pages_locked() without the FOLL_LONGTERM migration loop. */
long gup_locked_once(mm_struct* mm, unsigned long start, unsigned long nr_pages, page** pages, int* locked,
                     foll_flags flags) NO_THREAD_SAFETY_ANALYSIS {
  const char* const what = any(flags, FOLL_PIN) ? "pin_user_pages" : "get_user_pages";
  flags = gup_design_flags(mm, flags);
  if (start & ~PAGE_MASK) return -EINVAL;
  if (nr_pages > (TASK_SIZE >> PAGE_SHIFT) || start + (nr_pages << PAGE_SHIFT) > TASK_SIZE) return -EFAULT;
  bool must_unlock = false;
  if (locked && !*locked) {
    if (mmap_read_lock_killable(mm)) return -EAGAIN;
    must_unlock = true;
    *locked = 1;
  } else {
    mmap_assert_locked(mm);
  }
  if (any(flags, FOLL_PIN)) mm->has_pinned.store(true, std::memory_order_relaxed);
  bool dropped = false;
  long ret = pin_dispatch(mm->machine->pin_design(), [&](auto d) {
    return gup_locked_loop<decltype(d)>(mm, start, nr_pages, pages, locked, flags, &dropped);
  });
  // Seed 001: once the lock was dropped, whatever the caller looked up under it (vmas)
  // may be stale; release the lock we retook and say so with *locked == 0.
  if ((must_unlock || dropped) && *locked) {
    mmap_read_unlock(mm);
    *locked = 0;
  }
  trace_point(mm->machine, "pin", what,
              "start={:#x} nr={} ret={} pfn={:#x}{}", start, nr_pages, ret,
              ret > 0 && pages ? page_to_pfn(pages[0]) : 0ul, any(flags, FOLL_LONGTERM) ? " longterm" : "");
  return ret;
}

constexpr int kMaxLongtermPasses = 16;  // a page that never leaves ZONE_MOVABLE fails the pin

}  // namespace

long __get_user_pages_locked(mm_struct* mm, unsigned long start, unsigned long nr_pages, page** pages,
                             int* locked, foll_flags flags) {
  if (nr_pages == 0) return 0;
  if (!any(flags, FOLL_LONGTERM) || !pages || !longterm_rules_upstream(mm))
    return gup_locked_once(mm, start, nr_pages, pages, locked, flags);
  // Upstream's __gup_longterm_locked(): pin, move out what a long-term pin may not hold
  // (the pins released meanwhile), pin again.
  flags = gup_design_flags(mm, flags);
  for (int pass = 0;; pass++) {
    const long ret = gup_locked_once(mm, start, nr_pages, pages, locked, flags);
    if (ret <= 0) return ret;
    const int r = check_and_migrate_movable_pages(static_cast<unsigned long>(ret), pages, flags);
    if (r == 0) return ret;
    if (r != -EAGAIN) return r;
    if (pass + 1 >= kMaxLongtermPasses) return -ENOMEM;
  }
}

// ---- entry points ------------------------------------------------------------------------

namespace {
mm_struct* current_mm() {
  task_struct* t = current();
  return t ? t->mm : nullptr;
}
}  // namespace

long get_user_pages(unsigned long start, unsigned long nr_pages, foll_flags flags, page** pages) {
  mm_struct* mm = current_mm();
  if (!mm) return -EFAULT;
  mmap_assert_locked(mm);  // REQUIRES (gup.h), checked in every build
  if (int r = gup_prepare_flags(&flags, FOLL_TOUCH, pages, nullptr)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, nullptr, flags);
}

long get_user_pages_locked(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags flags,
                           page** pages, int* locked) {
  if (WARN_ON_ONCE(!locked || *locked != 1)) return -EINVAL;
  if (int r = gup_prepare_flags(&flags, FOLL_TOUCH, pages, locked)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, locked, flags);
}

long get_user_pages_unlocked(unsigned long start, unsigned long nr_pages, page** pages, foll_flags flags) {
  mm_struct* mm = current_mm();
  if (!mm) return -EFAULT;
  int locked = 0;  // taken and released by __get_user_pages_locked()
  if (int r = gup_prepare_flags(&flags, FOLL_TOUCH | FOLL_UNLOCKABLE, pages, nullptr)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, &locked, flags);
}

long get_user_pages_remote(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags flags,
                           page** pages, int* locked) {
  if (!mm) return -EFAULT;
  if (int r = gup_prepare_flags(&flags, FOLL_TOUCH | FOLL_REMOTE, pages, locked)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, locked, flags);
}

long pin_user_pages(unsigned long start, unsigned long nr_pages, foll_flags flags, page** pages) {
  mm_struct* mm = current_mm();
  if (!mm) return -EFAULT;
  if (int r = gup_prepare_flags(&flags, FOLL_PIN, pages, nullptr)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, nullptr, flags);
}

long pin_user_pages_remote(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags flags,
                           page** pages, int* locked) {
  if (!mm) return -EFAULT;
  if (int r = gup_prepare_flags(&flags, FOLL_PIN | FOLL_TOUCH | FOLL_REMOTE, pages, locked)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, locked, flags);
}

long pin_user_pages_unlocked(unsigned long start, unsigned long nr_pages, page** pages, foll_flags flags) {
  mm_struct* mm = current_mm();
  if (!mm) return -EFAULT;
  int locked = 0;  // taken and released by __get_user_pages_locked()
  if (int r = gup_prepare_flags(&flags, FOLL_PIN | FOLL_TOUCH | FOLL_UNLOCKABLE, pages, nullptr)) return r;
  return __get_user_pages_locked(mm, start, nr_pages, pages, &locked, flags);
}

}  // namespace guplab
