// pin.cc - releasing pins, seed 002's dma_pinned_count, and the public unpin API.
#include "mm/pin.h"

#include <fmt/format.h>

#include "base/bug.h"
#include "base/spinlock.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/lru.h"
#include "mm/memory_model.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"

namespace guplab {

namespace pin_detail {
void overflow_warn(folio* f) {
  page_machine(f)->vmstat().inc(GUP_PIN_OVERFLOW);
  warn_hit(__FILE__, __LINE__, __func__, "get_user_pages pin count overflowed", true,
           fmt::format("pfn {:#x} refcount {}", page_to_pfn(f), page_ref_count(f)));
}
}  // namespace pin_detail

// ---- bias / folio_pincount -----------------------------------------------------------

void PinBias::unpin(folio* f, int refs) {
  const int sub = refs * GUP_PIN_COUNTING_BIAS;
  if (WARN_ON_ONCE(page_ref_count(f) < sub)) return;  // not pinned: refuse, don't corrupt
  folio_put_refs(f, sub);
}

void PinFolioCount::unpin(folio* f, int refs) {
  if (!folio_test_large(f)) return PinBias::unpin(f, refs);
  sched_point(SchedPoint::kAtomicWrite, f);
  std::atomic_ref<int> pc = pin_detail::pincount_ref(f);
  int c = pc.load(std::memory_order_relaxed);
  do {
    if (WARN_ON_ONCE(c < refs)) return;
  } while (!pc.compare_exchange_weak(c, c - refs, std::memory_order_seq_cst));
  folio_put_refs(f, refs);
}

// ---- dma_count (seed 002) -------------------------------------------------------------
//
// While pinned, the page is off its LRU and its lru field holds dma_pinned_flags and
// dma_pinned_count. The zone's gup_lock serializes the count with page_mkclean() and
// try_to_unmap(), which look at PageDmaPinned under the same lock. A page that is off
// the LRU without being pinned has been isolated by someone (reclaim) who is using its
// lru field: it cannot be pinned until it is back, so the grab reports -EAGAIN and the
// slow path retries.

namespace {
// dma_pinned_flags shares its word with compound_head, which page_folio() reads without
// any lock (bit 0 clear: "not a tail page"): written and read as an atomic word.
inline void set_dma_pinned_flags(folio* f, uintptr_t v) { __atomic_store_n(&f->dma_pinned_flags, v, __ATOMIC_RELAXED); }
inline uintptr_t dma_pinned_flags(const folio* f) { return __atomic_load_n(&f->dma_pinned_flags, __ATOMIC_RELAXED); }

int dma_pin_locked(zone* z, folio* f, int refs) REQUIRES(z->gup_lock) {
  if (!PageDmaPinned(f)) {
    if (!lruvec_del_folio_if_lru(f)) return -EAGAIN;
    set_dma_pinned_flags(f, DMA_PINNED_WAS_LRU);
    f->dma_pinned_count = 0;
    SetPageDmaPinned(f);
  }
  f->dma_pinned_count += static_cast<uintptr_t>(refs);
  return 0;
}
}  // namespace

int PinDmaCount::grab(folio* f, int refs) {
  int ret = pin_detail::ref_add_checked(f, refs);
  if (ret == -EOVERFLOW) pin_detail::overflow_warn(f);
  if (ret) return ret;
  zone* z = page_zone(f);
  {
    SpinGuard g(&z->gup_lock);
    ret = dma_pin_locked(z, f, refs);
  }
  if (ret) folio_put_refs(f, refs);
  return ret;
}

int PinDmaCount::grab_fast(folio* f, int refs) {
  bool got;
  int ret = pin_detail::ref_add_unless_zero_checked(f, refs, &got);
  if (ret || !got) return ret ? ret : 0;
  zone* z = page_zone(f);
  {
    SpinGuard g(&z->gup_lock);
    ret = dma_pin_locked(z, f, refs);
  }
  if (ret) {
    folio_put_refs(f, refs);
    return 0;  // isolated right now: let the slow path wait for it
  }
  return 1;
}

void PinDmaCount::unpin(folio* f, int refs) {
  zone* z = page_zone(f);
  {
    SpinGuard g(&z->gup_lock);
    if (WARN_ON_ONCE(!PageDmaPinned(f) || f->dma_pinned_count < static_cast<uintptr_t>(refs))) return;
    f->dma_pinned_count -= static_cast<uintptr_t>(refs);
    if (f->dma_pinned_count == 0) {
      const bool was_lru = dma_pinned_flags(f) & DMA_PINNED_WAS_LRU;
      set_dma_pinned_flags(f, 0);
      ClearPageDmaPinned(f);
      if (was_lru) folio_add_lru(f);
    }
  }
  folio_put_refs(f, refs);
}

unsigned long PinDmaCount::count(const folio* f) {
  zone* z = page_zone(f);
  SpinGuard g(&z->gup_lock);
  return PageDmaPinned(f) ? f->dma_pinned_count : 0;
}

// ---- waiting for pins to go ----------------------------------------------------------

wait_queue_head_t* folio_pin_waitqueue(const folio* f) {
  return page_machine(f)->bit_wait_table()->lookup(&f->flags, PG_dma_pinned);
}

// The unpinner's last RMW on the pin count and the sleeper's SetPagePinWaiters() are
// both seq_cst, and each side then looks at the other's word: either the unpinner sees
// the bit, or the sleeper sees the folio unpinned. Without a sleeper the unpin never
// touches the (shared, hashed) wait queue.
void folio_wake_unpinned(folio* f) {
  if (PagePinWaiters(f) && TestClearPagePinWaiters(f)) wake_up_all(folio_pin_waitqueue(f));
}

// ---- public API ------------------------------------------------------------------------

namespace {
// Release @nr pins of @f under design D, with what the writeback policy wants around it:
// keep_dirty re-dirties a file page (what the device wrote must reach the disk), and
// sleepers in page_mkclean() are woken once the page is no longer pinned.
template <typename D>
void release_pins(Machine* m, folio* f, int nr) {
  if constexpr (D::kDesign == PinDesign::get) {
    D::unpin(f, nr);
  } else {
    if (wb_effective_policy(m) == WritebackPolicy::keep_dirty && !PageAnon(f) && page_mapping(f))
      folio_mark_dirty(f);
    D::unpin(f, nr);
    if constexpr (D::kDesign != PinDesign::fake_vma) {  // fake_vma_unpin() wakes itself
      if (!D::maybe_dma_pinned(f)) folio_wake_unpinned(f);
    }
  }
}

// Walk @pages in runs of the same folio, calling @fn(folio, nr) once per run.
template <typename Fn>
void for_each_folio_run(page** pages, unsigned long npages, Fn&& fn) {
  unsigned long i = 0;
  while (i < npages) {
    if (WARN_ON_ONCE(!pages[i])) {
      i++;
      continue;
    }
    folio* f = page_folio(pages[i]);
    unsigned long j = i + 1;
    while (j < npages && pages[j] && page_folio(pages[j]) == f) j++;
    fn(f, static_cast<int>(j - i));
    i = j;
  }
}

void mark_dirty_locked(folio* f) {
  if (PageDirty(f)) return;
  folio_lock(f);
  folio_mark_dirty(f);
  folio_unlock(f);
}
}  // namespace

void unpin_folio(folio* f) {
  if (is_zero_folio(f)) return;
  Machine* m = page_machine(f);
  pin_dispatch(m->pin_design(), [&](auto d) { release_pins<decltype(d)>(m, f, 1); });
  m->vmstat().inc(NR_FOLL_PIN_RELEASED);
}

void unpin_user_page(page* p) {
  if (WARN_ON_ONCE(!p)) return;
  unpin_folio(page_folio(p));
}

void unpin_user_pages(page** pages, unsigned long npages) {
  if (npages == 0 || !pages) return;
  Machine* m = nullptr;
  for (unsigned long i = 0; i < npages && !m; i++)
    if (pages[i]) m = page_machine(pages[i]);
  if (!m) return;
  long released = 0;
  pin_dispatch(m->pin_design(), [&](auto d) {
    using D = decltype(d);
    for_each_folio_run(pages, npages, [&](folio* f, int nr) {
      if (is_zero_folio(f)) return;
      release_pins<D>(m, f, nr);
      released += nr;
    });
  });
  m->vmstat().mod(NR_FOLL_PIN_RELEASED, released);
}

void unpin_user_pages_dirty_lock(page** pages, unsigned long npages, bool make_dirty) {
  if (!make_dirty) return unpin_user_pages(pages, npages);
  for_each_folio_run(pages, npages, [&](folio* f, int nr) {
    if (is_zero_folio(f)) return;
    mark_dirty_locked(f);
    Machine* m = page_machine(f);
    pin_dispatch(m->pin_design(), [&](auto d) { release_pins<decltype(d)>(m, f, nr); });
    m->vmstat().mod(NR_FOLL_PIN_RELEASED, nr);
  });
}

void unpin_user_page_range_dirty_lock(page* p, unsigned long npages, bool make_dirty) {
  while (npages) {
    folio* f = page_folio(p);
    const unsigned long in_folio = folio_nr_pages(f) - static_cast<unsigned long>(p - static_cast<page*>(f));
    const unsigned long nr = std::min(npages, in_folio);
    if (!is_zero_folio(f)) {
      if (make_dirty) mark_dirty_locked(f);
      Machine* m = page_machine(f);
      pin_dispatch(m->pin_design(), [&](auto d) { release_pins<decltype(d)>(m, f, static_cast<int>(nr)); });
      m->vmstat().mod(NR_FOLL_PIN_RELEASED, static_cast<int64_t>(nr));
    }
    p += nr;
    npages -= nr;
  }
}

void put_user_pages_dirty(page** pages, unsigned long npages) {
  for (unsigned long i = 0; i < npages; i++)
    if (pages[i]) set_page_dirty(pages[i]);
  unpin_user_pages(pages, npages);
}

bool folio_maybe_dma_pinned(folio* f) {
  return pin_dispatch(page_machine(f)->pin_design(), [&](auto d) { return decltype(d)::maybe_dma_pinned(f); });
}

bool page_maybe_dma_pinned(page* p) { return folio_maybe_dma_pinned(page_folio(p)); }

int check_foll_flags(foll_flags f) {
  if (WARN_ON_ONCE(all(f, FOLL_GET | FOLL_PIN))) return -EINVAL;
  if (WARN_ON_ONCE(any(f, FOLL_LONGTERM) && !any(f, FOLL_PIN))) return -EINVAL;
  return 0;
}

}  // namespace guplab
