// tool_runner.h - what the tests of guplab's subcommands share: where the guplab binary
// and the source tree are, reading a file whole, and running the binary with its output
// captured.
// Threading: test bodies only.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace guplab::testing {

/** guplab_bin() - the guplab binary: $GUPLAB_BIN (ctest sets it), else beside this test binary. */
inline std::string guplab_bin() {
  if (const char* b = std::getenv("GUPLAB_BIN")) return b;
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "guplab").string();
}

/**
 * source_dir() - the source tree: $GUPLAB_SOURCE_DIR (ctest sets it) if not empty, else three levels
 * up from the test binary's path (build/<preset>/<name>_tests).
 */
inline std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("GUPLAB_SOURCE_DIR"); dir && *dir) return dir;
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path();
}

/** slurp() - the whole of file @p ("" if it cannot be read). */
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/** What a run of the binary ended with: its exit status (-1: killed) and its output. */
struct Ran {
  int status = -1;
  std::string out, err;
};

/**
 * run_guplab() - `guplab @args` run by the shell in directory @dir (which must exist),
 * with stdout and stderr captured apart (in files of @dir, removed afterwards).
 */
inline Ran run_guplab(const std::string& args, const std::filesystem::path& dir) {
  // Named by this test process's pid: ctest runs tests in parallel, several in one @dir.
  const std::string tag = std::to_string(::getpid());
  const std::filesystem::path out = dir / ("guplab-out." + tag + ".txt"), err = dir / ("guplab-err." + tag + ".txt");
  const std::string cmd = "cd '" + dir.string() + "' && '" + guplab_bin() + "' " + args + " >'" + out.string() +
                          "' 2>'" + err.string() + "'";
  Ran r;
  const int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace guplab::testing
