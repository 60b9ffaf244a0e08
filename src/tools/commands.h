// commands.h - the guplab command's subcommands. Each returns a process exit code.
// Threading: called from main() only.
#pragma once

namespace guplab::tools {

int main_dispatch(int argc, char** argv);

}  // namespace guplab::tools
