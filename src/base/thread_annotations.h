// thread_annotations.h - clang -Wthread-safety attribute macros (no-ops elsewhere).
// Threading: stateless.
#pragma once

#if defined(__clang__)
#define GUPLAB_TSA(x) __attribute__((x))
#else
#define GUPLAB_TSA(x)
#endif

#define CAPABILITY(x) GUPLAB_TSA(capability(x))
#define SCOPED_CAPABILITY GUPLAB_TSA(scoped_lockable)
#define GUARDED_BY(x) GUPLAB_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) GUPLAB_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) GUPLAB_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) GUPLAB_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) GUPLAB_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) GUPLAB_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) GUPLAB_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) GUPLAB_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) GUPLAB_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) GUPLAB_TSA(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) GUPLAB_TSA(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) GUPLAB_TSA(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) GUPLAB_TSA(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) GUPLAB_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) GUPLAB_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) GUPLAB_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS GUPLAB_TSA(no_thread_safety_analysis)
