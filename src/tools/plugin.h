// plugin.h - `--plugin LIB.so`: shared libraries loaded before the command line is
// parsed, whose static initializers register scenarios, pin designs and writeback
// policies (lab/scenario.h, machine/registry.h, mm/pin_registry.h).
//
// A plugin is built against guplab's headers without its library (the package's target
// guplab::plugin): the guplab command exports its symbols, and the plugin's references
// bind to them, so it registers into the command's own registries.
//
// Threading: called from main() only, before any machine boots.
#pragma once
#include <string>
#include <vector>

namespace guplab::tools {

/**
 * load_plugins() - dlopen() every `--plugin PATH` or `--plugin=PATH` of @args (wherever
 * it stands after the program name) in order, and remove them from @args. Returns 0,
 * or -1 with @error set ("--plugin PATH: why") if an option lacks its path or a library
 * does not load. A library whose registration is refused exits the process (status 2).
 */
int load_plugins(std::vector<char*>* args, std::string* error);

}  // namespace guplab::tools
