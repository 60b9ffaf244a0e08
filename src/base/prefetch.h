// prefetch.h - prefetch() and prefetchw(), as include/linux/prefetch.h: hints that a
// line will soon be read (prefetch) or written (prefetchw).
//
// A hint only: nothing is read through the pointer, it may point anywhere (a freed or
// reused struct page is fine), and it is no scheduling point (it synchronizes nothing,
// so the sim backend has nothing to interleave here).
//
// Threading: stateless.
#pragma once

namespace guplab {

/** prefetch() - bring the line of @p toward this CPU for reading. */
inline void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }

/**
 * prefetchw() - bring the line of @p toward this CPU in exclusive state, for an atomic
 * read-modify-write that follows: the RMW then pays neither the read miss nor the
 * ownership upgrade. On x86-64 this is PREFETCHW (every AMD64 CPU, Intel since
 * Broadwell; earlier Intel parts execute that encoding as a no-op); elsewhere the
 * compiler's write-intent prefetch.
 */
inline void prefetchw(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw (%0)" : : "r"(p));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

}  // namespace guplab
