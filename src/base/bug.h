// bug.h - BUG_ON and WARN_ON as results, not crashes (DESIGN decision 7).
//
// A BUG_ON that fires records an oops (site, task, message, recent events) on the
// running task's machine, marks the machine halted, and unwinds the task by throwing
// MachineHalted; the process goes on. Every blocking primitive of a halted machine
// throws MachineHalted too, so all of its tasks end. A WARN_ON records and counts.
//
// Threading: reports go to the running task's BugSink, which must be thread-safe.
#pragma once
#include <atomic>
#include <exception>
#include <string>

#include "base/compiler.h"

namespace guplab {

/** What one BUG or WARN hit looked like. */
struct BugReport {
  const char* kind;  // "BUG" or "WARNING"
  const char* file;
  int line;
  const char* func;
  const char* cond;
  std::string message;  // extra detail, e.g. a dump_page() line
  bool once;            // WARN_ON_ONCE: the sink reports each site once per machine
};

/** BugSink - where a task's BUGs and WARNs go: its Machine. */
class BugSink {
 public:
  virtual ~BugSink() = default;
  /** Record an oops and halt. Must not throw. */
  virtual void record_oops(const BugReport& r) noexcept = 0;
  virtual void record_warn(const BugReport& r) noexcept = 0;
  /** halted() - has the machine oopsed or been halted? One load, no call: the sim
   *  scheduler asks at every scheduling point. */
  bool halted() const noexcept { return halted_.load(std::memory_order_acquire); }

 protected:
  void set_halted() noexcept { halted_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> halted_{false};
};

/** Thrown to unwind a task whose machine has oopsed; caught at the task boundary. */
struct MachineHalted : std::exception {
  const char* what() const noexcept override { return "machine halted after an oops"; }
};

/** check_failed() - a GUPLAB_CHECK() failed: print the site and abort, in every build. */
[[noreturn]] void check_failed(const char* file, int line, const char* func, const char* cond) noexcept;

[[noreturn]] void bug_hit(const char* file, int line, const char* func, const char* cond,
                          std::string message = {});
void warn_hit(const char* file, int line, const char* func, const char* cond, bool once,
              std::string message = {}) noexcept;

/** throw_if_halted() - unwind the running task if its machine has oopsed. */
void throw_if_halted();

inline bool warn_on_impl(bool c, const char* file, int line, const char* func, const char* cond,
                         bool once) noexcept {
  if (unlikely(c)) warn_hit(file, line, func, cond, once);
  return c;
}

}  // namespace guplab

#define BUG() ::guplab::bug_hit(__FILE__, __LINE__, __func__, "BUG()")
#define BUG_ON(cond)                                                  \
  do {                                                                \
    if (unlikely(cond)) ::guplab::bug_hit(__FILE__, __LINE__, __func__, #cond); \
  } while (0)
#define BUG_ON_MSG(cond, msg)                                               \
  do {                                                                      \
    if (unlikely(cond)) ::guplab::bug_hit(__FILE__, __LINE__, __func__, #cond, (msg)); \
  } while (0)
#define WARN_ON(cond) ::guplab::warn_on_impl(!!(cond), __FILE__, __LINE__, __func__, #cond, false)
#define WARN_ON_ONCE(cond) \
  ::guplab::warn_on_impl(!!(cond), __FILE__, __LINE__, __func__, #cond, true)

// The model is a CONFIG_DEBUG_VM kernel: the VM_ checks that kernel code states its
// preconditions with are compiled into every build (never dropped as NDEBUG drops
// a C assert), and report as BUG_ON / WARN_ON_ONCE do: on the running task's machine.
#define VM_BUG_ON(cond) BUG_ON(cond)
#define VM_WARN_ON_ONCE(cond) WARN_ON_ONCE(cond)
/**
 * GUPLAB_CHECK(cond) - a precondition of lab machinery (the sim scheduler, fio, the
 * scenarios, base/ internals that run outside any task or in noexcept paths): checked in
 * every build; a failure prints the site and aborts the process.
 */
#define GUPLAB_CHECK(cond) \
  (likely(cond) ? static_cast<void>(0) : ::guplab::check_failed(__FILE__, __LINE__, __func__, #cond))
