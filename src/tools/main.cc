// main.cc - the guplab command: subcommands for demos, gup_test, fio, scenarios.
#include "tools/commands.h"

int main(int argc, char** argv) { return guplab::tools::main_dispatch(argc, argv); }
