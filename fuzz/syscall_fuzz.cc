// syscall_fuzz.cc - libFuzzer target: a syscall sequence on a small Machine (see
// syscall_program.h for the operations and the checks). A failed check aborts with its
// message, so libFuzzer keeps the input as a crash.
#include <cstdio>
#include <cstdlib>

#include "fuzz/syscall_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = guplab::fuzz::run_syscall_program(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "syscall_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
