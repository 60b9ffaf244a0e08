// sched_test.cc - resolving the backend once per call (sched_dispatch()): natively the
// scheduling-point policy is SchedNative, under the sim backend SchedCheck, and a
// primitive given SchedCheck makes exactly the scheduling point its default form makes.
#include <gtest/gtest.h>

#include <atomic>

#include "base/atomic.h"
#include "base/bitops.h"
#include "base/sched.h"
#include "base/task.h"
#include "sim/sim_test_util.h"

namespace guplab {
namespace {

template <typename S>
int read_many(const atomic_t* v, int n) {
  int sum = 0;
  for (int i = 0; i < n; i++) sum += atomic_read<S>(v);
  return sum;
}

TEST(SchedDispatch, NativeThreadGetsTheNativePolicy) {
  bool native = false;
  sched_dispatch([&](auto s) { native = decltype(s)::kNative; });
  EXPECT_TRUE(native);
  atomic_t v;
  atomic_set(&v, 3);
  EXPECT_EQ(sched_dispatch([&](auto s) { return read_many<decltype(s)>(&v, 4); }), 12);
}

// Steps of one sim run that reads an atomic @n times through the dispatched policy.
uint64_t sim_steps(int n, bool* native) {
  auto m = testing::sim_machine(1);
  atomic_t v;
  m->run([&] {
    sched_dispatch([&](auto s) {
      *native = decltype(s)::kNative;
      read_many<decltype(s)>(&v, n);
    });
  });
  return m->sim_result()->steps;
}

TEST(SchedDispatch, SimFiberGetsTheCheckingPolicyAndEveryPoint) {
  bool native = true;
  const uint64_t base = sim_steps(0, &native);
  EXPECT_FALSE(native);
  const uint64_t with = sim_steps(10, &native);
  EXPECT_EQ(with - base, 10u) << "each atomic_read<SchedCheck> is one scheduling point";
}

TEST(SchedDispatch, DefaultPolicyIsTheCheckingOne) {
  // The forms without a policy argument behave as before: one point each under sim.
  auto m = testing::sim_machine(1);
  bitword_t w{0};
  uint64_t steps_default = 0, steps_explicit = 0;
  for (bool explicit_policy : {false, true}) {
    m = testing::sim_machine(1);
    m->run([&] {
      for (int i = 0; i < 5; i++) {
        if (explicit_policy)
          (void)test_bit<SchedCheck>(0, &w);
        else
          (void)test_bit(0, &w);
      }
    });
    (explicit_policy ? steps_explicit : steps_default) = m->sim_result()->steps;
  }
  EXPECT_EQ(steps_default, steps_explicit);
}

}  // namespace
}  // namespace guplab
