// unpin.cc - releasing FOLL_PIN pins: unpin_user_page(s)(_dirty_lock),
// unpin_user_page_range_dirty_lock(), unpin_folio(), and seed 000's put_user_pages_dirty().
//
// A page array is released in runs: consecutive entries that are pages of one folio
// (upstream's gup_folio_next()) are released together, with one call of the design's
// unpin() for the run, so a 2 MiB folio pinned as 512 pages costs one atomic, not 512.
// Whether an entry belongs to the run's folio is decided by its address against the
// folio's range in mem_map, without reading the entry's struct page: a tail page's line
// is never touched. That is exact: a large folio is never split (mm/huge_memory.h), and
// the pins being released keep it from being freed, so its range cannot change.
//
// What a run costs under each design (see mm/pin.h):
//   get             one atomic: the references off _refcount
//   bias            one atomic: run * GUP_PIN_COUNTING_BIAS off _refcount
//   folio_pincount  small folio as bias; large folio two atomics: _pincount, _refcount
//   dma_count       seed 002 counts each page pinned: run off dma_pinned_count under the
//                   zone's gup_lock (one lock round trip), back on the LRU at zero, then
//                   one atomic off _refcount
//   fake_vma        run fake mappings and references off, the fake vmas that made the
//                   pins dropped (sleeping locks), in one pass
// and then one flag test for page_mkclean() sleepers. NR_FOLL_PIN_RELEASED is counted
// once per call, exactly.
//
// The design and the scheduling-point policy (base/sched.h) are resolved once per call;
// the per-entry loop calls no function through a pointer and makes no vmstat update.
//
// Threading: any task, including completion tasks; see mm/gup.h.
#include <algorithm>
#include <climits>

#include "machine/trace_point.h"
#include "base/bug.h"
#include "base/prefetch.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/memory_model.h"
#include "mm/pagemap.h"
#include "mm/pin.h"

namespace guplab {

namespace {

// How many entries ahead the loop asks for an entry's struct page (see prefetchw()):
// far enough to cover a memory miss at the per-page cost of a run of one.
constexpr unsigned long kPrefetchAhead = 16;
// The longest run released at once: run * GUP_PIN_COUNTING_BIAS must fit in an int.
constexpr unsigned long kMaxRun = INT_MAX / GUP_PIN_COUNTING_BIAS;
// log2(sizeof(page)): an entry is in a folio of order o iff (entry - folio) >> (o + this) == 0.
constexpr unsigned kPageShift = 6;
static_assert(sizeof(page) == 1u << kPageShift);

/** What to do to each folio before its pins go. */
enum class Dirty { kNone, kLocked /* set_page_dirty_lock() */, kUnlocked /* set_page_dirty() */ };

/**
 * in_folio() - is the entry @p a page of the folio whose mem_map range starts at @base
 * and is 2^@shift bytes long? Entry arithmetic only; nothing is read through @p.
 */
inline bool in_folio(const page* p, uintptr_t base, unsigned shift) {
  return ((reinterpret_cast<uintptr_t>(p) - base) >> shift) == 0;
}

/**
 * folio_run_end() - the first index from @i (at most @end) whose entry is not a page of
 * the folio at @base (2^@shift bytes of mem_map). A null entry ends a run too.
 */
unsigned long folio_run_end(page* const* pages, unsigned long i, unsigned long end, uintptr_t base, unsigned shift) {
  // The next entry first: with 4 KiB pages every run ends here.
  if (i >= end || !in_folio(pages[i], base, shift)) return i;
  i++;
  // Eight at a time without branches (the compiler vectorizes this), then one at a time.
  while (i + 8 <= end) {
    uintptr_t outside = 0;
    for (unsigned k = 0; k < 8; k++) outside |= (reinterpret_cast<uintptr_t>(pages[i + k]) - base) >> shift;
    if (outside) break;
    i += 8;
  }
  while (i < end && in_folio(pages[i], base, shift)) i++;
  return i;
}

/**
 * release_run() - release @nr pins of @f under design D, with what the writeback policy
 * and the caller want around it: the caller's dirtying, keep_dirty re-dirtying a file
 * page (what the device wrote must reach the disk), and sleepers in page_mkclean()
 * woken once the folio is no longer pinned.
 * REQUIRES: @f is not the zero page; 0 < @nr <= kMaxRun.
 */
template <typename D, typename S>
inline void release_run(folio* f, int nr, Dirty dirty, bool keep_dirty) {
  if (unlikely(dirty != Dirty::kNone)) {
    if (dirty == Dirty::kUnlocked) {
      folio_mark_dirty(f);
    } else if (!PageDirty<S>(f)) {
      folio_lock(f);
      folio_mark_dirty(f);
      folio_unlock(f);
    }
  }
  if constexpr (!D::kTracksPins) {
    D::template unpin<S>(f, nr);
  } else {
    if (unlikely(keep_dirty) && !PageAnon(f) && page_mapping(f)) folio_mark_dirty(f);
    D::template unpin<S>(f, nr);
    if constexpr (!D::kWakesOnUnpin) {  // e.g. fake_vma_unpin() wakes sleepers itself
      if (!D::template maybe_dma_pinned<S>(f)) folio_wake_unpinned<S>(f);
    }
  }
}

/**
 * unpin_runs() - release the entries of @pages[0, @npages) in folio runs, under design D
 * of machine @m, as far as they are non-null pages of @m. Returns how many entries it
 * consumed (the caller deals with a null entry or another machine's page there) and
 * adds the pins it released to *@released.
 */
template <typename D, typename S>
unsigned long unpin_runs(Machine* m, page* const* pages, unsigned long npages, Dirty dirty, long* released) {
  const bool keep_dirty = D::kTracksPins && m->wb().unpin_redirties;
  for (unsigned long k = 0; k < npages && k < kPrefetchAhead; k++) prefetchw(pages[k]);
  long nr_released = 0;
  unsigned long i = 0;
  while (i < npages) {
    page* p = pages[i];
    if (unlikely(!p || page_machine(p) != m)) break;
    if (i + kPrefetchAhead < npages) prefetchw(pages[i + kPrefetchAhead]);
    folio* f = page_folio(p);
    const unsigned shift = kPageShift + (folio_test_large<S>(f) ? folio_order(f) : 0);
    const unsigned long end = folio_run_end(pages, i + 1, std::min(npages, i + kMaxRun),
                                            reinterpret_cast<uintptr_t>(f), shift);
    const int nr = static_cast<int>(end - i);
    if (!PageZero<S>(f)) {  // never pin-accounted
      release_run<D, S>(f, nr, dirty, keep_dirty);
      nr_released += nr;
    }
    i = end;
  }
  *released += nr_released;
  return i;
}

void unpin_pages(page* const* pages, unsigned long npages, Dirty dirty) {
  if (npages == 0 || !pages) return;
  unsigned long i = 0;
  while (i < npages) {
    if (WARN_ON_ONCE(!pages[i])) {
      i++;
      continue;
    }
    Machine* m = page_machine(pages[i]);
    long released = 0;
    i += sched_dispatch([&](auto s) {
      return pin_dispatch(m->pin_design(), [&](auto d) {
        return unpin_runs<decltype(d), decltype(s)>(m, pages + i, npages - i, dirty, &released);
      });
    });
    m->vmstat().mod(NR_FOLL_PIN_RELEASED, released);
    trace_point(m, "pin", "unpin_user_pages", "nr={} pfn={:#x}{}", released, page_to_pfn(pages[0]),
                dirty == Dirty::kNone ? "" : " dirty");
  }
}

/** unpin_range() - @npages consecutive struct pages from @p, folio by folio. */
void unpin_range(page* p, unsigned long npages, Dirty dirty) {
  while (npages) {
    folio* f = page_folio(p);
    Machine* m = page_machine(f);
    const unsigned long in_folio = folio_nr_pages(f) - static_cast<unsigned long>(p - static_cast<page*>(f));
    const unsigned long nr = std::min({npages, in_folio, kMaxRun});
    if (!is_zero_folio(f)) {
      const bool keep_dirty = m->wb().unpin_redirties;
      pin_dispatch(m->pin_design(), [&](auto d) {
        release_run<decltype(d), SchedCheck>(f, static_cast<int>(nr), dirty, keep_dirty);
      });
      m->vmstat().mod(NR_FOLL_PIN_RELEASED, static_cast<int64_t>(nr));
      trace_point(m, "pin", "unpin_user_page_range", "nr={} pfn={:#x}{}", nr, page_to_pfn(p),
                  dirty == Dirty::kNone ? "" : " dirty");
    }
    p += nr;
    npages -= nr;
  }
}

}  // namespace

void unpin_folio(folio* f) { unpin_range(f, 1, Dirty::kNone); }

void unpin_user_page(page* p) {
  if (WARN_ON_ONCE(!p)) return;
  unpin_folio(page_folio(p));
}

void unpin_user_pages(page** pages, unsigned long npages) { unpin_pages(pages, npages, Dirty::kNone); }

void unpin_user_pages_dirty_lock(page** pages, unsigned long npages, bool make_dirty) {
  unpin_pages(pages, npages, make_dirty ? Dirty::kLocked : Dirty::kNone);
}

void unpin_user_page_range_dirty_lock(page* p, unsigned long npages, bool make_dirty) {
  unpin_range(p, npages, make_dirty ? Dirty::kLocked : Dirty::kNone);
}

void put_user_pages_dirty(page** pages, unsigned long npages) { unpin_pages(pages, npages, Dirty::kUnlocked); }

}  // namespace guplab
