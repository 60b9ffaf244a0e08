// test_plugin_module.cc - a `guplab --plugin` library for plugin_test.cc (built as the
// module libguplab_test_plugin.so, against guplab's headers only): a design `plugin_bias`
// (seed 000's bias, predicted as bias) and a policy `plugin_skip` (skip's row).
#include "machine/registry.h"
#include "mm/pin_registry.h"

namespace {
using namespace guplab;

struct PluginBias : PinDesignBase<PluginBias> {
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) { return PinBias::grab<S>(f, refs); }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) { return PinBias::grab_fast<S>(f, refs); }
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) { PinBias::unpin<S>(f, refs); }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) { return PinBias::maybe_dma_pinned<S>(f); }
};

WbPolicy plugin_skip_row() {
  WbPolicy r = wb_policy_row(WritebackPolicy::skip);
  r.name = "plugin_skip";
  return r;
}

}  // namespace

GUPLAB_REGISTER_PIN_DESIGN(PluginBias, "plugin_bias", "seed 000's bias, from a plugin", guplab::PinDesign::bias)
GUPLAB_REGISTER_WB_POLICY(plugin_skip, plugin_skip_row(), "skip, from a plugin", guplab::WritebackPolicy::skip)
