// stack_pool.h - fixed-size fiber stacks with a guard page, reused across fibers.
//
// Each stack is its own mapping with an inaccessible page below it, so a fiber that
// overflows its stack faults at once instead of corrupting a neighbour. Freed stacks are
// kept (up to a bound) for the next fiber: mapping and protecting a stack costs more than
// a whole small sim run.
//
// Threading: single-threaded; the pool belongs to one scheduler and its OS thread.
#pragma once
#include <boost/context/stack_context.hpp>
#include <cstddef>
#include <vector>

namespace guplab {

class StackPool {
 public:
  /** REQUIRES: stack_size > 0. The size is rounded up to whole pages. */
  explicit StackPool(size_t stack_size, size_t max_cached = 64);
  /** REQUIRES: every stack has been returned (outstanding() == 0). */
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  /** allocate() - a stack: sp is its top, size its usable bytes. Throws std::bad_alloc. */
  boost::context::stack_context allocate();
  /** deallocate() - give back a stack from allocate(). */
  void deallocate(boost::context::stack_context& sctx) noexcept;

  size_t stack_size() const { return size_; }
  size_t outstanding() const { return outstanding_; }
  size_t cached() const { return free_.size(); }

 private:
  void unmap(void* sp) noexcept;

  size_t size_;        // usable bytes, page multiple
  size_t guard_;       // bytes of the guard area below the stack
  size_t max_cached_;  // free stacks kept for reuse
  size_t outstanding_ = 0;
  std::vector<void*> free_;  // tops (sp) of cached stacks
};

}  // namespace guplab
