// pin_design.h - what a pin-tracking design is (DESIGN decision 5): the PinDesignType
// concept every design type of mm/pin.h satisfies, the defaults a design inherits, and
// its properties as a plain struct for code that is not templated on the design.
//
// Shared code (GUP, GUP-fast, unpin, rmap, bio) never asks which design it runs under:
// it asks a property (kHasFastPath, kBatchesPtes, ...) or calls a hook (grab, unpin,
// pinned_now, ...). The designs themselves are listed once, in GUPLAB_PIN_DESIGNS
// (machine/config.h).
//
// Threading: constants and pure functions.
#pragma once
#include <concepts>

#include "base/sched.h"
#include "machine/config.h"

namespace guplab {

struct folio;

/**
 * PinDesignType - a pin-tracking design: a type with only static members.
 *
 * Operations (S: the caller's scheduling-point policy, base/sched.h):
 *   grab<S>(f, refs)        @refs pins on @f for a GUP holding the page-table lock or a
 *                           reference: 0 or -errno
 *   grab_fast<S>(f, refs)   the same from GUP-fast, on a folio that may be being freed:
 *                           1 got, 0 fall back to the slow path, <0 -errno
 *   unpin<S>(f, refs)       release @refs pins of @f at once
 *   maybe_dma_pinned<S>(f)  page_maybe_dma_pinned()'s answer (no false negatives)
 *   pinned_now(f)           the same, read the way writeback and reclaim must read it
 *                           to be ordered against GUP (seed 002: under the zone's gup_lock)
 * Properties (compile-time):
 *   kDesign          its PinDesign enumerator
 *   kTracksPins      pins are told from references at all (false: get; then every
 *                    writeback policy acts as ignore)
 *   kHasFastPath     GUP-fast may pin (false: every pin goes to the slow path)
 *   kBatchesPtes     the slow path may grab the following ptes of one folio with one
 *                    grab (follow_page_context::more)
 *   kWakesOnUnpin    unpin() itself wakes page_mkclean() sleepers; otherwise the caller
 *                    wakes them (folio_wake_unpinned()) once the folio is unpinned
 *   kPinIsMapping    a pin is a mapping (a fake vma linked into rmap): the slow path
 *                    needs a per-call context to link and account it, rmap walks meet
 *                    pins as fake vmas rather than by asking the page
 *   kGetIsPin        there is no FOLL_GET/FOLL_PIN split (seed 000 as posted): every
 *                    get_user_pages*() takes a pin, so GUP turns FOLL_GET into FOLL_PIN
 *                    and the pages must be released with put_user_page()
 *   kUnpinMaySleep   unpin() may sleep (fake_vma: unlinking a fake vma takes i_mmap_rwsem
 *                    or the anon_vma lock), so a release from interrupt context (bio
 *                    completion) is queued to a worker (Kara's objection 2b, seed 003)
 */
// PinDesignHooksType: the hooks and kHasFastPath, what a registered design supplies
// (mm/pin_registry.h); PinDesignType: those and every property, what a built-in one does.
template <typename D>
concept PinDesignHooksType = requires(folio* f, const folio* cf, int refs) {
  { D::template grab<SchedCheck>(f, refs) } -> std::same_as<int>;
  { D::template grab<SchedNative>(f, refs) } -> std::same_as<int>;
  { D::template grab_fast<SchedCheck>(f, refs) } -> std::same_as<int>;
  { D::template grab_fast<SchedNative>(f, refs) } -> std::same_as<int>;
  { D::template unpin<SchedCheck>(f, refs) } -> std::same_as<void>;
  { D::template unpin<SchedNative>(f, refs) } -> std::same_as<void>;
  { D::template maybe_dma_pinned<SchedCheck>(cf) } -> std::same_as<bool>;
  { D::template maybe_dma_pinned<SchedNative>(cf) } -> std::same_as<bool>;
  { D::pinned_now(f) } -> std::same_as<bool>;
  { D::kHasFastPath } -> std::convertible_to<bool>;
};

template <typename D>
concept PinDesignType = PinDesignHooksType<D> && requires {
  { D::kDesign } -> std::convertible_to<PinDesign>;
  { D::kTracksPins } -> std::convertible_to<bool>;
  { D::kBatchesPtes } -> std::convertible_to<bool>;
  { D::kWakesOnUnpin } -> std::convertible_to<bool>;
  { D::kPinIsMapping } -> std::convertible_to<bool>;
  { D::kGetIsPin } -> std::convertible_to<bool>;
  { D::kUnpinMaySleep } -> std::convertible_to<bool>;
};

/**
 * PinDesignBase - the defaults a design inherits (CRTP: D is the design): tracks pins,
 * has a GUP-fast path, batches ptes, leaves waking to its caller, a pin is not a
 * mapping, FOLL_GET stays a plain reference, unpin does not sleep, and pinned_now() is maybe_dma_pinned(). A
 * design overrides what differs.
 */
template <typename D>
struct PinDesignBase {
  static constexpr bool kTracksPins = true;
  static constexpr bool kHasFastPath = true;
  static constexpr bool kBatchesPtes = true;
  static constexpr bool kWakesOnUnpin = false;
  static constexpr bool kPinIsMapping = false;
  static constexpr bool kGetIsPin = false;
  static constexpr bool kUnpinMaySleep = false;
  static bool pinned_now(folio* f) { return D::template maybe_dma_pinned<SchedCheck>(f); }
};

/** PinDesignProps - a design's properties, for code not templated on the design. */
struct PinDesignProps {
  bool tracks_pins;
  bool has_fast_path;
  bool batches_ptes;
  bool wakes_on_unpin;
  bool pin_is_mapping;
  bool get_is_pin;
  bool unpin_may_sleep;
};

/** pin_design_props_of() - the properties of design type D. */
template <PinDesignType D>
constexpr PinDesignProps pin_design_props_of() {
  return {D::kTracksPins, D::kHasFastPath, D::kBatchesPtes, D::kWakesOnUnpin, D::kPinIsMapping, D::kGetIsPin,
          D::kUnpinMaySleep};
}

/** pin_design_props() - the properties of design @d (mm/pin.cc). */
PinDesignProps pin_design_props(PinDesign d);

/**
 * folio_pinned_now() - pinned_now() of @f under its machine's design: is @f pinned, read
 * so that it is ordered against a concurrent GUP (page_mkclean(), try_to_unmap()).
 */
bool folio_pinned_now(folio* f);

}  // namespace guplab
