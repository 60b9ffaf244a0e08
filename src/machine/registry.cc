// registry.cc - the designs and policies registered out of tree (machine/registry.h).
#include "machine/registry.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>

#include "base/errno.h"

namespace guplab {

namespace {

// Deques: a registration's address (and row.name's) never moves once made.
std::deque<RegisteredWbPolicy>& policies() {
  static std::deque<RegisteredWbPolicy> kPolicies;
  return kPolicies;
}
std::deque<RegisteredPinDesign>& designs() {
  static std::deque<RegisteredPinDesign> kDesigns;
  return kDesigns;
}

bool good_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

bool good_row(const WbPolicy& r) {
  constexpr auto kLastWrite = static_cast<unsigned>(PinnedWrite::write_unprotected);
  constexpr auto kLastMkclean = static_cast<unsigned>(MkcleanPinned::wait);
  if (static_cast<unsigned>(r.sync_none) > kLastWrite || static_cast<unsigned>(r.sync_all) > kLastWrite ||
      static_cast<unsigned>(r.mkclean) > kLastMkclean)
    return false;
  // A mode that waits for a pin does it in page_mkclean(page, false).
  if ((r.sync_none == PinnedWrite::wait || r.sync_all == PinnedWrite::wait) && r.mkclean != MkcleanPinned::wait)
    return false;
  // A policy that does not look at pins is ignore, field by field.
  if (!r.acts_on_pins) {
    const WbPolicy& ig = kWbPolicies[static_cast<unsigned>(WritebackPolicy::ignore)];
    return r.sync_none == ig.sync_none && r.sync_all == ig.sync_all && r.mkclean == ig.mkclean &&
           r.reclaim_keeps_pinned == ig.reclaim_keeps_pinned && r.unmap_skips_pinned == ig.unmap_skips_pinned &&
           r.unpin_redirties == ig.unpin_redirties && r.stable_pages == ig.stable_pages &&
           r.truncate_revokes == ig.truncate_revokes;
  }
  return true;
}

}  // namespace

// ---- policies -------------------------------------------------------------------------

int register_wb_policy(const WbPolicy& row, std::string_view description, WritebackPolicy like) {
  if (!row.name || !good_name(row.name) || !good_row(row)) return -EINVAL;
  if (static_cast<unsigned>(like) >= kNumBuiltinWbPolicies) return -EINVAL;
  if (parse_writeback_policy(row.name)) return -EEXIST;
  if (policies().size() >= kMaxRegistered) return -ENOSPC;
  RegisteredWbPolicy& r = policies().emplace_back(RegisteredWbPolicy{row, row.name, std::string(description), like});
  r.row.name = r.name.c_str();
  return static_cast<int>(kNumBuiltinWbPolicies + policies().size() - 1);
}

WritebackPolicy register_wb_policy_or_die(const WbPolicy& row, std::string_view description, WritebackPolicy like) {
  const int ret = register_wb_policy(row, description, like);
  if (ret < 0) registry_die("writeback policy", row.name ? row.name : "(null)", ret);
  return static_cast<WritebackPolicy>(ret);
}

const RegisteredWbPolicy* find_registered_wb_policy(WritebackPolicy p) {
  const unsigned i = static_cast<unsigned>(p);
  if (i < kNumBuiltinWbPolicies || i - kNumBuiltinWbPolicies >= policies().size()) return nullptr;
  return &policies()[i - kNumBuiltinWbPolicies];
}

const WbPolicy& registered_wb_policy_row(WritebackPolicy p) {
  const RegisteredWbPolicy* r = find_registered_wb_policy(p);
  if (!r) {
    std::fputs(fmt::format("guplab: writeback policy {} is neither built in nor registered\n", static_cast<unsigned>(p))
                   .c_str(),
               stderr);
    std::abort();
  }
  return r->row;
}

std::vector<WritebackPolicy> all_writeback_policies() {
  std::vector<WritebackPolicy> v(std::begin(kAllWritebackPolicies), std::end(kAllWritebackPolicies));
  for (size_t i = 0; i < policies().size(); i++) v.push_back(static_cast<WritebackPolicy>(kNumBuiltinWbPolicies + i));
  return v;
}

WritebackPolicy prediction_policy(WritebackPolicy p) {
  const RegisteredWbPolicy* r = find_registered_wb_policy(p);
  return r ? r->like : p;
}

// ---- designs --------------------------------------------------------------------------

int register_pin_design_hooks(std::string_view name, std::string_view description, PinDesign like,
                              const PinDesignHooks& h) {
  if (!good_name(name) || static_cast<unsigned>(like) >= static_cast<unsigned>(kFirstRegisteredPinDesign))
    return -EINVAL;
  for (int i = 0; i < 2; i++)
    if (!h.grab[i] || !h.unpin[i] || !h.maybe_dma_pinned[i] || (h.has_fast_path && !h.grab_fast[i])) return -EINVAL;
  if (!h.pinned_now) return -EINVAL;
  if (parse_pin_design(name)) return -EEXIST;
  if (designs().size() >= kMaxRegistered) return -ENOSPC;
  designs().push_back(RegisteredPinDesign{h, std::string(name), std::string(description), like});
  return static_cast<int>(static_cast<unsigned>(kFirstRegisteredPinDesign) + designs().size() - 1);
}

const RegisteredPinDesign* find_registered_pin_design(PinDesign d) {
  const unsigned first = static_cast<unsigned>(kFirstRegisteredPinDesign);
  const unsigned i = static_cast<unsigned>(d);
  if (i < first || i - first >= designs().size()) return nullptr;
  return &designs()[i - first];
}

std::vector<PinDesign> all_pin_designs() {
  std::vector<PinDesign> v(std::begin(kAllPinDesigns), std::end(kAllPinDesigns));
  for (size_t i = 0; i < designs().size(); i++)
    v.push_back(static_cast<PinDesign>(static_cast<unsigned>(kFirstRegisteredPinDesign) + i));
  return v;
}

PinDesign prediction_design(PinDesign d) {
  const RegisteredPinDesign* r = find_registered_pin_design(d);
  return r ? r->like : d;
}

void registry_die(const char* what, std::string_view name, int err) {
  std::fputs(fmt::format("guplab: cannot register {} '{}': {}\n", what, name, errname(err)).c_str(), stderr);
  // _Exit, not exit: this runs in a static initializer, maybe inside dlopen() (--plugin),
  // where running the process's exit handlers and destructors would re-enter the loader
  // mid-call (ThreadSanitizer reports it: "main thread finished with ignores enabled").
  std::fflush(nullptr);
  std::_Exit(2);
}

}  // namespace guplab
