// stack_pool.cc - guarded fiber stacks from mmap, cached for reuse.
#include "sim/stack_pool.h"
#include "base/bug.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

#if defined(GUPLAB_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace guplab {

namespace {
size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
}  // namespace

StackPool::StackPool(size_t stack_size, size_t max_cached)
    : size_(round_up(stack_size, page_size())), guard_(page_size()), max_cached_(max_cached) {
  GUPLAB_CHECK(stack_size > 0);
}

StackPool::~StackPool() {
  GUPLAB_CHECK(outstanding_ == 0 && "a fiber stack is still in use");
  for (void* sp : free_) unmap(sp);
}

boost::context::stack_context StackPool::allocate() {
  boost::context::stack_context sctx;
  sctx.size = size_;
  if (!free_.empty()) {
    sctx.sp = free_.back();
    free_.pop_back();
  } else {
    void* base = mmap(nullptr, size_ + guard_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    if (mprotect(base, guard_, PROT_NONE) != 0) {
      munmap(base, size_ + guard_);
      throw std::bad_alloc();
    }
    sctx.sp = static_cast<char*>(base) + guard_ + size_;
  }
  outstanding_++;
  return sctx;
}

void StackPool::deallocate(boost::context::stack_context& sctx) noexcept {
  GUPLAB_CHECK(sctx.size == size_ && outstanding_ > 0);
  outstanding_--;
#if defined(GUPLAB_ASAN)
  // Frames left by the finished fiber may still be poisoned; the next fiber starts clean.
  __asan_unpoison_memory_region(static_cast<char*>(sctx.sp) - size_, size_);
#endif
  if (free_.size() < max_cached_) {
    free_.push_back(sctx.sp);
  } else {
    unmap(sctx.sp);
  }
  sctx.sp = nullptr;
}

void StackPool::unmap(void* sp) noexcept {
  munmap(static_cast<char*>(sp) - size_ - guard_, size_ + guard_);
}

}  // namespace guplab
