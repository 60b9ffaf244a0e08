// demo_cmd.h - `guplab demo`, the headline experiment (what `make demo` runs).
// Threading: called from main() only.
#pragma once

namespace guplab::tools {

/** demo_main() - parse @argv (after "demo"), run the demo, print. Returns the exit code. */
int demo_main(int argc, char** argv);

}  // namespace guplab::tools
