// fiber_test.cc - switching, finishing, stack return, per-fiber exception state.
#include "sim/fiber.h"

#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace guplab {
namespace {

TEST(Fiber, PingPongAndFinish) {
  StackPool pool(64 * 1024);
  std::vector<int> log;
  Fiber* self = nullptr;
  Fiber f(&pool, [&] {
    log.push_back(1);
    self->suspend();
    log.push_back(3);
  });
  self = &f;
  EXPECT_FALSE(f.started());
  f.resume();
  log.push_back(2);
  EXPECT_FALSE(f.finished());
  EXPECT_EQ(pool.outstanding(), 1u);
  f.resume();
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(pool.outstanding(), 0u);  // the stack went back when the body returned
}

TEST(Fiber, DeepRecursionFitsTheStack) {
  StackPool pool(256 * 1024);
  int depth = 0;
  std::function<int(int)> rec = [&](int n) -> int {
    volatile char pad[256];
    pad[0] = static_cast<char>(n);
    depth = std::max(depth, n);
    return n == 0 ? pad[0] : rec(n - 1) + 1;
  };
  Fiber f(&pool, [&] { EXPECT_EQ(rec(200), 200); });
  f.resume();
  EXPECT_TRUE(f.finished());
  EXPECT_EQ(depth, 200);
}

// Fiber A is switched out inside a catch block; fiber B throws and catches meanwhile and
// is switched out inside its own catch block. Each must rethrow its own exception.
TEST(Fiber, CaughtExceptionsArePerFiber) {
  StackPool pool(128 * 1024);
  Fiber* fa = nullptr;
  Fiber* fb = nullptr;
  std::string a_got, b_got;
  Fiber a(&pool, [&] {
    try {
      try {
        throw std::runtime_error("from A");
      } catch (...) {
        fa->suspend();
        throw;  // the runtime's "current caught exception" must be A's
      }
    } catch (const std::exception& e) {
      a_got = e.what();
    }
  });
  Fiber b(&pool, [&] {
    try {
      throw std::logic_error("from B");
    } catch (const std::exception&) {
      fb->suspend();
      try {
        throw;
      } catch (const std::exception& e2) {
        b_got = e2.what();
      }
    }
  });
  fa = &a;
  fb = &b;
  a.resume();  // A inside its catch
  b.resume();  // B inside its catch
  a.resume();  // A rethrows and finishes
  b.resume();  // B rethrows and finishes
  EXPECT_TRUE(a.finished() && b.finished());
  EXPECT_EQ(a_got, "from A");
  EXPECT_EQ(b_got, "from B");
}

// A fiber switched out while an exception unwinds its stack (a destructor suspends):
// another fiber must not see that exception as in flight.
TEST(Fiber, UncaughtExceptionsArePerFiber) {
  StackPool pool(128 * 1024);
  Fiber* fa = nullptr;
  int in_a = -1, in_b = -1;
  struct SuspendOnUnwind {
    Fiber** f;
    int* seen;
    ~SuspendOnUnwind() {
      *seen = std::uncaught_exceptions();
      (*f)->suspend();
    }
  };
  Fiber a(&pool, [&] {
    try {
      SuspendOnUnwind s{&fa, &in_a};
      throw std::runtime_error("unwinding");
    } catch (const std::exception&) {
    }
  });
  Fiber b(&pool, [&] { in_b = std::uncaught_exceptions(); });
  fa = &a;
  a.resume();
  b.resume();
  a.resume();
  EXPECT_TRUE(a.finished() && b.finished());
  EXPECT_EQ(in_a, 1);
  EXPECT_EQ(in_b, 0);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
}

// switch_to(): A hands the thread to B (not started yet) without the scheduler, B hands it
// back, A suspends: resume(A) returns once. B, resumed by the scheduler later, finishes
// and its stack goes back; each fiber keeps its own caught exception across the hops.
TEST(Fiber, SwitchToGoesStraightToAnotherFiberAndBack) {
  StackPool pool(128 * 1024);
  Fiber* fa = nullptr;
  Fiber* fb = nullptr;
  std::vector<std::string> log;
  Fiber a(&pool, [&] {
    try {
      throw std::runtime_error("from A");
    } catch (...) {
      log.push_back("a1");
      fa->switch_to(*fb);  // B starts here
      log.push_back("a2");
      try {
        throw;
      } catch (const std::exception& e) {
        log.push_back(e.what());
      }
    }
    fa->suspend();
    log.push_back("a3");
  });
  Fiber b(&pool, [&] {
    log.push_back(std::current_exception() ? "b sees an exception" : "b1");
    fb->switch_to(*fa);
    log.push_back("b2");
  });
  fa = &a;
  fb = &b;
  a.resume();  // a1, b1, a2, "from A", then A suspends: back here
  EXPECT_TRUE(b.started());
  EXPECT_FALSE(a.finished() || b.finished());
  EXPECT_EQ(pool.outstanding(), 2u);
  b.resume();  // B goes on after its switch_to() and ends
  EXPECT_TRUE(b.finished());
  EXPECT_EQ(pool.outstanding(), 1u);
  a.resume();
  EXPECT_TRUE(a.finished());
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "a2", "from A", "b2", "a3"}));
  EXPECT_EQ(std::current_exception(), nullptr);
}

}  // namespace
}  // namespace guplab
