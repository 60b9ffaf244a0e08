// registry.h - pin designs and writeback policies written out of tree: registered at
// run time, they follow the built-in ones (GUPLAB_PIN_DESIGNS, GUPLAB_WB_POLICIES) in
// every list the command line and the lab's matrix use.
//
// A registered policy is a WbPolicy row: its WritebackPolicy value is the next one after
// the built-in enumerators, and wb_policy_row() returns its row, so shared code reads it
// as it reads a built-in row. A registered design is a table of hooks (PinDesignHooks):
// pin_dispatch() (mm/pin.h) runs every registered design as the one type PinRegistered,
// whose hooks call through the table of the machine's design; the built-in designs keep
// their static dispatch. The typed way to build the table from a design type is
// mm/pin_registry.h (register_pin_design<D>(), GUPLAB_REGISTER_PIN_DESIGN).
//
// Each registration names a built-in design or policy it is `like`: the scenarios'
// predictions (Scenario::expected(), applies()) are those of that built-in one
// (prediction_design(), prediction_policy()), so a matrix cell that differs says the
// new design or policy does not behave as its author said it would.
//
// Threading: the registry is process-wide (the one table besides the scenario
// registry): it is written only before main() (static initializers, or a --plugin
// library dlopen'd before the command line is parsed) or from main() before any
// machine boots, and read by any thread afterwards without locking.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "machine/config.h"

namespace guplab {

struct folio;

/** kMaxRegistered - how many designs, and how many policies, may be registered. */
inline constexpr unsigned kMaxRegistered = 64;

// ---- policies -------------------------------------------------------------------------

/** RegisteredWbPolicy - a policy registered out of tree. row.name points into name. */
struct RegisteredWbPolicy {
  WbPolicy row;
  std::string name;
  std::string description;
  WritebackPolicy like;  // the built-in policy whose predictions the scenarios apply
};

/**
 * register_wb_policy() - add policy @row (named row.name) after the built-in ones.
 * Returns its WritebackPolicy value, or -EEXIST if a policy of that name exists,
 * -EINVAL for a bad row (no name, a name other than [a-z0-9_-], a field out of its
 * enum, a row that does not act on pins yet differs from ignore's, a wait without
 * page_mkclean() waiting, @like not built in), -ENOSPC past kMaxRegistered.
 * REQUIRES: no machine is running (see the threading contract above).
 */
int register_wb_policy(const WbPolicy& row, std::string_view description, WritebackPolicy like);
/** register_wb_policy_or_die() - register_wb_policy(), and exit(2) with a message on error. */
WritebackPolicy register_wb_policy_or_die(const WbPolicy& row, std::string_view description, WritebackPolicy like);
/** find_registered_wb_policy() - the registration of @p, or nullptr for a built-in policy. */
const RegisteredWbPolicy* find_registered_wb_policy(WritebackPolicy p);
/** all_writeback_policies() - the built-in policies, then the registered ones in order. */
std::vector<WritebackPolicy> all_writeback_policies();

/**
 * GUPLAB_REGISTER_WB_POLICY(id, row, description, like) - at namespace scope: register
 * WbPolicy @row before main() (exit status 2 with a message if refused).
 */
#define GUPLAB_REGISTER_WB_POLICY(id, row, description, like)                                      \
  namespace {                                                                                      \
  [[maybe_unused]] const ::guplab::WritebackPolicy guplab_wb_policy_##id =                         \
      ::guplab::register_wb_policy_or_die((row), (description), (like));                           \
  }

// ---- designs --------------------------------------------------------------------------

/**
 * PinDesignHooks - a design's operations as function pointers (PinDesignType's hooks,
 * mm/pin_design.h): [0] for a caller under the sim backend (SchedCheck), [1] for a
 * native one (SchedNative). Its properties are PinDesignBase's defaults (tracks pins,
 * batches ptes, the caller wakes page_mkclean() sleepers, a pin is not a mapping, FOLL_GET
 * is a plain reference, unpin does not sleep) but for has_fast_path; a design that
 * needs other properties is built in.
 */
struct PinDesignHooks {
  int (*grab[2])(folio* f, int refs);
  int (*grab_fast[2])(folio* f, int refs);
  void (*unpin[2])(folio* f, int refs);
  bool (*maybe_dma_pinned[2])(const folio* f);
  bool (*pinned_now)(folio* f);
  bool has_fast_path;  // false: grab_fast is never called (every pin takes the slow path)
};

/** RegisteredPinDesign - a design registered out of tree. */
struct RegisteredPinDesign {
  PinDesignHooks hooks;
  std::string name;
  std::string description;
  PinDesign like;  // the built-in design whose predictions the scenarios apply
};

/**
 * register_pin_design_hooks() - add design @name after the built-in ones. Returns its
 * PinDesign value, or -EEXIST if a design of that name exists, -EINVAL for a bad name
 * ([a-z0-9_-]), a missing hook, or @like not built in, -ENOSPC past kMaxRegistered.
 * REQUIRES: no machine is running (see the threading contract above).
 */
int register_pin_design_hooks(std::string_view name, std::string_view description, PinDesign like,
                              const PinDesignHooks& hooks);
/** find_registered_pin_design() - the registration of @d, or nullptr for a built-in design. */
const RegisteredPinDesign* find_registered_pin_design(PinDesign d);
/** all_pin_designs() - the built-in designs, then the registered ones in order. */
std::vector<PinDesign> all_pin_designs();

/**
 * prediction_design() / prediction_policy() - what the scenarios predict from: @d or @p
 * itself if built in, else the built-in one it registered `like`.
 */
PinDesign prediction_design(PinDesign d);
WritebackPolicy prediction_policy(WritebackPolicy p);

/** registry_die() - print "guplab: cannot register @what '@name': errno" and exit(2). */
[[noreturn]] void registry_die(const char* what, std::string_view name, int err);

}  // namespace guplab
