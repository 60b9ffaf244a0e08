// dispatch.cc - the subcommand table of the guplab command.
#include <fmt/format.h>

#include <cstring>
#include <string>

#include "machine/machine.h"
#include "tools/commands.h"

namespace guplab::tools {

int main_dispatch(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    fmt::print("usage: guplab <command> [options]\n\ncommands:\n  demo\n");
    return argc < 2 ? 2 : 0;
  }
  fmt::print(stderr, "guplab: unknown command '{}'\n", argv[1]);
  return 2;
}

}  // namespace guplab::tools
