// pin.cc - the out-of-line parts of the pin designs (folio_pincount's large folios,
// seed 002's dma_pinned_count), waking page_mkclean() sleepers, and the questions
// (folio_maybe_dma_pinned(), check_foll_flags()). Releasing page arrays: mm/unpin.cc.
#include "mm/pin.h"

#include <fmt/format.h>

#include "base/bug.h"
#include "base/spinlock.h"
#include "machine/machine.h"
#include "mm/hugetlb.h"
#include "mm/memremap.h"
#include "mm/lru.h"
#include "mm/memory_model.h"
#include "mm/page_alloc.h"

namespace guplab {

namespace pin_detail {
void overflow_warn(folio* f) {
  page_machine(f)->vmstat().inc(GUP_PIN_OVERFLOW);
  warn_hit(__FILE__, __LINE__, __func__, "get_user_pages pin count overflowed", true,
           fmt::format("pfn {:#x} refcount {}", page_to_pfn(f), page_ref_count(f)));
}
void unpin_refused(folio* f, int refs) {
  warn_hit(__FILE__, __LINE__, __func__, "page_ref_count(f) < refs * GUP_PIN_COUNTING_BIAS", true,
           fmt::format("pfn {:#x} refcount {} unpin of {} pins", page_to_pfn(f), page_ref_count(f), refs));
}
}  // namespace pin_detail

// ---- folio_pincount -------------------------------------------------------------------

void PinFolioCount::unpin_large(folio* f, int refs) {
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
    // A hugetlb folio is never on an LRU (nor isolated from one): pinned where it is.
    const bool was_lru = lruvec_del_folio_if_lru(f);
    if (!was_lru && !folio_test_hugetlb(f) && !folio_is_zone_device(f)) return -EAGAIN;  // nor a pmem frame
    set_dma_pinned_flags(f, was_lru ? DMA_PINNED_WAS_LRU : 0);
    f->dma_pinned_count = 0;
    SetPageDmaPinned(f);
  }
  f->dma_pinned_count += static_cast<uintptr_t>(refs);
  return 0;
}
}  // namespace

int PinDmaCount::grab_locked(folio* f, int refs) {
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

int PinDmaCount::grab_fast_locked(folio* f, int refs) {
  int ret = pin_detail::ref_try_add(f, refs);
  if (ret <= 0) return ret;
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

void PinDmaCount::unpin_locked(folio* f, int refs) {
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

bool PinDmaCount::pinned_now(folio* f) {
  SpinGuard g(&page_zone(f)->gup_lock);
  return PageDmaPinned(f);
}

unsigned long PinDmaCount::count(const folio* f) {
  zone* z = page_zone(f);
  SpinGuard g(&z->gup_lock);
  return PageDmaPinned(f) ? f->dma_pinned_count : 0;
}

// ---- designs registered out of tree ------------------------------------------------------

const PinDesignHooks& PinRegistered::hooks(const folio* f) {
  const RegisteredPinDesign* r = find_registered_pin_design(page_machine(f)->pin_design());
  BUG_ON(!r);
  return r->hooks;
}

// ---- waiting for pins to go ----------------------------------------------------------

wait_queue_head_t* folio_pin_waitqueue(const folio* f) {
  return page_machine(f)->bit_wait_table()->lookup(&f->flags, PG_dma_pinned);
}

// The unpinner's last RMW on the pin count and the sleeper's SetPagePinWaiters() are
// both seq_cst, and each side then looks at the other's word: either the unpinner sees
// the bit, or the sleeper sees the folio unpinned. Without a sleeper the unpin never
// touches the (shared, hashed) wait queue.
void __folio_wake_unpinned(folio* f) {
  if (TestClearPagePinWaiters(f)) wake_up_all(folio_pin_waitqueue(f));
}

// ---- asking ------------------------------------------------------------------------------

bool folio_maybe_dma_pinned(folio* f) {
  return pin_dispatch(page_machine(f)->pin_design(), [&](auto d) { return decltype(d)::maybe_dma_pinned(f); });
}

bool page_maybe_dma_pinned(page* p) { return folio_maybe_dma_pinned(page_folio(p)); }

bool folio_pinned_now(folio* f) {
  return pin_dispatch(page_machine(f)->pin_design(), [&](auto d) { return decltype(d)::pinned_now(f); });
}

PinDesignProps pin_design_props(PinDesign d) {
  PinDesignProps props = pin_dispatch(d, [](auto design) { return pin_design_props_of<decltype(design)>(); });
  if (const RegisteredPinDesign* r = find_registered_pin_design(d)) props.has_fast_path = r->hooks.has_fast_path;
  return props;
}

int check_foll_flags(foll_flags f) {
  if (WARN_ON_ONCE(all(f, FOLL_GET | FOLL_PIN))) return -EINVAL;
  if (WARN_ON_ONCE(any(f, FOLL_LONGTERM) && !any(f, FOLL_PIN))) return -EINVAL;
  return 0;
}

}  // namespace guplab
