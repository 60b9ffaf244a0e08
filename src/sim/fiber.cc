// fiber.cc - Boost.Context fibers with sanitizer switch annotations.
#include "sim/fiber.h"
#include "sim/fiber_jump.h"
#include "base/bug.h"

#include <cxxabi.h>

#include <utility>

#if defined(GUPLAB_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GUPLAB_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace guplab {

namespace {
// The layout libstdc++ and libc++abi both use for __cxa_eh_globals (opaque in cxxabi.h).
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};
// The runtime's own lookup is a call into the C++ runtime's TLS (__tls_get_addr) at
// every switch; the block never moves for the life of a thread, so keep its address.
constinit thread_local EhGlobals* tls_eh_globals = nullptr;
inline EhGlobals* eh_globals() {
  if (!tls_eh_globals) [[unlikely]]
    tls_eh_globals = reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
  return tls_eh_globals;
}

#if defined(GUPLAB_ASAN)
inline void asan_start(void** fake_save, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_save, bottom, size);
}
inline void asan_finish(void* fake, const void** bottom_old, size_t* size_old) {
  __sanitizer_finish_switch_fiber(fake, bottom_old, size_old);
}
#else
inline void asan_start(void**, const void*, size_t) {}
inline void asan_finish(void*, const void**, size_t*) {}
#endif

#if defined(GUPLAB_TSAN)
inline void* tsan_create() { return __tsan_create_fiber(0); }
inline void tsan_destroy(void* f) { __tsan_destroy_fiber(f); }
inline void* tsan_current() { return __tsan_get_current_fiber(); }
// Flag 0: the switch synchronizes, so TSan orders everything the fibers do, as the
// single OS thread really does.
inline void tsan_switch(void* f) { __tsan_switch_to_fiber(f, 0); }
#else
inline void* tsan_create() { return nullptr; }
inline void tsan_destroy(void*) {}
inline void* tsan_current() { return nullptr; }
inline void tsan_switch(void*) {}
#endif
}  // namespace

Fiber::Fiber(StackPool* pool, Body body) : pool_(pool), body_(std::move(body)) {
  GUPLAB_CHECK(pool && body_);
  stack_ = pool->allocate();
  stack_size_ = stack_.size;
  stack_bottom_ = static_cast<char*>(stack_.sp) - stack_.size;
  ctx_ = boost::context::detail::make_fcontext(stack_.sp, stack_.size, &Fiber::entry);
  tsan_fiber_ = tsan_create();
}

Fiber::~Fiber() {
  GUPLAB_CHECK((finished_ || !started_) && "destroying a suspended fiber");
  if (!finished_) pool_->deallocate(stack_);  // never started: nothing ran on it
  if (tsan_fiber_) tsan_destroy(tsan_fiber_);
}

Fiber::Hop Fiber::arrived(transfer_t t) {
  const Hop hop = *static_cast<const Hop*>(t.data);  // read before the other side may run again
  if (hop.from)
    hop.from->ctx_ = t.fctx;  // a fiber switched here: where it resumes later
  else
    hop.to->back_ = t.fctx;  // the scheduler switched here: where to return
  return hop;
}

void Fiber::entry(transfer_t from) noexcept {
  const Hop hop = arrived(from);
  Fiber* self = hop.to;
  const void* bottom = nullptr;
  size_t size = 0;
  asan_finish(nullptr, &bottom, &size);
  if (!hop.from) {
    self->sched_bottom_ = bottom;
    self->sched_size_ = size;
  }
  {
    // Run and destroy the body here, so whatever it captured dies inside the fiber.
    Body body = std::move(self->body_);
    body();
  }
  self->finished_ = true;
  exit_to_scheduler(self);
}

// Not instrumented by ASan: once the fiber's fake stack is released below, nothing may
// touch a frame on it, and this function's own frame is on the real stack.
__attribute__((no_sanitize("address"), noinline)) void Fiber::exit_to_scheduler(Fiber* self) noexcept {
  asan_start(nullptr, self->sched_bottom_, self->sched_size_);  // null: the fake stack dies
  tsan_switch(self->tsan_sched_);
  Hop hop{self, nullptr};
  guplab_fiber_jump(self->back_, &hop);
  __builtin_unreachable();  // the scheduler never resumes a finished fiber
}

void Fiber::resume() {
  GUPLAB_CHECK(!finished_ && ctx_);
  started_ = true;
  tsan_sched_ = tsan_current();
  EhGlobals* eh = eh_globals();
  const EhGlobals sched_eh = *eh;
  *eh = {eh_caught_, eh_uncaught_};
  void* sched_fake = nullptr;
  asan_start(&sched_fake, stack_bottom_, stack_size_);
  tsan_switch(tsan_fiber_);
  Hop hop{nullptr, this};
  transfer_t t = guplab_fiber_jump(ctx_, &hop);
  // Back from whichever fiber ran last: this one, or one it (or another) switched to.
  Fiber* last = arrived(t).from;
  asan_finish(sched_fake, nullptr, nullptr);
  // @eh is still this OS thread's: every fiber runs on the thread that resumes it.
  last->eh_caught_ = eh->caught_exceptions;
  last->eh_uncaught_ = eh->uncaught_exceptions;
  *eh = sched_eh;
  if (last->finished_) {
    last->ctx_ = nullptr;
    last->pool_->deallocate(last->stack_);  // nothing runs on it any more
  }
}

void Fiber::suspend() {
  GUPLAB_CHECK(back_ && "suspend() outside this fiber");
  asan_start(&fake_stack_, sched_bottom_, sched_size_);
  tsan_switch(tsan_sched_);
  Hop hop{this, nullptr};
  transfer_t t = guplab_fiber_jump(back_, &hop);
  land_here(arrived(t));
}

void Fiber::switch_to(Fiber& next) {
  GUPLAB_CHECK(back_ && &next != this && !next.finished_ && next.ctx_);
  // @next returns to our scheduler; it learns where that is, and how to tell the sanitizers.
  next.started_ = true;
  next.back_ = back_;
  next.sched_bottom_ = sched_bottom_;
  next.sched_size_ = sched_size_;
  next.tsan_sched_ = tsan_sched_;
  EhGlobals* eh = eh_globals();
  eh_caught_ = eh->caught_exceptions;
  eh_uncaught_ = eh->uncaught_exceptions;
  *eh = {next.eh_caught_, next.eh_uncaught_};
  asan_start(&fake_stack_, next.stack_bottom_, next.stack_size_);
  tsan_switch(next.tsan_fiber_);
  Hop hop{this, &next};
  transfer_t t = guplab_fiber_jump(next.ctx_, &hop);
  land_here(arrived(t));
}

void Fiber::land_here(const Hop& hop) {
  const void* bottom = nullptr;
  size_t size = 0;
  asan_finish(fake_stack_, &bottom, &size);
  if (!hop.from) {  // the scheduler switched in: its stack, as ASan knows it now
    sched_bottom_ = bottom;
    sched_size_ = size;
  }
}

}  // namespace guplab
