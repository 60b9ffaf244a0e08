// pin_registry.h - registering a pin design written out of tree from its type: the
// design is written as a built-in one is (a PinDesignBase<D> with grab, grab_fast, unpin
// and maybe_dma_pinned templated on the scheduling-point policy S, mm/pin.h), and
// register_pin_design<D>() instantiates its hooks for both policies into a
// PinDesignHooks table (machine/registry.h).
//
// Threading: as machine/registry.h: register before main() (GUPLAB_REGISTER_PIN_DESIGN)
// or from main() before any machine boots.
#pragma once
#include <string_view>

#include "machine/registry.h"
#include "mm/pin.h"

namespace guplab {

/**
 * RegistrablePinDesign - a design type register_pin_design<D>() takes: PinDesignHooksType
 * (mm/pin_design.h: the hooks and kHasFastPath; no kDesign, the registry gives it its
 * value), with the properties every registered design has (PinDesignHooks).
 */
template <typename D>
concept RegistrablePinDesign = PinDesignHooksType<D> && D::kTracksPins && D::kBatchesPtes && !D::kWakesOnUnpin &&
                               !D::kPinIsMapping && !D::kGetIsPin && !D::kUnpinMaySleep;

/** pin_design_hooks_of() - the hook table of design type D. */
template <RegistrablePinDesign D>
constexpr PinDesignHooks pin_design_hooks_of() {
  return PinDesignHooks{
      {&D::template grab<SchedCheck>, &D::template grab<SchedNative>},
      {&D::template grab_fast<SchedCheck>, &D::template grab_fast<SchedNative>},
      {&D::template unpin<SchedCheck>, &D::template unpin<SchedNative>},
      {&D::template maybe_dma_pinned<SchedCheck>, &D::template maybe_dma_pinned<SchedNative>},
      &D::pinned_now,
      D::kHasFastPath,
  };
}

/**
 * register_pin_design() - register design type D as @name (what --design takes),
 * predicted by the scenarios as built-in design @like. Returns its PinDesign value or
 * -errno (register_pin_design_hooks()).
 */
template <RegistrablePinDesign D>
int register_pin_design(std::string_view name, std::string_view description, PinDesign like) {
  return register_pin_design_hooks(name, description, like, pin_design_hooks_of<D>());
}

/** register_pin_design_or_die() - register_pin_design(), and exit(2) with a message on error. */
template <RegistrablePinDesign D>
PinDesign register_pin_design_or_die(std::string_view name, std::string_view description, PinDesign like) {
  const int ret = register_pin_design<D>(name, description, like);
  if (ret < 0) registry_die("pin design", name, ret);
  return static_cast<PinDesign>(ret);
}

/**
 * GUPLAB_REGISTER_PIN_DESIGN(Type, name, description, like) - at namespace scope in the
 * design's .cc: register Type before main() (exit status 2 with a message if refused).
 */
#define GUPLAB_REGISTER_PIN_DESIGN(Type, name, description, like)                                   \
  namespace {                                                                                       \
  [[maybe_unused]] const ::guplab::PinDesign guplab_pin_design_##Type =                             \
      ::guplab::register_pin_design_or_die<Type>((name), (description), (like));                    \
  }

}  // namespace guplab
