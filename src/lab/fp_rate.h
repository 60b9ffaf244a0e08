// fp_rate.h - the false-positive rate of page_maybe_dma_pinned(), measured per pin
// design on stated workloads (issue 10, deliverable 7; what `guplab fp-rate` prints).
//
// A false positive is a page reported maybe-pinned while no pin is held on it; a false
// negative is a pinned page reported not pinned. Every tracking design must have no
// false negatives (DESIGN decision 5); `get` tracks nothing, so every pin is a false
// negative there, which is what "no tracking" means. The workloads, each on a fresh
// Machine booted with the design:
//
//   refs      one page-cache (shmem) page, mapped once, plus N get_page() references,
//             N = 1..max_refs: one sample per N.
//   fork      one private anonymous page shared copy-on-write by N forked children
//             (dup_mm()), N = 1..max_forks: one sample per N (mapcount and refcount N+1).
//   thp_refs  one PMD-mapped 2 MiB THP plus N get_page() references spread over its
//             subpages, N = 1..max_refs: one sample per N (of subpage N % 512).
//   mix       mix_pages 4 KiB anonymous pages, page i with i * 64 extra references and
//             every odd page pinned once (pin_user_pages()): one sample per page; false
//             positives are counted over the unpinned half, false negatives over the
//             pinned half.
//
// Each of refs, fork and thp_refs ends with one pin of the page (pin_user_pages()) and
// counts a false negative if that pinned page is then reported not pinned.
//
// Threading: measure_fp_rate() boots its own machines and runs on the calling thread.
#pragma once
#include <string>
#include <vector>

#include "machine/config.h"

namespace guplab {

enum class FpWorkload : uint8_t { refs, fork, thp_refs, mix };
inline constexpr FpWorkload kAllFpWorkloads[] = {FpWorkload::refs, FpWorkload::fork, FpWorkload::thp_refs,
                                                 FpWorkload::mix};
const char* to_string(FpWorkload w);

struct FpOptions {
  int max_refs = 4096;   // refs, thp_refs: N = 1..max_refs
  int max_forks = 4096;  // fork: N = 1..max_forks
  int mix_pages = 64;    // mix: pages (even: unpinned, odd: pinned once)
};

struct FpRow {
  PinDesign design = PinDesign::get;
  FpWorkload workload = FpWorkload::refs;
  long samples = 0;           // observations of an unpinned page
  long false_positives = 0;   // of those, reported maybe-pinned
  long first_fp_n = -1;       // smallest N (or page index, mix) reported falsely; -1 none
  long first_fp_refcount = -1;// the folio's _refcount at that first false positive
  long pinned_samples = 0;    // observations of a pinned page
  long false_negatives = 0;   // of those, reported not pinned
  std::string note;           // what the workload turned out to be (e.g. base refcount)
  double rate() const { return samples ? static_cast<double>(false_positives) / static_cast<double>(samples) : 0.0; }
};

/**
 * measure_fp_rate() - run every workload of @opt under design @d.
 * Returns one row per workload (kAllFpWorkloads order). BUGs (via the machine) if a
 * workload cannot be set up (no memory for its pages or children).
 */
std::vector<FpRow> measure_fp_rate(PinDesign d, const FpOptions& opt);

/** format_fp_table() - the text table `guplab fp-rate` prints. */
std::string format_fp_table(const std::vector<FpRow>& rows);

}  // namespace guplab
