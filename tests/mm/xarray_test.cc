// xarray_test.cc - the page cache's index: store/load/erase, growth, marks and their
// summaries, marked and unmarked finds, node freeing, and lockless readers racing a
// writer (bounded, seeded).
#include "mm/xarray.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

class XarrayTest : public testing::MachineTest {};

void* ent(unsigned long v) { return reinterpret_cast<void*>((v << 4) | 8); }

void store(xarray* xa, unsigned long i, void* e) {
  SpinGuard g(&xa->xa_lock);
  __xa_store(xa, i, e);
}
void* erase(xarray* xa, unsigned long i) {
  SpinGuard g(&xa->xa_lock);
  return __xa_erase(xa, i);
}
void mark(xarray* xa, unsigned long i, xa_mark_t m, bool set) {
  SpinGuard g(&xa->xa_lock);
  if (set) __xa_set_mark(xa, i, m);
  else __xa_clear_mark(xa, i, m);
}

TEST_F(XarrayTest, StoreLoadEraseAcrossLevels) {
  xarray xa;
  EXPECT_TRUE(xa_empty(&xa));
  const unsigned long idx[] = {0, 1, 63, 64, 4095, 4096, 1ul << 20, (1ul << 40) + 7, ~0ul};
  for (unsigned long i : idx) store(&xa, i, ent(i & 0xffff));
  for (unsigned long i : idx) EXPECT_EQ(xa_load(&xa, i), ent(i & 0xffff)) << i;
  EXPECT_EQ(xa_load(&xa, 2), nullptr);
  EXPECT_EQ(xa_load(&xa, (1ul << 40) + 6), nullptr);
  {
    SpinGuard g(&xa.xa_lock);
    EXPECT_EQ(__xa_store(&xa, 64, ent(99)), ent(64)) << "replacing returns the old entry";
  }
  for (unsigned long i : idx) EXPECT_NE(erase(&xa, i), nullptr) << i;
  EXPECT_EQ(erase(&xa, 5), nullptr);
  EXPECT_TRUE(xa_empty(&xa)) << "the last erase frees the top node";
}

TEST_F(XarrayTest, FindWalksInOrderWithinBounds) {
  xarray xa;
  std::vector<unsigned long> idx = {3, 70, 71, 5000, 5001, 1ul << 30};
  for (unsigned long i : idx) store(&xa, i, ent(i));
  std::vector<unsigned long> seen;
  unsigned long i = 0;
  while (void* e = xa_find(&xa, &i, ~0ul, XA_PRESENT)) {
    EXPECT_EQ(e, ent(i));
    seen.push_back(i);
    if (i == ~0ul) break;
    i++;
  }
  EXPECT_EQ(seen, idx);
  i = 72;
  EXPECT_EQ(xa_find(&xa, &i, 4999, XA_PRESENT), nullptr) << "nothing in [72, 4999]";
  EXPECT_EQ(i, 72u);
  i = 72;
  EXPECT_EQ(xa_find(&xa, &i, 5000, XA_PRESENT), ent(5000));
  for (unsigned long j : idx) erase(&xa, j);
}

TEST_F(XarrayTest, MarksAreSummarisedAndClearedUpward) {
  xarray xa;
  for (unsigned long i = 0; i < 5000; i += 7) store(&xa, i, ent(i));
  EXPECT_FALSE(xa_marked(&xa, XA_MARK_0));
  mark(&xa, 700, XA_MARK_0, true);
  mark(&xa, 4998, XA_MARK_0, true);
  mark(&xa, 4998, XA_MARK_2, true);
  mark(&xa, 701, XA_MARK_0, true);  // no entry there: ignored
  EXPECT_TRUE(xa_marked(&xa, XA_MARK_0));
  EXPECT_FALSE(xa_marked(&xa, XA_MARK_1));
  EXPECT_TRUE(xa_get_mark(&xa, 700, XA_MARK_0));
  EXPECT_FALSE(xa_get_mark(&xa, 701, XA_MARK_0));
  unsigned long i = 0;
  EXPECT_EQ(xa_find(&xa, &i, ~0ul, XA_MARK_0), ent(700));
  EXPECT_EQ(i, 700u);
  i = 701;
  EXPECT_EQ(xa_find(&xa, &i, ~0ul, XA_MARK_0), ent(4998));
  mark(&xa, 700, XA_MARK_0, false);
  i = 0;
  EXPECT_EQ(xa_find(&xa, &i, ~0ul, XA_MARK_0), ent(4998));
  erase(&xa, 4998);  // erasing drops its marks
  EXPECT_FALSE(xa_marked(&xa, XA_MARK_0));
  EXPECT_FALSE(xa_marked(&xa, XA_MARK_2));
  for (unsigned long j = 0; j < 5000; j += 7) erase(&xa, j);
  EXPECT_TRUE(xa_empty(&xa));
}

TEST_F(XarrayTest, MarksSurviveGrowth) {
  xarray xa;
  store(&xa, 5, ent(5));
  mark(&xa, 5, XA_MARK_1, true);
  store(&xa, 1ul << 33, ent(6));  // three more levels on top
  EXPECT_TRUE(xa_get_mark(&xa, 5, XA_MARK_1));
  unsigned long i = 0;
  EXPECT_EQ(xa_find(&xa, &i, ~0ul, XA_MARK_1), ent(5));
  erase(&xa, 5);
  erase(&xa, 1ul << 33);
}

// Lockless readers never see an entry that was never stored at that index, and always
// see an entry that is stored for the whole of their lookup, while a writer stores,
// erases, marks and grows the tree (nodes freed under them after RCU).
TEST_F(XarrayTest, LocklessReadersRaceAWriter) {
  xarray xa;
  constexpr unsigned long kN = 3000;
  constexpr unsigned long kStable = 17;  // multiples of kStable are never erased
  for (unsigned long i = 0; i < kN; i += kStable) store(&xa, i, ent(i));
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, lookups{0};
  std::vector<task_struct*> readers;
  for (int r = 0; r < 2; r++) {
    readers.push_back(m().spawn("reader", [&, r] {
      std::mt19937_64 rng(1234 + r);
      while (!stop.load(std::memory_order_relaxed)) {
        unsigned long i = rng() % kN;
        void* e = xa_load(&xa, i);
        if (e && e != ent(i)) bad++;
        if (i % kStable == 0 && e != ent(i)) bad++;
        unsigned long j = i;
        if (void* f = xa_find(&xa, &j, kN, XA_PRESENT))
          if (f != ent(j) || j < i) bad++;
        lookups++;
      }
    }));
  }
  // The readers must actually race the writer: wait until both are running (under a
  // sanitizer on a busy machine a thread may start only after the writer is done).
  while (lookups.load() < 2) std::this_thread::yield();
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20000; round++) {
    unsigned long i = rng() % kN;
    if (i % kStable == 0) continue;
    SpinGuard g(&xa.xa_lock);
    if (rng() & 1) {
      __xa_store(&xa, i, ent(i));
      __xa_set_mark(&xa, i, XA_MARK_0);
    } else {
      __xa_erase(&xa, i);
    }
  }
  stop = true;
  for (task_struct* t : readers) task_join(t);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(lookups.load(), 0);
  for (unsigned long i = 0; i < kN; i++) erase(&xa, i);
  EXPECT_TRUE(xa_empty(&xa));
  rcu_barrier();
}

}  // namespace
}  // namespace guplab
