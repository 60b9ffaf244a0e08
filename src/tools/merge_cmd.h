// merge_cmd.h - `guplab merge`: the JSON outputs of an exploration's shards (`guplab
// explore ... --shard K/N --format json`, one per machine or job-array task) merged into
// the result one unsharded run gives: runs, failures and the outcome histogram summed,
// the first failure the lowest failing run of any shard (its seed replays it).
//
//   guplab merge [--format text|json] [--check] FILE...     (FILE "-" is stdin)
//
// Every input must describe the same exploration (scenario, scripted, design, policy,
// strategy, base seed, seeds, buggify, expected outcome) and the same N, each shard K at
// most once; otherwise it names the file and the field and exits 2. Missing shards are
// reported (the result covers the shards given). Exit status as explore's: 0 when no
// failure is left unexplained (with --check: when the outcomes are as predicted), 1
// otherwise, 2 on bad usage or bad input.
//
// Threading: runs on the calling thread.
#pragma once

namespace guplab::tools {

int merge_main(int argc, char** argv);

}  // namespace guplab::tools
