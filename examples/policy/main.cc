// main.cc - guplab's command with this project's policy linked in: `policy_example run
// --all` has a `revoke_redirty` column, and `--policy revoke_redirty` runs it.
#include "tools/commands.h"

int main(int argc, char** argv) { return guplab::tools::main_dispatch(argc, argv); }
