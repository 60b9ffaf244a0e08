// result.h - Result<T>: how lab/ functions report an error to their caller (one style for
// the whole of lab/: a value, or an Error with a message ready to print and, where one
// applies, the -errno behind it).
//
// Kernel-model code keeps the kernel's own style (-errno, ERR_PTR); lab/ code that sits
// above it and reports to a user returns Result<T> (Result<bool> where there is no value
// to hand back). A scenario's findings are not errors: they go to ScenarioContext::found().
//
// Threading: a value type; no shared state.
#pragma once
#include <string>
#include <utility>
#include <variant>

#include "base/bug.h"

namespace guplab {

/** What went wrong, ready to print ("<file>:<line>: <what>"), and the -errno if one applies (else 0). */
struct Error {
  std::string message;
  int code = 0;
};

/** Result - a value or an Error. */
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::move(e)) {}      // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  /** REQUIRES: ok(). */
  T& value() {
    GUPLAB_CHECK(ok());
    return std::get<0>(v_);
  }
  const T& value() const {
    GUPLAB_CHECK(ok());
    return std::get<0>(v_);
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  /** REQUIRES: !ok(). */
  const std::string& error() const {
    GUPLAB_CHECK(!ok());
    return std::get<1>(v_).message;
  }
  /** code() - the Error's -errno (0 if it has none). REQUIRES: !ok(). */
  int code() const {
    GUPLAB_CHECK(!ok());
    return std::get<1>(v_).code;
  }

 private:
  std::variant<T, Error> v_;
};

}  // namespace guplab
