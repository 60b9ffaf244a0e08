// task.h - model tasks (struct task_struct) and `current`.
//
// A task is a thread of the model kernel: a user process's thread, a flusher, a device's
// completion context. In the native backend each task is an OS thread; in the sim
// backend each is a fiber. current() is the running task (thread-local natively, set
// by the scheduler on every fiber switch under sim).
//
// Threading: a task_struct is written by its creator before spawn and read by anyone;
// the atomics may be touched by any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/bug.h"
#include "base/random.h"

namespace guplab {

class Machine;
struct mm_struct;
struct blk_plug;
struct files_struct;

struct task_struct {
  int pid = 0;
  std::string comm;
  Machine* machine = nullptr;  // the machine this task runs on
  BugSink* bugs = nullptr;     // where BUG/WARN go (the machine)
  mm_struct* mm = nullptr;     // user address space, or nullptr for kernel threads
  Random rng;
  std::atomic<bool> fatal_signal{false};
  std::atomic<std::atomic<uint32_t>*> killable_wait{nullptr};  // the word of a TASK_KILLABLE sleep (futex_wait_killable())
  std::atomic<uint32_t> exited{0};  // 1 once the task function has returned
  bool rcu_registered_here = false;  // native: this task registered its thread with RCU
  int rcu_nesting = 0;               // read-side nesting depth (debug checks, sim)
  void* backend = nullptr;           // backend-private (native thread, sim fiber)
  blk_plug* plug = nullptr;          // block layer: the task's open plug (blk_start_plug())
  files_struct* files = nullptr;     // open files (fs/file.h), or nullptr; set by its user
  int preempt_count = 0;             // base/preempt.h: atomic/irq context nesting; only the task itself
  void* fake_vma_pin = nullptr;      // mm/fake_vma.h: the pin_user_pages_fake() call collecting its fake vmas
};

/** What a new task starts with. */
struct TaskInit {
  std::string comm;
  Machine* machine = nullptr;
  BugSink* bugs = nullptr;
  mm_struct* mm = nullptr;
  int pid = 0;
  uint64_t seed = 0;
};

extern constinit thread_local task_struct* tls_current;

/** current() - the running model task, or nullptr on a thread that is not one. */
inline task_struct* current() { return tls_current; }
/** set_current() - used by backends when they switch tasks. */
inline void set_current(task_struct* t) { tls_current = t; }

/**
 * task_spawn() - start a task running @fn.
 * A BUG inside @fn ends the task (its oops is on the machine); any other escaping
 * exception is recorded as an oops too.
 * Returns the task; the caller must task_join() it exactly once.
 */
task_struct* task_spawn(const TaskInit& init, std::function<void()> fn);

/** task_join() - wait for @t to finish, then free it. */
void task_join(task_struct* t);

/** fatal_signal_pending() - has @t been killed? */
inline bool fatal_signal_pending(const task_struct* t) {
  return t && t->fatal_signal.load(std::memory_order_relaxed);
}
/**
 * send_sig_kill() - SIGKILL @t: wake it if it sleeps killable (futex_wait_killable()), so
 * that its killable wait returns -EINTR (signal_wake_up() of a TASK_KILLABLE sleeper).
 */
void send_sig_kill(task_struct* t);

/**
 * TaskScope - makes the calling OS thread a model task for the scope's lifetime (tests,
 * the command's main thread, a sim backend's driver). Restores the previous current.
 */
class TaskScope {
 public:
  explicit TaskScope(const TaskInit& init);
  ~TaskScope();
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;
  task_struct* task() { return &task_; }

 private:
  task_struct task_;
  task_struct* prev_;
};

/** task_struct_init() - fill a fresh @t from @init (backends that own their tasks). */
void task_struct_init(task_struct* t, const TaskInit& init);

/** run_task_body() - run @fn as @t's body, catching what ends a task. Backends use it. */
void run_task_body(task_struct* t, const std::function<void()>& fn) noexcept;

}  // namespace guplab
