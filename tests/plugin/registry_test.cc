// registry_test.cc - machine/registry.h: registering writeback policies and designs out
// of tree (names, errors, where they appear). In their own test binary (plugin_tests),
// so that what these tests register widens no other binary's matrix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "machine/machine.h"
#include "machine/registry.h"
#include "mm/pin_registry.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

WbPolicy skip_row(const char* name) {
  WbPolicy r = wb_policy_row(WritebackPolicy::skip);
  r.name = name;
  return r;
}

TEST(RegisterWbPolicy, AppendsAfterTheBuiltInOnesAndIsFoundByName) {
  WbPolicy row = skip_row("skip_redirty");
  row.unpin_redirties = true;
  const int ret = register_wb_policy(row, "skip, and the unpin re-dirties", WritebackPolicy::keep_dirty);
  ASSERT_GE(ret, static_cast<int>(kNumBuiltinWbPolicies));
  const auto p = static_cast<WritebackPolicy>(ret);
  EXPECT_STREQ(to_string(p), "skip_redirty");
  EXPECT_EQ(parse_writeback_policy("skip_redirty"), p);
  EXPECT_TRUE(wb_policy_row(p).unpin_redirties);
  EXPECT_STREQ(wb_policy_row(p).name, "skip_redirty");
  EXPECT_EQ(prediction_policy(p), WritebackPolicy::keep_dirty);
  EXPECT_EQ(prediction_policy(WritebackPolicy::wait), WritebackPolicy::wait);
  const std::vector<WritebackPolicy> all = all_writeback_policies();
  ASSERT_GT(all.size(), kNumBuiltinWbPolicies);
  EXPECT_TRUE(std::equal(std::begin(kAllWritebackPolicies), std::end(kAllWritebackPolicies), all.begin()))
      << "the built-in policies first, in their order";
  EXPECT_NE(std::find(all.begin(), all.end(), p), all.end());
  EXPECT_EQ(register_wb_policy(row, "again", WritebackPolicy::skip), -EEXIST);
}

TEST(RegisterWbPolicy, RefusesABuiltInName) {
  EXPECT_EQ(register_wb_policy(skip_row("skip"), "", WritebackPolicy::skip), -EEXIST);
  EXPECT_EQ(register_wb_policy(skip_row("revoke"), "", WritebackPolicy::skip), -EEXIST);
}

TEST(RegisterWbPolicy, RefusesABadRow) {
  EXPECT_EQ(register_wb_policy(skip_row(nullptr), "", WritebackPolicy::skip), -EINVAL);
  EXPECT_EQ(register_wb_policy(skip_row(""), "", WritebackPolicy::skip), -EINVAL);
  EXPECT_EQ(register_wb_policy(skip_row("Has Space"), "", WritebackPolicy::skip), -EINVAL);
  WbPolicy bad_enum = skip_row("bad_enum");
  bad_enum.sync_none = static_cast<PinnedWrite>(42);
  EXPECT_EQ(register_wb_policy(bad_enum, "", WritebackPolicy::skip), -EINVAL);
  WbPolicy bad_mkclean = skip_row("bad_mkclean");
  bad_mkclean.mkclean = static_cast<MkcleanPinned>(9);
  EXPECT_EQ(register_wb_policy(bad_mkclean, "", WritebackPolicy::skip), -EINVAL);
  WbPolicy waits_nowhere = skip_row("waits_nowhere");
  waits_nowhere.sync_all = PinnedWrite::wait;  // but page_mkclean() skips
  EXPECT_EQ(register_wb_policy(waits_nowhere, "", WritebackPolicy::skip), -EINVAL);
  WbPolicy blind = skip_row("blind_but_skips");
  blind.acts_on_pins = false;  // does not look at pins, yet skips pinned pages
  EXPECT_EQ(register_wb_policy(blind, "", WritebackPolicy::skip), -EINVAL);
  EXPECT_EQ(register_wb_policy(skip_row("like_nothing"), "", static_cast<WritebackPolicy>(200)), -EINVAL);
  EXPECT_FALSE(parse_writeback_policy("bad_enum")) << "a refused row is not registered";
}

TEST(RegisterWbPolicy, AMachineRunsWithTheRegisteredRow) {
  WbPolicy row = skip_row("skip_booted");
  row.stable_pages = false;
  const int ret = register_wb_policy(row, "", WritebackPolicy::skip);
  ASSERT_GE(ret, 0);
  MachineConfig cfg = testing::small_config(PinDesign::bias);
  cfg.wb_policy = static_cast<WritebackPolicy>(ret);
  Machine m(cfg);
  EXPECT_EQ(&m.wb(), &wb_policy_row(cfg.wb_policy));
  EXPECT_FALSE(m.wb().stable_pages);
  cfg.pin_design = PinDesign::get;  // no tracking: every policy acts as ignore
  Machine untracked(cfg);
  EXPECT_EQ(&untracked.wb(), &wb_policy_row(WritebackPolicy::ignore));
}

struct PinNothing : PinDesignBase<PinNothing> {
  template <typename S = SchedCheck>
  static int grab(folio*, int) { return -ENOMEM; }
  template <typename S = SchedCheck>
  static int grab_fast(folio*, int) { return 0; }
  template <typename S = SchedCheck>
  static void unpin(folio*, int) {}
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio*) { return false; }
};

TEST(RegisterPinDesign, NamesAndErrors) {
  const int ret = register_pin_design<PinNothing>("pin_nothing", "pins nothing", PinDesign::get);
  ASSERT_GE(ret, static_cast<int>(kFirstRegisteredPinDesign));
  const auto d = static_cast<PinDesign>(ret);
  EXPECT_STREQ(to_string(d), "pin_nothing");
  EXPECT_STREQ(describe(d), "pins nothing");
  EXPECT_EQ(parse_pin_design("pin_nothing"), d);
  EXPECT_EQ(prediction_design(d), PinDesign::get);
  EXPECT_EQ(prediction_design(PinDesign::bias), PinDesign::bias);
  const std::vector<PinDesign> all = all_pin_designs();
  EXPECT_TRUE(std::equal(std::begin(kAllPinDesigns), std::end(kAllPinDesigns), all.begin()));
  EXPECT_NE(std::find(all.begin(), all.end(), d), all.end());

  EXPECT_EQ(register_pin_design<PinNothing>("pin_nothing", "", PinDesign::get), -EEXIST);
  EXPECT_EQ(register_pin_design<PinNothing>("bias", "", PinDesign::get), -EEXIST);
  EXPECT_EQ(register_pin_design<PinNothing>("", "", PinDesign::get), -EINVAL);
  EXPECT_EQ(register_pin_design<PinNothing>("a/b", "", PinDesign::get), -EINVAL);
  EXPECT_EQ(register_pin_design<PinNothing>("like_itself", "", d), -EINVAL) << "like must be built in";
  PinDesignHooks h = pin_design_hooks_of<PinNothing>();
  h.unpin[1] = nullptr;
  EXPECT_EQ(register_pin_design_hooks("no_unpin", "", PinDesign::get, h), -EINVAL);
  h = pin_design_hooks_of<PinNothing>();
  h.pinned_now = nullptr;
  EXPECT_EQ(register_pin_design_hooks("no_pinned_now", "", PinDesign::get, h), -EINVAL);
  EXPECT_FALSE(parse_pin_design("no_unpin"));
}

TEST(RegisterPinDesign, PropertiesAreTheRegisteredOnes) {
  PinDesignHooks h = pin_design_hooks_of<PinNothing>();
  h.has_fast_path = false;
  h.grab_fast[0] = h.grab_fast[1] = nullptr;  // not needed without a fast path
  const int ret = register_pin_design_hooks("slow_only", "", PinDesign::fake_vma, h);
  ASSERT_GE(ret, 0);
  const PinDesignProps props = pin_design_props(static_cast<PinDesign>(ret));
  EXPECT_FALSE(props.has_fast_path);
  EXPECT_TRUE(props.tracks_pins);
  EXPECT_TRUE(props.batches_ptes);
  EXPECT_FALSE(props.pin_is_mapping || props.get_is_pin || props.unpin_may_sleep || props.wakes_on_unpin);
}

}  // namespace
}  // namespace guplab
