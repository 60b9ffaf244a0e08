// compiler.h - small compiler helpers shared by every layer (likely/unlikely, container_of).
// Threading: stateless.
#pragma once
#include <cstddef>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

namespace guplab {
template <typename T, typename M>
inline T* container_of_impl(M* ptr, M T::*member) {
  const std::ptrdiff_t off = reinterpret_cast<std::ptrdiff_t>(&(static_cast<T*>(nullptr)->*member));
  return reinterpret_cast<T*>(reinterpret_cast<char*>(ptr) - off);
}
}  // namespace guplab

#define container_of(ptr, type, member) \
  (reinterpret_cast<type*>(reinterpret_cast<char*>(ptr) - offsetof(type, member)))
