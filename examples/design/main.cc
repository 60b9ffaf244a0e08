// main.cc - guplab's command with this project's design linked in: `design_example run
// --all` has a `bias4k` column, and `--design bias4k` runs it.
#include "tools/commands.h"

int main(int argc, char** argv) { return guplab::tools::main_dispatch(argc, argv); }
