// flags.h - bit operators for typed flag enums (enum class with bit values).
// Threading: stateless.
#pragma once
#include <type_traits>

#define GUPLAB_ENUM_FLAGS(T)                                                                  \
  constexpr T operator|(T a, T b) {                                                           \
    using U = std::underlying_type_t<T>;                                                      \
    return static_cast<T>(static_cast<U>(a) | static_cast<U>(b));                             \
  }                                                                                           \
  constexpr T operator&(T a, T b) {                                                           \
    using U = std::underlying_type_t<T>;                                                      \
    return static_cast<T>(static_cast<U>(a) & static_cast<U>(b));                             \
  }                                                                                           \
  constexpr T operator^(T a, T b) {                                                           \
    using U = std::underlying_type_t<T>;                                                      \
    return static_cast<T>(static_cast<U>(a) ^ static_cast<U>(b));                             \
  }                                                                                           \
  constexpr T operator~(T a) {                                                                \
    using U = std::underlying_type_t<T>;                                                      \
    return static_cast<T>(~static_cast<U>(a));                                                \
  }                                                                                           \
  constexpr T& operator|=(T& a, T b) { return a = a | b; }                                    \
  constexpr T& operator&=(T& a, T b) { return a = a & b; }                                    \
  constexpr bool operator!(T a) { return static_cast<std::underlying_type_t<T>>(a) == 0; }   \
  /* any() - true if any bit of @b is set in @a. */                                           \
  constexpr bool any(T a, T b) { return static_cast<std::underlying_type_t<T>>(a & b) != 0; } \
  constexpr bool all(T a, T b) { return (a & b) == b; }
