// main.cc - guplab's command with this project's scenario linked in: every subcommand of
// `guplab` (run, explore, run --all for the matrix) sees `dma-after-dontneed`.
#include "tools/commands.h"

int main(int argc, char** argv) { return guplab::tools::main_dispatch(argc, argv); }
