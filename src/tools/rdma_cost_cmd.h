// rdma_cost_cmd.h - `guplab rdma-cost`: the cost of giving an RDMA-like device user
// memory, per registered page and per invalidation, for each device mode (plain
// pinning, on-demand paging, ...), with what each guarantees (lab/rdma_cost.h).
//
//   guplab rdma-cost [--mode M] [--pages N] [--rounds R] [--invalidations K] [--runs N]
//                    [--format text|json]
//
// Prints one row per mode: median host ns per registered page (register + deregister),
// median host ns per invalidation round, coherent rounds, pins held while registered.
// Exit code 1 if a mode failed, 2 on a usage error.
//
// Threading: runs on the calling thread.
#pragma once

namespace guplab::tools {

int rdma_cost_main(int argc, char** argv);

}  // namespace guplab::tools
