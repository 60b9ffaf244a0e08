// preempt.cc - entering and leaving atomic context; the might_sleep() report.
#include "base/preempt.h"

#include <string>

namespace guplab {

namespace {
task_struct* self() {
  task_struct* t = current();
  BUG_ON(!t);
  return t;
}
}  // namespace

void preempt_disable() { self()->preempt_count += PREEMPT_OFFSET; }

void preempt_enable() {
  task_struct* t = self();
  if (WARN_ON_ONCE((t->preempt_count & PREEMPT_MASK) == 0)) return;
  t->preempt_count -= PREEMPT_OFFSET;
}

void irq_enter() { self()->preempt_count += HARDIRQ_OFFSET; }

void irq_exit() {
  task_struct* t = self();
  if (WARN_ON_ONCE(t->preempt_count < HARDIRQ_OFFSET)) return;
  t->preempt_count -= HARDIRQ_OFFSET;
}

void __might_sleep_report(const char* file, int line, const char* func) {
  const task_struct* t = current();
  std::string msg = "in_atomic(): 1, in_interrupt(): ";
  msg += t->preempt_count >= HARDIRQ_OFFSET ? "1" : "0";
  msg += ", preempt_count: " + std::to_string(t->preempt_count) + ", pid: " + std::to_string(t->pid) +
         ", name: " + t->comm;
  BugReport r{"BUG", file, line, func, kMightSleepCond, std::move(msg), true};
  if (t->bugs) t->bugs->record_warn(r);
}

}  // namespace guplab
