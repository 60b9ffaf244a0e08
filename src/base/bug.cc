// bug.cc - routing BUG and WARN hits to the running task's machine.
#include "base/bug.h"

#include <cstdio>
#include <cstdlib>

#include "base/task.h"

namespace guplab {

void bug_hit(const char* file, int line, const char* func, const char* cond, std::string message) {
  BugReport r{"BUG", file, line, func, cond, std::move(message), false};
  task_struct* t = current();
  if (t && t->bugs) {
    t->bugs->record_oops(r);
    throw MachineHalted();
  }
  std::fprintf(stderr, "guplab: BUG at %s:%d (%s): %s %s\n", file, line, func, cond, r.message.c_str());
  std::abort();
}

void check_failed(const char* file, int line, const char* func, const char* cond) noexcept {
  std::fprintf(stderr, "guplab: check failed at %s:%d (%s): %s\n", file, line, func, cond);
  std::fflush(stderr);
  std::abort();
}

void warn_hit(const char* file, int line, const char* func, const char* cond, bool once,
              std::string message) noexcept {
  BugReport r{"WARNING", file, line, func, cond, std::move(message), once};
  task_struct* t = current();
  if (t && t->bugs) {
    t->bugs->record_warn(r);
    return;
  }
  std::fprintf(stderr, "guplab: WARNING at %s:%d (%s): %s %s\n", file, line, func, cond, r.message.c_str());
}

void throw_if_halted() {
  task_struct* t = current();
  if (t && t->bugs && t->bugs->halted()) throw MachineHalted();
}

}  // namespace guplab
