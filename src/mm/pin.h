// pin.h - the pin-tracking designs (DESIGN decision 5), one type per design.
//
// A design says how a FOLL_PIN pin is recorded on a folio, how it is released, and how
// page_maybe_dma_pinned() answers. GUP code is templated on the design type and
// dispatches once per call (pin_dispatch()), so the per-page loop has no switch.
// What a design type must provide, and the properties shared code asks instead of
// asking which design it runs under: mm/pin_design.h (the PinDesignType concept). The
// list of designs: GUPLAB_PIN_DESIGNS in machine/config.h.
//
//   PinGet          plain references; nothing tracked (the pre-2019 kernel)
//   PinBias         seed 000: GUP_PIN_COUNTING_BIAS added to _refcount per pin
//   PinDmaCount     seed 002: dma_pinned_count in the lru field, PG_dma_pinned, the
//                   page off its LRU while pinned, all under the zone's gup_lock
//   PinFakeVma      seed 003: a pin is a fake mapping in rmap (mm/fake_vma.h), counted
//                   in page->lab_private; no GUP-fast (the fake vma needs sleeping locks)
//   PinFolioCount   upstream: bias for small folios, exact _pincount for large ones
//   PinBiasAll      seed 000 as posted: PinBias, and every get_user_pages*() is a pin
//                   (no FOLL_GET/FOLL_PIN split; release with put_user_page())
//   PinRegistered   every design registered out of tree (machine/registry.h): its hooks
//                   call through the registered table of the folio's machine's design
//
// Every grab is of @refs pins on a folio (a huge mapping pins its head once for all the
// subpages it returns). Grabs return 0 or a negative errno; the *_fast form may be
// called on a folio that is being freed concurrently (GUP-fast) and fails cleanly then.
// The zero page is never pin-accounted (upstream's rule): pins on it are no-ops.
//
// Threading: any task. Pin state is atomic or under zone->gup_lock (PinDmaCount).
#pragma once
#include <atomic>
#include <climits>

#include "machine/config.h"
#include "machine/registry.h"
#include "base/wait.h"
#include "mm/fake_vma.h"
#include "mm/gup.h"
#include "mm/mm_types.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"
#include "mm/pin_design.h"
#include "mm/swap.h"

namespace guplab {

/** seed 000: a pin adds this much to _refcount. */
inline constexpr int GUP_PIN_COUNTING_BIAS = 1 << 10;

/** Bits of dma_pinned_flags (seed 002 keeps bit 0 clear: it would read as PageTail). */
inline constexpr uintptr_t DMA_PINNED_WAS_LRU = 1u << 1;

namespace pin_detail {
/**
 * ref_try_add() - add @add to _refcount unless it is zero (the folio is being freed):
 * 1 added, 0 it was zero, -EOVERFLOW (nothing changed) if the count would overflow.
 * One scheduling point, then a plain compare-and-swap loop: this is the per-page cost
 * of every speculative pin, so it must cost what the kernel's page_ref_add_unless()
 * costs. S: the scheduling-point policy (base/sched.h).
 */
template <typename S = SchedCheck>
inline int ref_try_add(folio* f, int add) {
  S::point(SchedPoint::kAtomicWrite, &f->_refcount);
  std::atomic<int>& rc = f->_refcount.counter;
  int c = rc.load(std::memory_order_relaxed);
  do {
    if (unlikely(c == 0)) return 0;
    if (unlikely(c > INT_MAX - add)) return -EOVERFLOW;
  } while (unlikely(!rc.compare_exchange_weak(c, c + add, std::memory_order_seq_cst, std::memory_order_relaxed)));
  return 1;
}
/** ref_add_checked() - as ref_try_add() for a folio the caller keeps alive: 0 or -errno. */
template <typename S = SchedCheck>
inline int ref_add_checked(folio* f, int add) {
  const int ret = ref_try_add<S>(f, add);
  if (ret == 0) return -EFAULT;  // REQUIRES was violated: the folio is being freed
  return ret < 0 ? ret : 0;
}
inline std::atomic_ref<int> pincount_ref(folio* f) { return std::atomic_ref<int>(folio_page(f, 1)->_pincount); }
inline int folio_pincount_read(const folio* f) {
  return std::atomic_ref<int>(const_cast<page*>(folio_page(const_cast<folio*>(f), 1))->_pincount).load(std::memory_order_relaxed);
}
void overflow_warn(folio* f);
/** unpin_refused() - WARN (once per machine) for an unpin of a folio with fewer pins. */
void unpin_refused(folio* f, int refs);
}  // namespace pin_detail

// Every design below: grab() for a GUP holding the page-table lock (0 or -errno);
// grab_fast() for GUP-fast (1 got, 0 lost a race or cannot here: fall back, <0 errno;
// REQUIRES: not the zero page, which GUP-fast never takes: it is only mapped special);
// unpin() releases @refs pins at once, the folio-run form that unpin_user_pages()
// uses. S is the scheduling-point policy of the caller (base/sched.h). Properties not
// stated are PinDesignBase's defaults (mm/pin_design.h).

struct PinGet : PinDesignBase<PinGet> {
  static constexpr PinDesign kDesign = PinDesign::get;
  static constexpr bool kTracksPins = false;
  /** grab() - @refs pins on @f. REQUIRES: the caller keeps @f alive (PTL or a ref). */
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) {
    int ret = pin_detail::ref_add_checked<S>(f, refs);
    if (unlikely(ret == -EOVERFLOW)) pin_detail::overflow_warn(f);
    return ret;
  }
  /** grab_fast() - speculative: 1 got, 0 folio is being freed (retry/fallback), <0 errno. */
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) {
    return pin_detail::ref_try_add<S>(f, refs);
  }
  /** unpin() - one atomic for the run: a pin is a plain reference. */
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) {
    folio_put_refs<S>(f, refs);
  }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio*) { return false; }
};

struct PinBias : PinDesignBase<PinBias> {
  static constexpr PinDesign kDesign = PinDesign::bias;
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) {
    int ret = pin_detail::ref_add_checked<S>(f, refs * GUP_PIN_COUNTING_BIAS);
    if (unlikely(ret == -EOVERFLOW)) pin_detail::overflow_warn(f);
    return ret;
  }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) {
    return pin_detail::ref_try_add<S>(f, refs * GUP_PIN_COUNTING_BIAS);
  }
  /**
   * unpin() - one atomic for the run: @refs biases off _refcount. A folio that does not
   * hold that many is refused with a WARN rather than corrupted.
   * REQUIRES: refs * GUP_PIN_COUNTING_BIAS fits in an int.
   */
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) {
    const int sub = refs * GUP_PIN_COUNTING_BIAS;
    if (unlikely(page_ref_count<S>(f) < sub)) return pin_detail::unpin_refused(f, refs);
    folio_put_refs<S>(f, sub);
  }
  /** Seed 000 wrote `> BIAS`; a page whose only reference is the pin has exactly BIAS. */
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return page_ref_count<S>(f) >= GUP_PIN_COUNTING_BIAS; }
};

/**
 * PinBiasAll - seed 000 as posted: every get_user_pages*() adds GUP_PIN_COUNTING_BIAS,
 * FOLL_GET ones too (kGetIsPin: GUP turns FOLL_GET into FOLL_PIN), and every page GUP
 * returns must be released with put_user_page(). A caller that still releases with
 * put_page() takes 1 of the 1024 off and leaves GUP_PIN_COUNTING_BIAS - 1 references
 * behind: the page is never freed (the leak that made upstream split FOLL_GET from
 * FOLL_PIN). Pins themselves are PinBias's.
 */
struct PinBiasAll : PinDesignBase<PinBiasAll> {
  static constexpr PinDesign kDesign = PinDesign::bias_all;
  static constexpr bool kGetIsPin = true;
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) { return PinBias::grab<S>(f, refs); }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) { return PinBias::grab_fast<S>(f, refs); }
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) { PinBias::unpin<S>(f, refs); }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return PinBias::maybe_dma_pinned<S>(f); }
};

struct PinFolioCount : PinDesignBase<PinFolioCount> {
  static constexpr PinDesign kDesign = PinDesign::folio_pincount;
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) {
    if (!folio_test_large<S>(f)) return PinBias::grab<S>(f, refs);
    int ret = pin_detail::ref_add_checked<S>(f, refs);
    if (unlikely(ret == -EOVERFLOW)) pin_detail::overflow_warn(f);
    if (ret == 0) {
      S::point(SchedPoint::kAtomicWrite, f);
      pin_detail::pincount_ref(f).fetch_add(refs, std::memory_order_seq_cst);
    }
    return ret;
  }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) {
    if (!folio_test_large<S>(f)) return PinBias::grab_fast<S>(f, refs);
    int ret = pin_detail::ref_try_add<S>(f, refs);
    if (ret <= 0) return ret;
    // The folio may have been split or freed and reused since we looked; the caller
    // re-checks the page table entry and undoes through unpin() if it changed.
    S::point(SchedPoint::kAtomicWrite, f);
    pin_detail::pincount_ref(f).fetch_add(refs, std::memory_order_seq_cst);
    return 1;
  }
  /** unpin() - small folio: as PinBias; large: _pincount and _refcount, one atomic each. */
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) {
    if (!folio_test_large<S>(f)) return PinBias::unpin<S>(f, refs);
    unpin_large(f, refs);
  }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) {
    if (folio_test_large<S>(f)) return pin_detail::folio_pincount_read(f) > 0;
    return page_ref_count<S>(f) >= GUP_PIN_COUNTING_BIAS;
  }

 private:
  static void unpin_large(folio* f, int refs);
};

struct PinDmaCount : PinDesignBase<PinDmaCount> {
  static constexpr PinDesign kDesign = PinDesign::dma_count;
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) {
    return grab_locked(f, refs);
  }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) {
    return grab_fast_locked(f, refs);
  }
  /**
   * unpin() - seed 002 counts pins per page pinned: @refs off dma_pinned_count under the
   * zone's gup_lock (one lock round trip for the run), the page back on its LRU when
   * the count reaches zero, then @refs references off _refcount in one atomic.
   */
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) {
    unpin_locked(f, refs);
  }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return PageDmaPinned<S>(f); }
  /** pinned_now() - seed 002 reads PageDmaPinned under the zone's gup_lock, serialized with GUP. */
  static bool pinned_now(folio* f);
  /** dma_pinned_count() - seed 002's counter (0 when not pinned). */
  static unsigned long count(const folio* f);

 private:
  static int grab_locked(folio* f, int refs);
  static int grab_fast_locked(folio* f, int refs);
  static void unpin_locked(folio* f, int refs);
};

struct PinFakeVma : PinDesignBase<PinFakeVma> {
  static constexpr PinDesign kDesign = PinDesign::fake_vma;
  /** No GUP-fast (the fake vma needs sleeping locks), no pte batching (accounted per folio). */
  static constexpr bool kHasFastPath = false;
  static constexpr bool kBatchesPtes = false;
  static constexpr bool kWakesOnUnpin = true;  // fake_vma_unpin() wakes page_mkclean() sleepers
  static constexpr bool kPinIsMapping = true;
  static constexpr bool kUnpinMaySleep = true;
  /** grab() - references plus fake mappings; the slow path links the fake vma (gup.cc). */
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) { return fake_vma_grab(f, refs); }
  /** grab_fast() - GUP-fast cannot link a fake vma: always "fall back" (0). */
  template <typename S = SchedCheck>
  static int grab_fast(folio*, int) { return 0; }
  /** unpin() - @refs fake mappings and references off the folio, in one pass (fake_vma.h). */
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) { fake_vma_unpin(f, refs); }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return folio_fake_mapcount(f) != 0; }
};

/**
 * PinRegistered - the designs registered out of tree (machine/registry.h), as one type:
 * each hook looks up the table of the design of @f's machine and calls through it, the
 * sim's form for SchedCheck and the native one for SchedNative. Its properties are the
 * ones every registered design has (PinDesignHooks); has_fast_path is the table's, so
 * a design without a fast path has grab_fast() answer "fall back" (0) here.
 */
struct PinRegistered : PinDesignBase<PinRegistered> {
  static constexpr PinDesign kDesign = kFirstRegisteredPinDesign;
  /** hooks() - the table of the design @f's machine runs. REQUIRES: it is a registered one. */
  static const PinDesignHooks& hooks(const folio* f);
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) { return hooks(f).grab[S::kNative](f, refs); }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) {
    const PinDesignHooks& h = hooks(f);
    return h.has_fast_path ? h.grab_fast[S::kNative](f, refs) : 0;
  }
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) { hooks(f).unpin[S::kNative](f, refs); }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return hooks(f).maybe_dma_pinned[S::kNative](f); }
  static bool pinned_now(folio* f) { return hooks(f).pinned_now(f); }
};
static_assert(PinDesignType<PinRegistered>);

// Every design of GUPLAB_PIN_DESIGNS satisfies the concept, and its kDesign is its own.
#define GUPLAB_PIN_DESIGN_CHECK(name, type, desc)                                   \
  static_assert(PinDesignType<type>, #type " is not a PinDesignType (mm/pin_design.h)"); \
  static_assert(type::kDesign == PinDesign::name, #type "::kDesign is not PinDesign::" #name);
GUPLAB_PIN_DESIGNS(GUPLAB_PIN_DESIGN_CHECK)
#undef GUPLAB_PIN_DESIGN_CHECK

/**
 * pin_dispatch() - call @fn with the design type of machine design @d, once: a built-in
 * design's own type, PinRegistered for a registered one.
 * Usage: pin_dispatch(d, [&](auto design) { using D = decltype(design); ... });
 */
template <typename Fn>
decltype(auto) pin_dispatch(PinDesign d, Fn&& fn) {
  switch (d) {
#define GUPLAB_PIN_DESIGN_CASE(name, type, desc) \
  case PinDesign::name: return fn(type{});
    GUPLAB_PIN_DESIGNS(GUPLAB_PIN_DESIGN_CASE)
#undef GUPLAB_PIN_DESIGN_CASE
  }
  return fn(PinRegistered{});
}

/**
 * folio_pin_waitqueue() - where page_mkclean() sleeps until @f is no longer pinned
 * (writeback policy `wait`, seed 002's wait_for_dma_pinned_to_clear()).
 */
wait_queue_head_t* folio_pin_waitqueue(const folio* f);
/** __folio_wake_unpinned() - the part of folio_wake_unpinned() that may wake someone. */
void __folio_wake_unpinned(folio* f);
/**
 * folio_wake_unpinned() - a pin of @f was released and it may be unpinned now: wake
 * sleepers in page_mkclean(), if PG_pin_waiters says there are any (one flag test on
 * the line the unpin just wrote otherwise). S: see base/sched.h.
 */
template <typename S = SchedCheck>
inline void folio_wake_unpinned(folio* f) {
  if (unlikely(PagePinWaiters<S>(f))) __folio_wake_unpinned(f);
}

/** is_zero_folio() - the machine's shared zero page (never pin-accounted). */
template <typename S = SchedCheck>
inline bool is_zero_folio(const folio* f) { return PageZero<S>(f); }

/**
 * try_grab_folio() - take @refs references (FOLL_GET) or pins (FOLL_PIN) on @f for a
 * GUP that holds the page-table lock. Returns 0 or -errno (-EOVERFLOW, -ENOMEM).
 */
template <typename D, typename S = SchedCheck>
inline int try_grab_folio(folio* f, int refs, foll_flags flags) {
  if (any(flags, FOLL_PIN)) {
    if (is_zero_folio(f)) return 0;
    return D::template grab<S>(f, refs);
  }
  return PinGet::grab<S>(f, refs);  // FOLL_GET: an ordinary reference
}

/** gup_put_folio() - undo try_grab_folio(). */
template <typename D, typename S = SchedCheck>
inline void gup_put_folio(folio* f, int refs, foll_flags flags) {
  if (any(flags, FOLL_PIN)) {
    if (!is_zero_folio(f)) D::template unpin<S>(f, refs);
  } else {
    folio_put_refs<S>(f, refs);
  }
}

}  // namespace guplab
