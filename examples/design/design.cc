// design.cc - an out-of-tree pin design: seed 000's bias, four times larger. A pin adds
// 4096 to _refcount, so page_maybe_dma_pinned() needs 4096 plain references (not 1024)
// before it answers a false positive, and a page holds a quarter of the pins before the
// count would overflow. Registered as `bias4k`, predicted as `bias`.
#include "mm/pin_registry.h"

namespace {
using namespace guplab;

constexpr int kBias = 4 << 10;

struct PinBias4k : PinDesignBase<PinBias4k> {
  template <typename S = SchedCheck>
  static int grab(folio* f, int refs) {
    const int ret = pin_detail::ref_add_checked<S>(f, refs * kBias);
    if (ret == -EOVERFLOW) pin_detail::overflow_warn(f);
    return ret;
  }
  template <typename S = SchedCheck>
  static int grab_fast(folio* f, int refs) {
    return pin_detail::ref_try_add<S>(f, refs * kBias);
  }
  template <typename S = SchedCheck>
  static void unpin(folio* f, int refs) {
    if (page_ref_count<S>(f) < refs * kBias) return pin_detail::unpin_refused(f, refs);
    folio_put_refs<S>(f, refs * kBias);
  }
  template <typename S = SchedCheck>
  static bool maybe_dma_pinned(const folio* f) {
    return page_ref_count<S>(f) >= kBias;
  }
};

}  // namespace

GUPLAB_REGISTER_PIN_DESIGN(PinBias4k, "bias4k", "seed 000 with a bias of 4096", guplab::PinDesign::bias)
