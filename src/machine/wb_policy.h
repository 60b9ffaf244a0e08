// wb_policy.h - the writeback policies (DESIGN decision 6) as one table: what writeback,
// page_mkclean(), reclaim, unpin and truncate do with a page that may be DMA-pinned.
//
// A policy is a row of plain fields (WbPolicy). The machine computes its row at boot
// (Machine::wb()): the configured policy's row, or `ignore`'s under a design that does
// not track pins. Shared code (mm/, fs/) reads the row's fields, never the policy's name.
// Adding a policy is one line of GUPLAB_WB_POLICIES below; README's policy table states
// every row field by field, and tests/machine/wb_policy_test.cc holds the two together.
// A policy written out of tree is a row registered at run time (machine/registry.h):
// its WritebackPolicy value follows the built-in enumerators and wb_policy_row() finds
// its row in the registry.
//
// Threading: constants.
#pragma once
#include <cstdint>

namespace guplab {

/** What a writeback of one sync mode does with a dirty page that may be pinned. */
enum class PinnedWrite : uint8_t {
  write,              // as any page: ptes write-protected, dirty bit cleared, written
  skip,               // not written, left dirty (wbc->pages_skipped); written once unpinned
  wait,               // page_mkclean() sleeps until the pin goes, then as write
  bounce,             // ptes cleaned, a stable copy written, the page left dirty
  write_unprotected,  // seed 002 as posted: page_mkclean(page, true) skips the page (its
                      // ptes stay writable), yet the dirty bit is cleared and it is written
};

/** What page_mkclean(page, skip_pinned_pages=false) does at a pinned page. */
enum class MkcleanPinned : uint8_t {
  clean,  // write-protects it as any page
  skip,   // leaves its ptes alone, stops the walk (page_mkclean() returns 0)
  wait,   // seed 002's wait_for_dma_pinned_to_clear(), then cleans it
};

/**
 * WbPolicy - one writeback policy. page_mkclean(page, skip_pinned_pages=true) skips a
 * pinned page under every policy with acts_on_pins; the fields say the rest.
 */
struct WbPolicy {
  const char* name;
  PinnedWrite sync_none;      // WB_SYNC_NONE (the flusher, background writeback)
  PinnedWrite sync_all;       // WB_SYNC_ALL (fsync, sync)
  MkcleanPinned mkclean;      // page_mkclean(page, false): pagecache_isize_extended()
  bool reclaim_keeps_pinned;  // reclaim keeps a pinned page mapped and with its buffers
  bool unmap_skips_pinned;    // try_to_unmap() leaves a pinned page mapped
  bool unpin_redirties;       // unpinning a page of a file dirties it again
  bool stable_pages;          // a CPU write waits for the page's writeback (folio_wait_stable())
  bool truncate_revokes;      // truncate breaks layout leases, then revokes what an IOMMU still maps
  bool acts_on_pins;          // false: pins are not looked at (every field as ignore's)
};

// clang-format off
/**
 * GUPLAB_WB_POLICIES(X) - every policy, one line each: X(name, row fields after the
 * name, in WbPolicy's order). WritebackPolicy, kAllWritebackPolicies, the names and
 * parsing (machine/config.h) and the lab's matrix rows all derive from this list.
 *   ignore      the pre-2019 kernel: pins are nobody's business
 *   skip        a pinned page is not written, left dirty
 *   wait        seed 002's waits, but WB_SYNC_NONE leaves a pinned page dirty and
 *               unwritten (departs from seed 002, which writes it: see README)
 *   bounce      a stable copy is written; the page stays dirty while pinned
 *   keep_dirty  as skip, and the unpin re-dirties the page
 *   rfc002      seed 002 as posted: WB_SYNC_NONE writes a pinned page without
 *               write-protecting it, WB_SYNC_ALL and pagecache_isize_extended() wait,
 *               try_to_unmap() skips it; reclaim otherwise as ignore
 *   revoke      as skip; truncate asks long-term pinners to let go: layout lease
 *               break (fs/locks.h), MMU_NOTIFY_TRUNCATE to listening devices, and a
 *               WARN plus the IOMMU's scratch page for a pinner that did not listen
 */
#define GUPLAB_WB_POLICIES(X)                                                                                        \
  X(ignore,     PinnedWrite::write,             PinnedWrite::write,  MkcleanPinned::clean, false, false, false, false, false, false) \
  X(skip,       PinnedWrite::skip,              PinnedWrite::skip,   MkcleanPinned::skip,  true,  true,  false, true,  false, true)  \
  X(wait,       PinnedWrite::skip,              PinnedWrite::wait,   MkcleanPinned::wait,  true,  true,  false, true,  false, true)  \
  X(bounce,     PinnedWrite::bounce,            PinnedWrite::bounce, MkcleanPinned::clean, true,  true,  false, false, false, true)  \
  X(keep_dirty, PinnedWrite::skip,              PinnedWrite::skip,   MkcleanPinned::skip,  true,  true,  true,  true,  false, true)  \
  X(rfc002,     PinnedWrite::write_unprotected, PinnedWrite::wait,   MkcleanPinned::wait,  false, true,  false, false, false, true)  \
  X(revoke,     PinnedWrite::skip,              PinnedWrite::skip,   MkcleanPinned::skip,  true,  true,  false, true,  true,  true)
// clang-format on

/** What writeback does with a page that may be DMA-pinned: one enumerator per row. */
enum class WritebackPolicy : uint8_t {
#define GUPLAB_WB_POLICY_ENUM(name, ...) name,
  GUPLAB_WB_POLICIES(GUPLAB_WB_POLICY_ENUM)
#undef GUPLAB_WB_POLICY_ENUM
};

/** kWbPolicies - the rows, indexed by WritebackPolicy. */
inline constexpr WbPolicy kWbPolicies[] = {
#define GUPLAB_WB_POLICY_ROW(name, ...) WbPolicy{#name, __VA_ARGS__},
    GUPLAB_WB_POLICIES(GUPLAB_WB_POLICY_ROW)
#undef GUPLAB_WB_POLICY_ROW
};

/** kAllWritebackPolicies - the built-in policies (with registered ones: all_writeback_policies()). */
inline constexpr WritebackPolicy kAllWritebackPolicies[] = {
#define GUPLAB_WB_POLICY_ALL(name, ...) WritebackPolicy::name,
    GUPLAB_WB_POLICIES(GUPLAB_WB_POLICY_ALL)
#undef GUPLAB_WB_POLICY_ALL
};

/** kNumBuiltinWbPolicies - the rows of GUPLAB_WB_POLICIES; registered policies follow. */
inline constexpr unsigned kNumBuiltinWbPolicies = sizeof(kWbPolicies) / sizeof(kWbPolicies[0]);

/**
 * registered_wb_policy_row() - the row of a policy registered out of tree
 * (machine/registry.cc). REQUIRES: @p was registered (register_wb_policy()).
 */
const WbPolicy& registered_wb_policy_row(WritebackPolicy p);

/** wb_policy_row() - the row of policy @p, built in or registered. */
constexpr const WbPolicy& wb_policy_row(WritebackPolicy p) {
  const unsigned i = static_cast<unsigned>(p);
  return i < kNumBuiltinWbPolicies ? kWbPolicies[i] : registered_wb_policy_row(p);
}

}  // namespace guplab
