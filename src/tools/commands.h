// commands.h - the guplab command's subcommands. Each returns a process exit code.
// Threading: called from main() only.
#pragma once

namespace guplab::tools {

/**
 * main_dispatch() - the guplab command: load every `--plugin LIB.so` (tools/plugin.h),
 * then run the subcommand argv[1] names with the rest of the line. A subcommand that
 * throws exits 1 with the exception's message on stderr; one whose standard output could
 * not all be written (ENOSPC, EPIPE, ...) exits nonzero (1 unless it failed already).
 */
int main_dispatch(int argc, char** argv);

}  // namespace guplab::tools
