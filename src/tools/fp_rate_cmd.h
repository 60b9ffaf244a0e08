// fp_rate_cmd.h - `guplab fp-rate`: the false-positive rate of page_maybe_dma_pinned()
// per pin design on the workloads of lab/fp_rate.h.
//
//   guplab fp-rate [--design D] [--format text|json] [--max-refs N] [--max-forks N]
//                  [--mix-pages N]
//
// Prints one row per design and workload: samples of an unpinned page, false positives,
// their rate, the refcount of the first false positive, and false negatives over the
// pinned samples. Exit code 1 if a tracking design (any but `get`) had a false
// negative, 2 on a usage error.
//
// Threading: runs on the calling thread.
#pragma once

namespace guplab::tools {

int fp_rate_main(int argc, char** argv);

}  // namespace guplab::tools
