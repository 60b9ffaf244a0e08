// dispatch.cc - the subcommand table of the guplab command.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

#include "tools/commands.h"
#include "tools/conform_cmd.h"
#include "tools/demo_cmd.h"
#include "tools/explore_cmd.h"
#include "tools/fio_cmd.h"
#include "tools/fp_rate_cmd.h"
#include "tools/gup_test.h"
#include "tools/merge_cmd.h"
#include "tools/plugin.h"
#include "tools/mmap_lock_bench.h"
#include "tools/rdma_cost_cmd.h"
#include "tools/report_cmd.h"
#include "tools/run_cmd.h"

namespace guplab::tools {

namespace {
struct Command {
  const char* name;
  const char* help;
  int (*main)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"conform", "Linux conformance: cow.c/gup_longterm.c cases on the host kernel and the model, side by side",
     conform_main},
    {"demo", "the headline experiment: scenario matrix, pin cost and fio per design (make demo)", demo_main},
    {"explore", "run a scenario under many sim schedules (histogram, first failing seed); --replay SEED --trace F.json",
     explore_main},
    {"fio", "run a fio job file through the model's O_DIRECT path and print fio's report", fio_main},
    {"fp-rate", "false-positive rate of page_maybe_dma_pinned() per design (refs, fork, THP, mix)", fp_rate_main},
    {"gup_test", "the kernel's gup_test selftest (-u -a -L -U -b -m -n -r -j -t -T -w -W -S -z) on the model",
     gup_test_main},
    {"merge", "merge the JSON outputs of an exploration's shards (explore --shard K/N) into one result", merge_main},
    {"mmap-lock-bench", "seed 001: a writer's mmap_lock wait while GUP faults from a slow disk, retry on vs off",
     mmap_lock_bench_main},
    {"rdma-cost", "cost per registered page and per invalidation: pinning vs on-demand paging (seed 003)",
     rdma_cost_main},
    {"report", "one self-contained HTML page of a matrix run, explorations and pin costs (-o OUT.html)", report_main},
    {"run", "run the seed scenarios: one (SCENARIO --design D --policy P) or the matrix (--all)", run_main},
};

int usage(FILE* out) {
  fmt::print(out,
             "usage: guplab [--plugin LIB.so]... <command> [options]   (guplab <command> --help for its options)\n"
             "  --plugin LIB.so  load LIB.so first (anywhere on the line): the scenarios, pin designs and\n"
             "                   writeback policies it registers join guplab's own\n\ncommands:\n");
  for (const auto& c : kCommands) fmt::print(out, "  {:<16} {}\n", c.name, c.help);
  return out == stderr ? 2 : 0;
}

// A command's run: an exception that escapes it is reported, not an abort; output that
// could not all be written (a full disk, a closed pipe) fails the run, since a caller
// keeping `guplab ... > out.json` would otherwise take a truncated file for a result.
int run_command(const Command& c, int argc, char** argv) {
  int rc;
  try {
    rc = c.main(argc, argv);
  } catch (const std::system_error& e) {  // fmt's failed writes among them
    fmt::print(stderr, "guplab {}: {}\n", c.name, e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "guplab {}: internal error: {}\n", c.name, e.what());
    return 1;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int err = errno;
    fmt::print(stderr, "guplab {}: writing the output failed: {}\n", c.name, std::strerror(err ? err : EIO));
    return rc ? rc : 1;
  }
  return rc;
}
}  // namespace

int main_dispatch(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  std::string error;
  if (load_plugins(&args, &error) != 0) {
    fmt::print(stderr, "guplab: {}\n", error);
    return 2;
  }
  args.push_back(nullptr);  // argv[argc] is a null pointer, as main()'s
  argc = static_cast<int>(args.size()) - 1;
  argv = args.data();
  if (argc < 2) return usage(stderr);
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) return usage(stdout);
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return run_command(c, argc - 1, argv + 1);
  fmt::print(stderr, "guplab: unknown command '{}'\n", argv[1]);
  usage(stderr);
  return 2;
}

}  // namespace guplab::tools
