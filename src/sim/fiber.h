// fiber.h - one execution context of the sim backend: a Boost.Context fcontext on a
// pooled, guarded stack, and the two switches (scheduler -> fiber, fiber -> scheduler).
//
// It uses Boost.Context's low-level make_fcontext/jump_fcontext rather than
// boost::context::fiber so that the last switch out of a finished fiber is ours: ASan's
// fake stack of the fiber must be released at that very switch, after which no frame of
// the fiber may be touched (boost::context::fiber still writes its entry function's
// result into such a frame, which crashes under detect_stack_use_after_return). The jump
// itself is guplab_fiber_jump() (sim/fiber_jump.h): jump_fcontext()'s contract, ending in
// `ret`, which keeps the CPU's return predictions in step across a switch.
//
// The scheduler calls resume(); the body runs until it calls suspend() or returns, or
// hands the thread straight to another fiber with switch_to() (one switch instead of two
// through the scheduler); resume() returns when whichever fiber runs then suspends or
// returns. Every switch is announced to AddressSanitizer (__sanitizer_start/finish_switch_fiber) in
// GUPLAB_ASAN builds and to ThreadSanitizer (__tsan_switch_to_fiber, synchronizing) in
// GUPLAB_TSAN builds, so both see each fiber as its own stack and a switch as a
// happens-before edge (which it is: one OS thread runs everything). The C++ runtime's
// per-thread exception state (the caught-exception stack, std::uncaught_exceptions()) is
// swapped on every switch too, so a fiber that is switched out inside a catch block or
// while unwinding does not see, or disturb, another fiber's exceptions.
//
// Threading: single OS thread. A Fiber must finish before it is destroyed: its stack
// goes back to the pool when the body returns.
#pragma once
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/stack_context.hpp>
#include <cstddef>
#include <functional>

#include "sim/stack_pool.h"

namespace guplab {

class Fiber {
 public:
  /** Body of a fiber; must not throw (catch at the task boundary, run_task_body()). */
  using Body = std::function<void()>;

  /** Create a fiber that will run @body on a stack from @pool. Does not start it. */
  Fiber(StackPool* pool, Body body);
  /** REQUIRES: finished() or !started(). */
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  /** resume() - run the fiber until it suspends or ends. REQUIRES: called from the
   *  scheduler's context, !finished(). */
  void resume();
  /** suspend() - return to the scheduler. REQUIRES: called from inside this fiber. */
  void suspend();
  /**
   * switch_to() - run @next (suspended, or not started yet) in place of this fiber,
   * without passing through the scheduler: @next's suspend() or end returns to the
   * scheduler's resume() this fiber would have returned to. Returns when something
   * switches back to this fiber. REQUIRES: called from inside this fiber; &next != this,
   * !next.finished().
   */
  void switch_to(Fiber& next);
  /** finished() - the body has returned; the stack went back to the pool. */
  bool finished() const { return finished_; }
  bool started() const { return started_; }

 private:
  using fcontext_t = boost::context::detail::fcontext_t;
  using transfer_t = boost::context::detail::transfer_t;

  /** One switch, passed through jump_fcontext(): who left (null: the scheduler), who lands. */
  struct Hop {
    Fiber* from;
    Fiber* to;
  };
  static void entry(transfer_t from) noexcept;
  [[noreturn]] static void exit_to_scheduler(Fiber* self) noexcept;
  /** arrived() - in the fiber @t landed in: keep the context the previous side left. */
  static Hop arrived(transfer_t t);
  /** land_here() - this fiber runs again after suspend() or switch_to(): tell ASan. */
  void land_here(const Hop& hop);

  StackPool* pool_;
  boost::context::stack_context stack_;
  fcontext_t ctx_ = nullptr;   // this fiber while it is suspended (or not yet started)
  fcontext_t back_ = nullptr;  // the scheduler while this fiber runs (handed on by switch_to())
  Body body_;
  bool started_ = false;
  bool finished_ = false;
  // AddressSanitizer: this fiber's stack, the scheduler's stack (learned when the
  // scheduler switches in, handed on by switch_to()), and the fake stack saved while
  // suspended.
  const void* stack_bottom_ = nullptr;
  size_t stack_size_ = 0;
  const void* sched_bottom_ = nullptr;
  size_t sched_size_ = 0;
  void* fake_stack_ = nullptr;
  // The runtime's exception globals of this fiber while it is suspended.
  void* eh_caught_ = nullptr;
  unsigned int eh_uncaught_ = 0;
  // ThreadSanitizer: this fiber's context and the scheduler's (handed on by switch_to()).
  void* tsan_fiber_ = nullptr;
  void* tsan_sched_ = nullptr;
};

}  // namespace guplab
