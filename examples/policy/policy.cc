// policy.cc - an out-of-tree writeback policy: revoke, and the unpin dirties the page
// again (keep_dirty's rule), so what the device wrote while the page was pinned reaches
// the disk once it lets go. Registered as `revoke_redirty`, predicted as `revoke`.
#include "machine/registry.h"

namespace {
using namespace guplab;

constexpr WbPolicy kRevokeRedirty{
    .name = "revoke_redirty",
    .sync_none = PinnedWrite::skip,      // the flusher leaves a pinned page dirty
    .sync_all = PinnedWrite::skip,       // so does fsync
    .mkclean = MkcleanPinned::skip,      // page_mkclean() leaves its ptes alone
    .reclaim_keeps_pinned = true,        // reclaim keeps it mapped, with its buffers
    .unmap_skips_pinned = true,          // try_to_unmap() leaves it mapped
    .unpin_redirties = true,             // the unpin dirties it again
    .stable_pages = true,                // a CPU write waits for its writeback
    .truncate_revokes = true,            // truncate asks long-term pinners to let go
    .acts_on_pins = true,
};

}  // namespace

GUPLAB_REGISTER_WB_POLICY(revoke_redirty, kRevokeRedirty, "revoke, and the unpin re-dirties the page",
                          guplab::WritebackPolicy::revoke)
