// mmu_notifier_test.cc - the notifier core: subscriptions, ranges, the non-blocking
// start, release at exit, unregister, and the interval notifier's sequence protocol.
#include "mm/mmu_notifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mm_fixture.h"

namespace guplab::test {
namespace {

struct Recorder {
  mmu_notifier sub;
  std::vector<std::string> calls;
  bool refuse_nonblock = false;
};

Recorder* rec(mmu_notifier* s) { return reinterpret_cast<Recorder*>(s); }

const mmu_notifier_ops kRecorderOps = {
    [](mmu_notifier* s, mm_struct*) { rec(s)->calls.push_back("release"); },
    [](mmu_notifier* s, const mmu_notifier_range* r) -> int {
      if (rec(s)->refuse_nonblock && !mmu_notifier_range_blockable(r)) return -EAGAIN;
      rec(s)->calls.push_back(std::string("start ") + mmu_notifier_event_name(r->event) + " " +
                              std::to_string(r->start) + "-" + std::to_string(r->end));
      return 0;
    },
    [](mmu_notifier* s, const mmu_notifier_range* r) {
      rec(s)->calls.push_back(std::string("end ") + mmu_notifier_event_name(r->event));
    },
};

class MmuNotifierTest : public MmTest {};

TEST_F(MmuNotifierTest, NoSubscriberMeansNoState) {
  EXPECT_FALSE(mm_has_notifiers(mm_));
  MmuNotifierScope scope(MMU_NOTIFY_UNMAP, mm_, 0x1000, 0x2000);  // nothing to call, no crash
  EXPECT_FALSE(mm_has_notifiers(mm_));
}

TEST_F(MmuNotifierTest, StartAndEndReachTheSubscriberWithTheEvent) {
  static_assert(offsetof(Recorder, sub) == 0);
  Recorder r;
  r.sub.ops = &kRecorderOps;
  ASSERT_EQ(mmu_notifier_register(&r.sub, mm_), 0);
  EXPECT_TRUE(mm_has_notifiers(mm_));
  { MmuNotifierScope scope(MMU_NOTIFY_TRUNCATE, mm_, 4096, 8192); }
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0], "start truncate 4096-8192");
  EXPECT_EQ(r.calls[1], "end truncate");
  mmu_notifier_unregister(&r.sub, mm_);
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[2], "release");  // unregister releases what exit did not
  { MmuNotifierScope scope(MMU_NOTIFY_UNMAP, mm_, 0, 4096); }
  EXPECT_EQ(r.calls.size(), 3u);  // gone
}

TEST_F(MmuNotifierTest, NonBlockingStartFailsWithEagainWhenASubscriberWouldSleep) {
  Recorder a, b;
  a.sub.ops = b.sub.ops = &kRecorderOps;
  b.refuse_nonblock = true;
  ASSERT_EQ(mmu_notifier_register(&a.sub, mm_), 0);
  ASSERT_EQ(mmu_notifier_register(&b.sub, mm_), 0);
  mmu_notifier_range range;
  mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm_, 0, 4096);
  EXPECT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), -EAGAIN);
  ASSERT_EQ(a.calls.size(), 2u);  // a was started, so it was ended again
  EXPECT_EQ(a.calls[1], "end unmap");
  EXPECT_TRUE(b.calls.empty());
  mmu_notifier_unregister(&a.sub, mm_);
  mmu_notifier_unregister(&b.sub, mm_);
}

TEST_F(MmuNotifierTest, ExitReleasesOnceAndUnregisterAfterExitDoesNotReleaseAgain) {
  Recorder r;
  r.sub.ops = &kRecorderOps;
  mm_struct* mm = mm_;
  mmgrab(mm);  // keep the struct for the unregister after exit
  ASSERT_EQ(mmu_notifier_register(&r.sub, mm), 0);
  drop_mm();
  ASSERT_FALSE(r.calls.empty());
  EXPECT_EQ(r.calls[0], "release");
  EXPECT_EQ(std::count(r.calls.begin(), r.calls.end(), "release"), 1);
  mmu_notifier_unregister(&r.sub, mm);
  EXPECT_EQ(std::count(r.calls.begin(), r.calls.end(), "release"), 1);
  mmdrop(mm);
}

// The call sites: each page-table change is bracketed by the event upstream uses.
TEST_F(MmuNotifierTest, CallSitesAnnounceTheirEvents) {
  Recorder r;
  r.sub.ops = &kRecorderOps;
  ASSERT_EQ(mmu_notifier_register(&r.sub, mm_), 0);
  const unsigned long a = map(4 * PAGE_SIZE);
  put_u64(a, 1);
  put_u64(a + PAGE_SIZE, 2);
  auto saw = [&r](const std::string& what) {
    bool found = std::find(r.calls.begin(), r.calls.end(), what) != r.calls.end();
    r.calls.clear();
    return found;
  };
  const std::string range1 = std::to_string(a) + "-" + std::to_string(a + PAGE_SIZE);
  r.calls.clear();
  ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_TRUE(saw("start clear " + range1)) << "MADV_DONTNEED: zap_page_range_single";
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ), 0);
  EXPECT_TRUE(saw("start protection_vma " + range1)) << "mprotect";
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
  r.calls.clear();
  // COW break: fork shares the page read-only, the parent's write copies it.
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  const std::string range2 = std::to_string(a + PAGE_SIZE) + "-" + std::to_string(a + 2 * PAGE_SIZE);
  r.calls.clear();
  put_u64(a + PAGE_SIZE, 3);
  EXPECT_TRUE(saw("start clear " + range2)) << "COW break: wp_page_copy";
  mmput(child);  // the child's mm has no subscriber: nothing reaches ours
  EXPECT_TRUE(r.calls.empty());
  ASSERT_EQ(vm_munmap(mm_, a, 4 * PAGE_SIZE), 0);
  EXPECT_TRUE(saw("start unmap " + std::to_string(a) + "-" + std::to_string(a + 4 * PAGE_SIZE))) << "munmap";
  mmu_notifier_unregister(&r.sub, mm_);
}

struct Mirror {
  mmu_interval_notifier mni;
  int invalidations = 0;
  mmu_notifier_event last = MMU_NOTIFY_UNMAP;
  bool saw_release = false;
};

const mmu_interval_notifier_ops kMirrorOps = {
    [](mmu_interval_notifier* mni, const mmu_notifier_range* r, unsigned long cur_seq) {
      auto* m = reinterpret_cast<Mirror*>(mni);
      m->invalidations++;
      m->last = r->event;
      m->saw_release |= r->event == MMU_NOTIFY_RELEASE;
      mmu_interval_set_seq(mni, cur_seq);
      return true;
    },
};

TEST_F(MmuNotifierTest, IntervalNotifierSeesOnlyOverlapsAndForcesARetry) {
  Mirror m;
  ASSERT_EQ(mmu_interval_notifier_insert(&m.mni, mm_, 0x10000, 0x4000, &kMirrorOps), 0);
  unsigned long seq = mmu_interval_read_begin(&m.mni);
  EXPECT_FALSE(mmu_interval_read_retry(&m.mni, seq));
  { MmuNotifierScope scope(MMU_NOTIFY_UNMAP, mm_, 0x14000, 0x20000); }  // just after it
  EXPECT_EQ(m.invalidations, 0);
  EXPECT_FALSE(mmu_interval_read_retry(&m.mni, seq));
  {
    MmuNotifierScope scope(MMU_NOTIFY_MIGRATE, mm_, 0x13000, 0x14000);  // its last page
    EXPECT_EQ(m.invalidations, 1);
    EXPECT_EQ(m.last, MMU_NOTIFY_MIGRATE);
    EXPECT_TRUE(mmu_interval_read_retry(&m.mni, seq));
  }
  unsigned long seq2 = mmu_interval_read_begin(&m.mni);  // not invalidating: no wait
  EXPECT_NE(seq2, seq);
  EXPECT_FALSE(mmu_interval_read_retry(&m.mni, seq2));
  mmu_interval_notifier_remove(&m.mni);
  { MmuNotifierScope scope(MMU_NOTIFY_UNMAP, mm_, 0x10000, 0x14000); }
  EXPECT_EQ(m.invalidations, 1);
}

TEST_F(MmuNotifierTest, IntervalInsertRefusesAnEmptyOrWrappingRange) {
  Mirror m;
  EXPECT_EQ(mmu_interval_notifier_insert(&m.mni, mm_, 0x10000, 0, &kMirrorOps), -EINVAL);
  EXPECT_EQ(mmu_interval_notifier_insert(&m.mni, mm_, ~0ul - 4095, 8192, &kMirrorOps), -EINVAL);
}

TEST_F(MmuNotifierTest, ExitInvalidatesIntervalsWithRelease) {
  Mirror m;
  mm_struct* mm = mm_;
  mmgrab(mm);
  ASSERT_EQ(mmu_interval_notifier_insert(&m.mni, mm, 0x10000, 0x4000, &kMirrorOps), 0);
  drop_mm();
  EXPECT_GE(m.invalidations, 1);
  EXPECT_TRUE(m.saw_release);
  mmu_interval_notifier_remove(&m.mni);
  mmdrop(mm);
}

}  // namespace
}  // namespace guplab::test
