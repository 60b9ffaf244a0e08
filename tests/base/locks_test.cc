// locks_test.cc - spinlock_t, rw_semaphore, wait queues, completion and bit locks on
// the native backend, across real tasks (smoke runs that wait for events, never for
// time), and their orderings on the sim backend, seed by seed (tests/sim_run.h).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "base/bit_wait.h"
#include "base/completion.h"
#include "base/rwsem.h"
#include "base/spinlock.h"
#include "base/task.h"
#include "base/wait.h"
#include "tests/sim_run.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

using testing::MachineTest;

TEST_F(MachineTest, SpinlockCountsExactlyUnderContention) {
  spinlock_t lock;
  long counter = 0;
  std::vector<task_struct*> ts;
  for (int t = 0; t < 4; t++)
    ts.push_back(m().spawn("inc", [&] {
      for (int i = 0; i < 20000; i++) {
        SpinGuard g(&lock);
        counter++;
      }
    }));
  for (auto* t : ts) task_join(t);
  EXPECT_EQ(counter, 80000);
  EXPECT_FALSE(spin_is_locked(&lock));
}

TEST_F(MachineTest, SpinTrylockFailsWhenHeld) {
  spinlock_t lock;
  spin_lock(&lock);
  bool got = true;
  task_join(m().spawn("try", [&] { got = spin_trylock(&lock); }));
  EXPECT_FALSE(got);
  spin_unlock(&lock);
  if (spin_trylock(&lock))
    spin_unlock(&lock);
  else
    ADD_FAILURE() << "trylock of a free lock failed";
}

TEST_F(MachineTest, RwsemReadersShareWritersExclude) {
  rw_semaphore sem;
  std::atomic<int> readers{0}, max_readers{0}, writers{0};
  std::atomic<bool> bad{false};
  std::vector<task_struct*> ts;
  for (int t = 0; t < 4; t++)
    ts.push_back(m().spawn("rw", [&, t] {
      for (int i = 0; i < 3000; i++) {
        if ((i + t) % 5 == 0) {
          down_write(&sem);
          if (writers.fetch_add(1) != 0 || readers.load() != 0) bad = true;
          writers.fetch_sub(1);
          up_write(&sem);
        } else {
          down_read(&sem);
          int r = readers.fetch_add(1) + 1;
          int mr = max_readers.load();
          while (r > mr && !max_readers.compare_exchange_weak(mr, r)) {
          }
          if (writers.load() != 0) bad = true;
          readers.fetch_sub(1);
          up_read(&sem);
        }
      }
    }));
  for (auto* t : ts) task_join(t);
  EXPECT_FALSE(bad.load());
  EXPECT_FALSE(rwsem_is_locked(&sem));
}

void downgrade_scenario(rw_semaphore* sem, bool* second_reader, bool* writer_while_read, bool* writer_after)
    NO_THREAD_SAFETY_ANALYSIS {
  down_write(sem);
  downgrade_write(sem);
  *second_reader = down_read_trylock(sem);
  if (*second_reader) up_read(sem);
  *writer_while_read = down_write_trylock(sem);
  up_read(sem);
  *writer_after = down_write_trylock(sem);
  if (*writer_after) up_write(sem);
}

TEST_F(MachineTest, RwsemDowngradeKeepsReadLock) {
  rw_semaphore sem;
  bool second_reader, writer_while_read, writer_after;
  downgrade_scenario(&sem, &second_reader, &writer_while_read, &writer_after);
  EXPECT_TRUE(second_reader);
  EXPECT_FALSE(writer_while_read);
  EXPECT_TRUE(writer_after);
  EXPECT_FALSE(rwsem_is_locked(&sem));
}

/** A writer blocked behind a reader gives up with -EINTR once killed. */
void killable_writer_case(Machine& m, bool let_it_sleep_first) {
  rw_semaphore sem;
  down_read(&sem);
  int ret = 0;
  task_struct* t = m.spawn("w", [&]() NO_THREAD_SAFETY_ANALYSIS {
    ret = down_write_killable(&sem);
    if (ret == 0) up_write(&sem);
  });
  if (let_it_sleep_first) sleep_ns(20 * NSEC_PER_MSEC);  // sim: virtual, the writer has parked
  send_sig_kill(t);
  task_join(t);
  EXPECT_EQ(ret, -EINTR);
  up_read(&sem);
  EXPECT_FALSE(rwsem_is_locked(&sem));
}

// Native smoke: the kill lands before or while the writer sleeps; -EINTR either way.
TEST_F(MachineTest, RwsemKillableWriterReturnsEintr) { killable_writer_case(m(), false); }

TEST(LocksSim, RwsemKillableWriterReturnsEintrWhetherKilledBeforeOrWhileAsleep) {
  for (bool sleep_first : {false, true})
    testing::expect_every_seed(testing::small_config(), 30, [&](Machine& m) { killable_writer_case(m, sleep_first); });
}

/** A waiter on @wq sees the condition its waker set before wake_up(). */
void wake_up_case(Machine& m, bool let_it_sleep_first) {
  wait_queue_head_t wq;
  std::atomic<int> flag{0};
  int seen = -1;
  task_struct* t = m.spawn("waiter", [&] {
    wait_event(&wq, [&] { return flag.load() == 1; });
    seen = flag.load();
  });
  if (let_it_sleep_first) sleep_ns(5 * NSEC_PER_MSEC);  // sim: virtual, the waiter has parked
  flag = 1;
  wake_up(&wq);
  task_join(t);
  EXPECT_EQ(seen, 1) << "the waiter returned without its condition";
}

TEST_F(MachineTest, WaitEventSeesWakeUp) { wake_up_case(m(), false); }

TEST(LocksSim, WaitEventSeesWakeUpUnderEverySeed) {
  for (bool sleep_first : {false, true})
    testing::expect_every_seed(testing::small_config(), 30, [&](Machine& m) { wake_up_case(m, sleep_first); });
}

TEST_F(MachineTest, WaitEventTimeoutExpires) {
  // On the sim backend: the timeout passes in virtual time, exactly, whatever the host's load.
  const std::string run = run_on_sim(testing::small_config(), 1, [] {
    wait_queue_head_t wq;
    const uint64_t t0 = ktime_get_ns();
    EXPECT_FALSE(wait_event_timeout(&wq, [] { return false; }, 30 * NSEC_PER_MSEC));
    const uint64_t took = ktime_get_ns() - t0;
    EXPECT_GE(took, 30 * NSEC_PER_MSEC);
    EXPECT_LT(took, 31 * NSEC_PER_MSEC) << "virtual time: the timeout and a few steps";
  });
  EXPECT_EQ(run, "");
}

// Native smoke: three completes let three waiters through.
TEST_F(MachineTest, CompletionCountsCompletes) {
  completion c;
  init_completion(&c);
  std::atomic<int> done{0};
  std::vector<task_struct*> ts;
  for (int i = 0; i < 3; i++) ts.push_back(m().spawn("w", [&] { wait_for_completion(&c); done++; }));
  for (int i = 0; i < 3; i++) complete(&c);
  for (auto* t : ts) task_join(t);
  EXPECT_EQ(done.load(), 3);
  EXPECT_FALSE(try_wait_for_completion(&c));
  complete_all(&c);
  EXPECT_TRUE(try_wait_for_completion(&c));
  EXPECT_TRUE(try_wait_for_completion(&c));
}

// Two completions let exactly two of three waiters through: in virtual time, once every
// task has parked, the third is still asleep.
TEST(LocksSim, CompletionLetsExactlyAsManyWaitersThroughAsCompletes) {
  testing::expect_every_seed(testing::small_config(), 50, [](Machine& m) {
    completion c;
    init_completion(&c);
    std::atomic<int> done{0};
    std::vector<task_struct*> ts;
    for (int i = 0; i < 3; i++) ts.push_back(m.spawn("w", [&] { wait_for_completion(&c); done++; }));
    complete(&c);
    complete(&c);
    sleep_ns(10 * NSEC_PER_MSEC);
    EXPECT_EQ(done.load(), 2);
    complete(&c);
    for (auto* t : ts) task_join(t);
    EXPECT_EQ(done.load(), 3);
    EXPECT_FALSE(try_wait_for_completion(&c));
  });
}

TEST_F(MachineTest, BitLockSerializes) {
  bitword_t word{0};
  long counter = 0;
  std::vector<task_struct*> ts;
  for (int t = 0; t < 3; t++)
    ts.push_back(m().spawn("bit", [&] {
      for (int i = 0; i < 5000; i++) {
        wait_on_bit_lock(m().bit_wait_table(), &word, 3);
        counter++;
        clear_bit_unlock(3, &word);
        wake_up_bit(m().bit_wait_table(), &word, 3);
      }
    }));
  for (auto* t : ts) task_join(t);
  EXPECT_EQ(counter, 15000);
  EXPECT_EQ(word.load(), 0u);
}

}  // namespace
}  // namespace guplab
