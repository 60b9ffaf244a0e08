// errno.h - kernel errno values and the ERR_PTR/IS_ERR/PTR_ERR convention.
// Model functions return 0 or a negative errno, exactly as the kernel does.
// Threading: stateless.
#pragma once
#include <cerrno>
#include <cstdint>

namespace guplab {
// Kernel-internal codes that user space never sees.
inline constexpr int ERESTARTSYS = 512;
inline constexpr int ENOTSUPP = 524;
inline constexpr int EIOCBQUEUED = 529;
inline constexpr int MAX_ERRNO = 4095;

/** errname() - symbolic name of a (positive or negative) errno, e.g. "EFAULT". */
const char* errname(int err);

template <typename T = void>
inline T* ERR_PTR(long error) { return reinterpret_cast<T*>(static_cast<intptr_t>(error)); }
inline long PTR_ERR(const void* ptr) { return static_cast<long>(reinterpret_cast<intptr_t>(ptr)); }
inline bool IS_ERR(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) >= static_cast<uintptr_t>(-MAX_ERRNO);
}
inline bool IS_ERR_OR_NULL(const void* ptr) { return !ptr || IS_ERR(ptr); }
}  // namespace guplab
