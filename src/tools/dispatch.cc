// dispatch.cc - the subcommand table of the guplab command.
#include <fmt/format.h>

#include <cstring>
#include <string>

#include "tools/commands.h"
#include "tools/demo_cmd.h"
#include "tools/explore_cmd.h"
#include "tools/fio_cmd.h"
#include "tools/fp_rate_cmd.h"
#include "tools/gup_test.h"
#include "tools/merge_cmd.h"
#include "tools/rdma_cost_cmd.h"
#include "tools/run_cmd.h"

namespace guplab::tools {

namespace {
struct Command {
  const char* name;
  const char* help;
  int (*main)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"demo", "the headline experiment: scenario matrix, pin cost and fio per design (make demo)", demo_main},
    {"explore", "run a scenario under many sim schedules (histogram, first failing seed); --replay SEED --trace F.json",
     explore_main},
    {"fio", "run a fio job file through the model's O_DIRECT path and print fio's report", fio_main},
    {"fp-rate", "false-positive rate of page_maybe_dma_pinned() per design (refs, fork, THP, mix)", fp_rate_main},
    {"gup_test", "the kernel's gup_test selftest (-u -a -L -U -b -m -n -r -j -t -T -w -W -S -z) on the model",
     gup_test_main},
    {"merge", "merge the JSON outputs of an exploration's shards (explore --shard K/N) into one result", merge_main},
    {"rdma-cost", "cost per registered page and per invalidation: pinning vs on-demand paging (seed 003)",
     rdma_cost_main},
    {"run", "run the seed scenarios: one (SCENARIO --design D --policy P) or the matrix (--all)", run_main},
};

int usage(FILE* out) {
  fmt::print(out, "usage: guplab <command> [options]   (guplab <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : kCommands) fmt::print(out, "  {:<10} {}\n", c.name, c.help);
  return out == stderr ? 2 : 0;
}
}  // namespace

int main_dispatch(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) return usage(stdout);
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.main(argc - 1, argv + 1);
  fmt::print(stderr, "guplab: unknown command '{}'\n", argv[1]);
  usage(stderr);
  return 2;
}

}  // namespace guplab::tools
