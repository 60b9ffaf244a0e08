// usage_exit.h - one exit status for bad usage across guplab's subcommands.
// Threading: called from a subcommand's main only.
#pragma once
#include <CLI/CLI.hpp>

namespace guplab::tools {

/**
 * usage_exit() - print CLI11's message for @e (help, version or the reason the command
 * line was refused) and return the process exit status: 0 for --help, 2 for bad usage
 * (CLI11's own codes, such as 105 for a failed validator, are not what the README says).
 */
inline int usage_exit(CLI::App& app, const CLI::ParseError& e) { return app.exit(e) == 0 ? 0 : 2; }

}  // namespace guplab::tools
