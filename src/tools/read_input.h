// read_input.h - a subcommand's input file read whole: a path, or "-" for stdin.
// Threading: called from a subcommand's main only.
#pragma once
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace guplab::tools {

/**
 * read_input() - the contents of @file ("-": all of stdin) into *@text. Returns "" or a
 * message naming the file and why it cannot be read.
 */
inline std::string read_input(const std::string& file, std::string* text) {
  std::ostringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) return fmt::format("{}: cannot read it: {}", file, std::strerror(errno));
    ss << in.rdbuf();
  }
  *text = ss.str();
  return "";
}

}  // namespace guplab::tools
