// preempt.h - atomic and interrupt context, and might_sleep() (the kernel's
// include/linux/preempt.h and CONFIG_DEBUG_ATOMIC_SLEEP).
//
// Each task carries a preempt_count: preempt_disable() nesting in the low byte and
// hard-interrupt nesting (irq_enter()/irq_exit()) above it, as in the kernel. The block
// layer runs every bio's bi_end_io inside irq_enter()/irq_exit() on the device's
// completion task (block/blkdev.h), which is the model's interrupt context.
//
// might_sleep() goes first in every primitive that may sleep (rw_semaphore down_*,
// wait_event*, wait_on_bit*, the page lock, sleep_ns(), cond_resched()). Called in
// atomic context it does not stop the task: like the kernel's __might_sleep() it
// records a report on the machine, a WARN-like result (base/bug.h) whose kind is "BUG"
// and whose condition reads "sleeping function called from invalid context", at the
// file:line of the might_sleep() call, once per site and machine. The primitive then
// goes on (and may really sleep: the model's completion task can).
//
// Departure from the kernel: spin_lock() does not raise preempt_count here, so a sleep
// under a spinlock is not reported; only the contexts entered explicitly are atomic.
//
// Threading: preempt_count belongs to the running task; only current() touches it.
#pragma once
#include "base/task.h"

namespace guplab {

/** The condition of a might_sleep() report (OopsRecord::cond). */
inline constexpr const char* kMightSleepCond = "sleeping function called from invalid context";

inline constexpr int PREEMPT_OFFSET = 1;
inline constexpr int HARDIRQ_OFFSET = 1 << 16;
inline constexpr int PREEMPT_MASK = HARDIRQ_OFFSET - 1;

/** preempt_count() - the running task's count (0 on a thread that is no model task). */
inline int preempt_count() {
  const task_struct* t = current();
  return t ? t->preempt_count : 0;
}
/** in_interrupt() / in_hardirq() - is the running task in (hard) interrupt context? */
inline bool in_hardirq() { return preempt_count() >= HARDIRQ_OFFSET; }
inline bool in_interrupt() { return in_hardirq(); }
/** in_atomic() - may the running task not sleep (interrupt, or preemption disabled)? */
inline bool in_atomic() { return preempt_count() != 0; }

/** preempt_disable() / preempt_enable() - enter / leave an atomic section. REQUIRES: a model task. */
void preempt_disable();
void preempt_enable();
/** irq_enter() / irq_exit() - enter / leave interrupt context. REQUIRES: a model task. */
void irq_enter();
void irq_exit();

/** IrqContext - irq_enter() for the scope (the block layer's bio completion). */
class IrqContext {
 public:
  IrqContext() { irq_enter(); }
  ~IrqContext() { irq_exit(); }
  IrqContext(const IrqContext&) = delete;
  IrqContext& operator=(const IrqContext&) = delete;
};

/**
 * LabSleepScope - lab machinery that blocks a task on a test's behalf (sync points)
 * runs outside the task's atomic context for the scope: it is not the model sleeping.
 */
class LabSleepScope {
 public:
  LabSleepScope() : t_(current()), saved_(t_ ? t_->preempt_count : 0) {
    if (t_) t_->preempt_count = 0;
  }
  ~LabSleepScope() {
    if (t_) t_->preempt_count = saved_;
  }
  LabSleepScope(const LabSleepScope&) = delete;
  LabSleepScope& operator=(const LabSleepScope&) = delete;

 private:
  task_struct* t_;
  int saved_;
};

/**
 * __might_sleep() - report a sleep attempted in atomic context (see above). Cheap when
 * not atomic: one thread-local load and a branch.
 */
void __might_sleep_report(const char* file, int line, const char* func);
inline void __might_sleep(const char* file, int line, const char* func) {
  const task_struct* t = current();
  if (unlikely(t && t->preempt_count != 0)) __might_sleep_report(file, line, func);
}

}  // namespace guplab

/** might_sleep() - this may sleep: report it if the running task is in atomic context. */
#define might_sleep() ::guplab::__might_sleep(__FILE__, __LINE__, __func__)
