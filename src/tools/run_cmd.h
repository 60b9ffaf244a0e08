// run_cmd.h - `guplab run`: run the seed scenarios under a pin design and a writeback
// policy, one cell or the whole design x policy matrix.
//
//   guplab run SCENARIO --design D --policy P [--seed S] [--backend sim|native] [--format text|json]
//   guplab run --all [--seed S] [--backend sim|native] [--format text|json]
//   guplab run --list
//
// One run prints the outcome, its reason, every oracle's finding and, for an oops,
// the oops report with the events that led to it. --all prints one table per scenario
// with a verdict per row (expected vs got) and each cell's reason. The exit code is 1
// if any cell run differs from its expected outcome, 2 on a usage error.
//
// Threading: runs on the calling thread.
#pragma once

namespace guplab::tools {

int run_main(int argc, char** argv);

}  // namespace guplab::tools
