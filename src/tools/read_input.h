// read_input.h - a subcommand's input file read whole: a path, or "-" for stdin. An input
// is a JSON output of guplab or a job file: at most kMaxInputBytes, so /dev/zero or a
// wrong file cannot take memory without bound; a path must name a regular file or a
// pipe (not a directory or a device).
// Threading: called from a subcommand's main only.
#pragma once
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace guplab::tools {

/** The largest input read_input() takes (guplab's largest JSON outputs are a few MiB). */
inline constexpr size_t kMaxInputBytes = 256u << 20;

/**
 * read_input() - the contents of @file ("-": all of stdin) into *@text. Returns "" or a
 * message naming the file and why it cannot be read: missing, unreadable, a directory
 * or device, or longer than kMaxInputBytes (read no further than that).
 */
inline std::string read_input(const std::string& file, std::string* text) {
  FILE* in = stdin;
  if (file != "-") {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return fmt::format("{}: cannot read it: {}", file, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return fmt::format("{}: cannot read it: {}", file, std::strerror(EISDIR));
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
      return fmt::format("{}: cannot read it: not a regular file or a pipe", file);
    in = std::fopen(file.c_str(), "rb");
    if (!in) return fmt::format("{}: cannot read it: {}", file, std::strerror(errno));
  }
  std::string out;
  char buf[1 << 16];
  bool too_long = false;
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), in)) > 0;) {
    if (out.size() + n > kMaxInputBytes) {
      too_long = true;
      break;
    }
    out.append(buf, n);
  }
  const bool failed = std::ferror(in);
  const int err = errno;
  if (in != stdin) std::fclose(in);
  if (too_long) return fmt::format("{}: longer than {} MiB: not an input of guplab", file, kMaxInputBytes >> 20);
  if (failed) return fmt::format("{}: cannot read it: {}", file, std::strerror(err));
  *text = std::move(out);
  return "";
}

}  // namespace guplab::tools
