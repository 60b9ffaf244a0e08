// gup_test.cc - the get_user_pages()/pin_user_pages() family: semantics, errors, the
// *locked retry protocol, FOLL_FORCE, THP, and every design's page_maybe_dma_pinned().
#include "mm/gup.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "mm/fake_vm_ops.h"
#include "mm/mm_fixture.h"
#include "mm/pin.h"
#include "tests/fs/fs_fixture.h"

namespace guplab {
namespace {

class GupTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config();
    c.pin_design = GetParam();
    return c;
  }
  bool tracking() const { return GetParam() != PinDesign::get; }
  void expect_pins_balanced() {
    EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), vs(NR_FOLL_PIN_RELEASED));
  }
};

TEST_P(GupTest, GetUserPagesFaultsInAndReferences) {
  const unsigned long a = map(16 * PAGE_SIZE);
  put_u64(a + 3 * PAGE_SIZE + 8, 0x1234);
  page* pages[16];
  long n;
  {
    mmap_read_lock(mm_);
    n = get_user_pages(a, 16, FOLL_WRITE, pages);
    mmap_read_unlock(mm_);
  }
  ASSERT_EQ(n, 16);
  uint64_t v;
  std::memcpy(&v, static_cast<char*>(page_address(pages[3])) + 8, sizeof(v));
  EXPECT_EQ(v, 0x1234u) << "the page GUP returned is the page the task sees";
  for (page* p : pages) {
    EXPECT_EQ(page_ref_count(page_folio(p)), 2) << "mapping + GUP reference";
    EXPECT_FALSE(page_maybe_dma_pinned(p)) << "FOLL_GET is not a pin";
    put_page(p);
  }
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 0);
}

TEST_P(GupTest, PinFastPinsAndUnpinRestores) {
  const unsigned long a = map(64 * PAGE_SIZE);
  for (unsigned long off = 0; off < 64 * PAGE_SIZE; off += PAGE_SIZE) put_u64(a + off, off);
  std::vector<page*> pages(64);
  ASSERT_EQ(pin_user_pages_fast(a, 64, FOLL_WRITE, pages.data()), 64);
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 64);
  EXPECT_EQ(vs(GUP_FAST_FALLBACK), 0) << "everything was present and writable";
  for (page* p : pages) EXPECT_EQ(page_maybe_dma_pinned(p), tracking());
  unpin_user_pages_dirty_lock(pages.data(), 64, true);
  for (page* p : pages) {
    EXPECT_FALSE(page_maybe_dma_pinned(p));
    EXPECT_TRUE(PageDirty(page_folio(p)));
  }
  expect_pins_balanced();
}

TEST_P(GupTest, FastFallsBackToFaultIn) {
  const unsigned long a = map(8 * PAGE_SIZE);  // nothing faulted in yet
  page* pages[8];
  ASSERT_EQ(pin_user_pages_fast(a, 8, FOLL_WRITE, pages), 8);
  EXPECT_EQ(vs(GUP_FAST_FALLBACK), 1);
  EXPECT_EQ(get_u64(a), 0u);
  unpin_user_pages(pages, 8);
  expect_pins_balanced();
  page* only[1];
  const unsigned long b = map(PAGE_SIZE);
  EXPECT_EQ(get_user_pages_fast_only(b, 1, FOLL_WRITE, only), 0) << "fast-only never faults";
}

TEST_P(GupTest, FlagMisuseIsEinvalWithAWarning) {
  const unsigned long a = map(PAGE_SIZE);
  page* p[1];
  mmap_read_lock(mm_);
  EXPECT_EQ(get_user_pages(a, 1, FOLL_PIN, p), -EINVAL) << "FOLL_PIN is internal";
  EXPECT_EQ(get_user_pages(a, 1, FOLL_LONGTERM, p), -EINVAL) << "LONGTERM needs PIN";
  EXPECT_EQ(pin_user_pages(a, 1, FOLL_WRITE, nullptr), -EINVAL) << "a pin nobody can release";
  EXPECT_EQ(pin_user_pages(a, 1, FOLL_GET, p), -EINVAL) << "GET and PIN are exclusive";
  mmap_read_unlock(mm_);
  EXPECT_EQ(pin_user_pages_fast(a, -1, FOLL_WRITE, p), -EINVAL);
  expected_warnings_ = 4;
}

TEST_P(GupTest, BadAddressesAreEfault) {
  const unsigned long a = map(4 * PAGE_SIZE);
  const unsigned long ro = map(PAGE_SIZE, PROT_READ);
  page* p[8];
  EXPECT_EQ(pin_user_pages_fast(0x1000, 1, FOLL_WRITE, p), -EFAULT) << "nothing mapped there";
  EXPECT_EQ(pin_user_pages_fast(ro, 1, FOLL_WRITE, p), -EFAULT) << "write to a read-only mapping";
  EXPECT_EQ(pin_user_pages_fast(TASK_SIZE, 1, FOLL_WRITE, p), -EFAULT) << "beyond TASK_SIZE";
  // A range running into a hole returns the pages before it.
  vm_munmap(mm_, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE);
  ASSERT_EQ(pin_user_pages_fast(a, 4, FOLL_WRITE, p), 2);
  unpin_user_pages(p, 2);
  // A read pin of a read-only mapping is fine.
  ASSERT_EQ(pin_user_pages_fast(ro, 1, FOLL_NONE, p), 1);
  unpin_user_pages(p, 1);
  expect_pins_balanced();
}

TEST_P(GupTest, ForceWriteOfPrivateReadOnlyCopiesNeverTheOriginal) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 0xaaaa);
  // Share the page with a child, then make the parent's mapping read-only.
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ), 0);
  page* p[1];
  long n;
  {
    mmap_read_lock(mm_);
    EXPECT_EQ(get_user_pages(a, 1, FOLL_WRITE, p), -EFAULT) << "no FOLL_FORCE: refused";
    n = get_user_pages(a, 1, FOLL_WRITE | FOLL_FORCE, p);
    mmap_read_unlock(mm_);
  }
  ASSERT_EQ(n, 1);
  uint64_t poke = 0xbbbb;
  std::memcpy(page_address(p[0]), &poke, sizeof(poke));  // what ptrace would write
  put_page(p[0]);
  EXPECT_EQ(get_u64(a), 0xbbbbu) << "the parent sees its COW copy";
  EXPECT_EQ(get_u64(a, child), 0xaaaau) << "the child's original page is untouched";
  // A shared read-only mapping cannot be force-written at all.
  const unsigned long s = map(PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
  mmap_read_lock(mm_);
  EXPECT_EQ(get_user_pages(s, 1, FOLL_WRITE | FOLL_FORCE, p), -EFAULT);
  mmap_read_unlock(mm_);
  mmput(child);
}

TEST_P(GupTest, ReadPinOfASharedAnonPageUnsharesIt) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 7);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  page* before[1];
  mmap_read_lock(mm_);
  long got = get_user_pages(a, 1, FOLL_NONE, before);
  mmap_read_unlock(mm_);
  ASSERT_EQ(got, 1);
  page* pinned[1];
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_NONE, pinned), 1);
  EXPECT_NE(pinned[0], before[0]) << "a read pin must not land on the page shared with the child";
  EXPECT_TRUE(PageAnonExclusive(page_folio(pinned[0])));
  // The parent's later write lands on the pinned page (no second COW behind the pin).
  put_u64(a, 8);
  uint64_t v;
  std::memcpy(&v, page_address(pinned[0]), sizeof(v));
  EXPECT_EQ(v, 8u);
  EXPECT_EQ(get_u64(a, child), 7u);
  unpin_user_page(pinned[0]);
  put_page(before[0]);
  mmput(child);
  expect_pins_balanced();
}

TEST_P(GupTest, PinnedPageStaysWithTheParentAcrossFork) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p[1];
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE, p), 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  // The device writes into the pinned page; the parent must see it, the child must not.
  uint64_t dma = 42;
  std::memcpy(page_address(p[0]), &dma, sizeof(dma));
  if (tracking()) {
    EXPECT_EQ(get_u64(a), 42u) << "parent sees the DMA";
    EXPECT_EQ(get_u64(a, child), 1u) << "child got a copy at fork";
  }
  put_u64(a, 2);  // parent writes: under `get` this COWs away from the DMA target
  uint64_t v;
  std::memcpy(&v, page_address(p[0]), sizeof(v));
  if (tracking()) EXPECT_EQ(v, 2u) << "the parent's write lands on the pinned page";
  unpin_user_page(p[0]);
  mmput(child);
  expect_pins_balanced();
}

TEST_P(GupTest, ThpPinTakesTheHeadOnce) {
  const unsigned long len = 4 * PMD_SIZE;
  const unsigned long raw = map(len);
  const unsigned long a = (raw + PMD_SIZE - 1) & PMD_MASK;
  ASSERT_EQ(do_madvise(mm_, a, 2 * PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 5);
  put_u64(a + PMD_SIZE, 6);
  ASSERT_EQ(vs(NR_ANON_THPS), 2);
  std::vector<page*> pages(1024);
  ASSERT_EQ(pin_user_pages_fast(a, 1024, FOLL_WRITE, pages.data()), 1024);
  folio* f = page_folio(pages[0]);
  EXPECT_TRUE(folio_test_large(f));
  for (int i = 0; i < 512; i++) ASSERT_EQ(pages[i], folio_page(f, static_cast<unsigned long>(i)));
  if (GetParam() == PinDesign::folio_pincount) EXPECT_EQ(folio_page(f, 1)->_pincount, 512);
  EXPECT_EQ(folio_maybe_dma_pinned(f), tracking());
  EXPECT_EQ(page_maybe_dma_pinned(pages[700]), tracking());
  unpin_user_pages(pages.data(), 1024);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  expect_pins_balanced();
}

// A PTE-mapped THP keeps exclusivity per subpage. A fork that races a pin and an unpin
// of the folio can leave the head shared (it looked unpinned when fork copied it) and
// subpage 5 exclusive (pinned when fork got there; the child got a copy). A read pin of
// subpage 5 must then go straight through. This once looped forever between GUP, which
// looked at the head, and the unshare fault, which looked at the subpage (seen as a
// hang of GupRaceTest in CI).
TEST_P(GupTest, ReadPinOfAnExclusiveSubpageOfASharedThpDoesNotLoop) {
  const unsigned long raw = map(2 * PMD_SIZE);
  const unsigned long a = (raw + PMD_SIZE - 1) & PMD_MASK;
  ASSERT_EQ(do_madvise(mm_, a, PMD_SIZE, MADV_HUGEPAGE), 0);
  put_u64(a, 1);
  ASSERT_EQ(vs(NR_ANON_THPS), 1);
  // Split the PMD mapping (the folio stays large, now pte-mapped).
  ASSERT_EQ(do_mprotect(mm_, a + 100 * PAGE_SIZE, PAGE_SIZE, PROT_READ), 0);
  ASSERT_EQ(do_mprotect(mm_, a + 100 * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
  const unsigned long sub = a + 5 * PAGE_SIZE;
  page* w[1];
  ASSERT_EQ(pin_user_pages_fast(sub, 1, FOLL_WRITE, w), 1);
  EXPECT_TRUE(folio_test_large(page_folio(w[0])));
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  // What the racing fork would have left: the head shared with the child.
  page* head = compound_head(w[0]);
  if (tracking()) ClearPageAnonExclusive(head);
  page* r[1];
  ASSERT_EQ(pin_user_pages_fast(sub, 1, FOLL_NONE, r), 1);
  EXPECT_TRUE(PageAnonExclusive(r[0]));
  if (tracking()) EXPECT_EQ(r[0], w[0]) << "the pinned subpage stayed with the parent";
  unpin_user_page(r[0]);
  unpin_user_page(w[0]);
  mmput(child);
  expect_pins_balanced();
}

// The slow path grabs the ptes after a found page in one go (one page-table lock per
// table); each must still be checked as if walked alone: a hole is faulted in, the zero
// page is never pin-accounted, a read-only pte under FOLL_WRITE is COW-faulted.
TEST_P(GupTest, SlowPathBatchStopsWhereAPageNeedsMoreThanAGrab) {
  constexpr unsigned long kN = 16;
  const unsigned long a = map(kN * PAGE_SIZE);
  for (unsigned long k = 0; k < kN; k++)
    if (k != 4 && k != 9) put_u64(a + k * PAGE_SIZE, k);
  (void)get_u64(a + 9 * PAGE_SIZE);  // page 9 maps the zero page; page 4 is a hole
  std::vector<page*> ro(kN);
  mmap_read_lock(mm_);
  const long got_ro = pin_user_pages(a, kN, FOLL_NONE, ro.data());
  mmap_read_unlock(mm_);
  ASSERT_EQ(got_ro, static_cast<long>(kN));
  EXPECT_TRUE(PageZero(ro[9])) << "a read pin of the zero page is the zero page";
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), static_cast<long>(kN - 2)) << "zero page (4 and 9) never accounted";
  for (unsigned long k = 0; k < kN; k++) {
    if (PageZero(ro[k])) continue;
    EXPECT_EQ(page_maybe_dma_pinned(ro[k]), tracking()) << k;
  }
  unpin_user_pages(ro.data(), kN);
  std::vector<page*> rw(kN);
  mmap_read_lock(mm_);
  const long got_rw = pin_user_pages(a, kN, FOLL_WRITE, rw.data());
  mmap_read_unlock(mm_);
  ASSERT_EQ(got_rw, static_cast<long>(kN));
  for (unsigned long k = 0; k < kN; k++) {
    EXPECT_FALSE(PageZero(rw[k])) << k;
    uint64_t v;
    std::memcpy(&v, page_address(rw[k]), sizeof(v));
    EXPECT_EQ(v, (k == 4 || k == 9) ? 0u : k) << k;
  }
  unpin_user_pages(rw.data(), kN);
  expect_pins_balanced();
}

// Seed 001's *locked protocol: a fault that waits for I/O (FakeFile::retry_first) drops
// mmap_lock; get_user_pages_locked() retakes it to retry with FOLL_TRIED and then
// returns with it released and *locked == 0, so the caller knows its vmas may be stale.
TEST_P(GupTest, LockedReturnsZeroOnceTheFaultDroppedTheLock) NO_THREAD_SAFETY_ANALYSIS {
  test::FakeFile file(m_.get());
  file.retry_first = true;
  long addr = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file.backing(), 0);
  ASSERT_GT(addr, 0);
  const auto a = static_cast<unsigned long>(addr);
  page* p[4];
  int locked = 1;
  mmap_read_lock(mm_);
  long n = get_user_pages_locked(mm_, a, 4, FOLL_NONE, p, &locked);
  EXPECT_EQ(locked, 0) << "the fault dropped mmap_lock: the call says so";
  EXPECT_FALSE(rwsem_is_locked(&mm_->mmap_lock)) << "and does not hold it on return";
  if (locked) mmap_read_unlock(mm_);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(file.retries.load(), 4) << "each page's first fault dropped the lock";
  EXPECT_GE(vs(PGMAJFAULT), 1) << "the retried fault did the I/O";
  for (page* q : p) put_page(q);
  // Cached and mapped now: no fault, no drop, the lock stays with the caller.
  locked = 1;
  mmap_read_lock(mm_);
  n = get_user_pages_locked(mm_, a, 4, FOLL_NONE, p, &locked);
  EXPECT_EQ(locked, 1) << "never dropped: still held";
  EXPECT_TRUE(rwsem_is_locked(&mm_->mmap_lock));
  if (locked) mmap_read_unlock(mm_);
  ASSERT_EQ(n, 4);
  for (page* q : p) put_page(q);
  vm_munmap(mm_, a, 4 * PAGE_SIZE);
  drop_mm();
}

// Partial progress across drops: the pages got before a drop are kept, pinned and
// counted; pin_user_pages_remote() follows the same protocol.
TEST_P(GupTest, LockedKeepsAndCountsThePagesPinnedBeforeTheDrop) NO_THREAD_SAFETY_ANALYSIS {
  test::FakeFile file(m_.get());
  file.retry_first = true;
  long addr = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file.backing(), 0);
  ASSERT_GT(addr, 0);
  const auto a = static_cast<unsigned long>(addr);
  // Pages 0 and 1 mapped by plain reads (no FAULT_FLAG_ALLOW_RETRY: no drop).
  char c;
  ASSERT_EQ(uaccess_read(mm_, a, &c, 1), 0);
  ASSERT_EQ(uaccess_read(mm_, a + PAGE_SIZE, &c, 1), 0);
  ASSERT_EQ(file.retries.load(), 0);
  page* p[4] = {};
  int locked = 1;
  mmap_read_lock(mm_);
  long n = pin_user_pages_remote(mm_, a, 4, FOLL_NONE, p, &locked);
  EXPECT_EQ(locked, 0);
  if (locked) mmap_read_unlock(mm_);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(file.retries.load(), 2) << "pages 2 and 3 dropped the lock";
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 4) << "the two before the first drop count too";
  for (unsigned k = 0; k < 4; k++) {
    EXPECT_EQ(p[k], file.cached(k)) << k;
    EXPECT_EQ(page_maybe_dma_pinned(p[k]), tracking()) << k;
  }
  unpin_user_pages(p, 4);
  expect_pins_balanced();
  vm_munmap(mm_, a, 4 * PAGE_SIZE);
  drop_mm();
}

// A drop followed by an error: the short count of what was got, and *locked == 0.
TEST_P(GupTest, LockedStopsShortAfterADropWithTheLockReleased) NO_THREAD_SAFETY_ANALYSIS {
  test::FakeFile file(m_.get());
  file.retry_first = true;
  long addr = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file.backing(), 0);
  ASSERT_GT(addr, 0);
  const auto a = static_cast<unsigned long>(addr);
  ASSERT_EQ(vm_munmap(mm_, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE), 0);  // a hole after page 1
  page* p[4] = {};
  int locked = 1;
  mmap_read_lock(mm_);
  long n = get_user_pages_locked(mm_, a, 4, FOLL_NONE, p, &locked);
  EXPECT_EQ(locked, 0);
  EXPECT_FALSE(rwsem_is_locked(&mm_->mmap_lock));
  if (locked) mmap_read_unlock(mm_);
  ASSERT_EQ(n, 2) << "the pages before the hole, not -EFAULT";
  put_page(p[0]);
  put_page(p[1]);
  // Without a drop the same error leaves the lock with the caller.
  locked = 1;
  mmap_read_lock(mm_);
  n = get_user_pages_locked(mm_, a + 2 * PAGE_SIZE, 1, FOLL_NONE, p, &locked);
  EXPECT_EQ(n, -EFAULT);
  EXPECT_EQ(locked, 1);
  if (locked) mmap_read_unlock(mm_);
  vm_munmap(mm_, a, 2 * PAGE_SIZE);
  drop_mm();
}

// The *_unlocked forms take the lock, let every fault drop it, retry, and get all.
TEST_P(GupTest, UnlockedGetsAndPinsEverythingAcrossDrops) NO_THREAD_SAFETY_ANALYSIS {
  test::FakeFile file(m_.get());
  file.retry_first = true;
  long addr = vm_mmap_backed(mm_, 0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file.backing(), 0);
  ASSERT_GT(addr, 0);
  const auto a = static_cast<unsigned long>(addr);
  page* p[4];
  ASSERT_EQ(get_user_pages_unlocked(a, 4, p, FOLL_NONE), 4);
  EXPECT_FALSE(rwsem_is_locked(&mm_->mmap_lock));
  EXPECT_EQ(file.retries.load(), 4);
  for (page* q : p) put_page(q);
  ASSERT_EQ(pin_user_pages_unlocked(a + 4 * PAGE_SIZE, 4, p, FOLL_WRITE), 4);
  EXPECT_FALSE(rwsem_is_locked(&mm_->mmap_lock));
  EXPECT_EQ(file.retries.load(), 8);
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 4);
  for (unsigned k = 0; k < 4; k++) EXPECT_EQ(p[k], file.cached(4 + k)) << k;
  for (page* q : p) EXPECT_EQ(page_maybe_dma_pinned(q), tracking());
  unpin_user_pages(p, 4);
  expect_pins_balanced();
  vm_munmap(mm_, a, 8 * PAGE_SIZE);
  drop_mm();
}

TEST_P(GupTest, LockedRefusesACallerThatDoesNotHoldTheLock) {
  const unsigned long a = map(PAGE_SIZE);
  page* p[1];
  int locked = 0;
  EXPECT_EQ(pin_user_pages_remote(mm_, a, 1, FOLL_NONE, p, &locked), -EINVAL) << "*locked must be 1 on entry";
  EXPECT_EQ(locked, 0);
  expected_warnings_ = 1;
}

TEST_P(GupTest, NowaitStopsShortInsteadOfWaiting) NO_THREAD_SAFETY_ANALYSIS {
  test::FakeFile file(m_.get());
  file.retry_first = true;
  long addr = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, file.backing(), 0);
  ASSERT_GT(addr, 0);
  page* p[1];
  int locked = 1;
  mmap_read_lock(mm_);
  long n = get_user_pages_locked(mm_, static_cast<unsigned long>(addr), 1, FOLL_NOWAIT, p, &locked);
  EXPECT_EQ(locked, 1) << "FOLL_NOWAIT keeps mmap_lock";
  if (locked) mmap_read_unlock(mm_);
  EXPECT_EQ(n, 0);
  drop_mm();
}

TEST_P(GupTest, RemoteGupOnAnotherMm) {
  mm_struct* other = mm_alloc(m_.get());
  const unsigned long a = map(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, other);
  put_u64(a, 99, other);
  page* p[2];
  mmap_read_lock(other);
  long n = pin_user_pages_remote(other, a, 2, FOLL_WRITE, p, nullptr);
  mmap_read_unlock(other);
  ASSERT_EQ(n, 2);
  uint64_t v;
  std::memcpy(&v, page_address(p[0]), sizeof(v));
  EXPECT_EQ(v, 99u);
  unpin_user_pages(p, 2);
  mmput(other);
  expect_pins_balanced();
}

TEST_P(GupTest, PinOverflowIsRefused) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p[1];
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE, p), 1);
  folio* f = page_folio(p[0]);
  const int fill = INT_MAX - page_ref_count(f);  // no room for even one more reference
  page_ref_add(f, fill);
  page* q[1];
  EXPECT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE, q), -EOVERFLOW);
  EXPECT_GE(vs(GUP_PIN_OVERFLOW), 1);
  page_ref_sub(f, fill);
  unpin_user_page(p[0]);
  expect_pins_balanced();
  expected_warnings_ = static_cast<int>(m_->nr_warnings());
  EXPECT_GE(expected_warnings_, 1);
}

TEST_P(GupTest, ZeroPageReadPinIsNotAccounted) {
  const unsigned long a = map(PAGE_SIZE);
  page* p[1];
  mmap_read_lock(mm_);
  long got = pin_user_pages(a, 1, FOLL_NONE, p);
  mmap_read_unlock(mm_);
  ASSERT_EQ(got, 1);
  EXPECT_TRUE(PageZero(p[0]));
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 0);
  unpin_user_page(p[0]);
  // A long-term read pin must not sit on the zero page: it gets a page of its own.
  mmap_read_lock(mm_);
  got = pin_user_pages(a, 1, FOLL_LONGTERM, p);
  mmap_read_unlock(mm_);
  ASSERT_EQ(got, 1);
  EXPECT_FALSE(PageZero(p[0]));
  unpin_user_page(p[0]);
  expect_pins_balanced();
}

TEST_P(GupTest, ProtNoneIsNotPinnedByTheFastWalk) {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_NONE), 0);
  page* p[1];
  EXPECT_EQ(pin_user_pages_fast(a, 1, FOLL_NONE, p), -EFAULT);
  expect_pins_balanced();
}

// Seed 000 as posted (design bias_all): every get_user_pages*() adds the bias, FOLL_GET
// ones too, and must be released with put_user_page(). A caller still using put_page()
// leaves GUP_PIN_COUNTING_BIAS - 1 references: the leak that split FOLL_GET from FOLL_PIN.
class BiasAllTest : public test::MmTest {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config();
    c.pin_design = PinDesign::bias_all;
    return c;
  }
};

TEST_F(BiasAllTest, PutPageLeaves1023ReferencesAndTheFrameIsNeverFreed) NO_THREAD_SAFETY_ANALYSIS {
  const unsigned long a = map(PAGE_SIZE);
  put_u64(a, 7);
  page* p = nullptr;
  mmap_read_lock(mm_);
  ASSERT_EQ(get_user_pages(a, 1, FOLL_WRITE, &p), 1);
  mmap_read_unlock(mm_);
  folio* f = page_folio(p);
  EXPECT_EQ(page_ref_count(f), 1 + GUP_PIN_COUNTING_BIAS) << "the mapping's reference + the bias, for a FOLL_GET";
  EXPECT_TRUE(page_maybe_dma_pinned(p));
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 1) << "every get_user_pages() is a pin";
  put_page(p);  // the legacy caller
  EXPECT_EQ(page_ref_count(f), 1 + GUP_PIN_COUNTING_BIAS - 1) << "1023 above the 1 it should be";
  EXPECT_TRUE(page_maybe_dma_pinned(p)) << "and it looks pinned for good";
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), 0) << "the pin oracle's nr_foll_pin_acquired != released";
  ASSERT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  rcu_barrier();
  EXPECT_EQ(page_ref_count(f), GUP_PIN_COUNTING_BIAS - 1) << "unmapped, and still not freed";
  // What put_user_page() would have taken: now the frame goes back.
  const unsigned long free0 = nr_free_pages(m_.get());
  folio_put_refs(f, GUP_PIN_COUNTING_BIAS - 1);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 1) << "it was that frame the leak kept";
}

TEST_F(BiasAllTest, PutUserPageReleasesWhatEveryGupTook) {
  const unsigned long a = map(4 * PAGE_SIZE);
  for (unsigned long k = 0; k < 4; k++) put_u64(a + k * PAGE_SIZE, k);
  page* p[4];
  mmap_read_lock(mm_);
  const long got = get_user_pages(a, 2, FOLL_NONE, p);
  mmap_read_unlock(mm_);
  ASSERT_EQ(got, 2);
  ASSERT_EQ(get_user_pages_fast(a + 2 * PAGE_SIZE, 2, FOLL_WRITE, p + 2), 2) << "GUP-fast too";
  for (page* q : p) {
    EXPECT_EQ(page_ref_count(page_folio(q)), 1 + GUP_PIN_COUNTING_BIAS);
    EXPECT_TRUE(page_maybe_dma_pinned(q));
  }
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 4);
  for (page* q : p) put_user_page(q);
  for (page* q : p) {
    EXPECT_EQ(page_ref_count(page_folio(q)), 1) << "back to the mapping's reference";
    EXPECT_FALSE(page_maybe_dma_pinned(q));
  }
  EXPECT_EQ(vs(NR_FOLL_PIN_RELEASED), 4);
  // The fixture checks every frame is free once the mm is gone.
}

INSTANTIATE_TEST_SUITE_P(Designs, GupTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab

namespace guplab::fstest {
namespace {

// writable_file_mapping_allowed() (upstream 6.5), on when MachineConfig::
// refuse_longterm_file_pins: a FOLL_LONGTERM | FOLL_WRITE pin of an ext4 page in a
// shared mapping is -EFAULT from both the slow path and GUP-fast; a short-term pin, a
// read-only long-term pin and a pin of a private mapping (its COW copy) still work.
class LongtermFilePinTest : public FsTest, public ::testing::WithParamInterface<bool> {
 protected:
  FsParams params() override {
    FsParams p;
    p.refuse_longterm_file_pins = GetParam();
    return p;
  }
};

TEST_P(LongtermFilePinTest, WritableLongtermPinOfASharedDiskFileMapping) {
  write_file("/mnt/f", pattern(4096, 1), true);
  file* f = open("/mnt/f");
  ASSERT_NE(f, nullptr);
  unsigned long shared = map_file(f, 4096);
  unsigned long priv = map_file(f, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  char c = 0;
  ASSERT_EQ(uaccess_read(mm_, shared, &c, 1), 0);  // present: GUP-fast could take it
  page* p = nullptr;
  const long want_refused = GetParam() ? -EFAULT : 1;
  EXPECT_EQ(pin_user_pages_fast(shared, 1, FOLL_WRITE | FOLL_LONGTERM, &p), want_refused);
  if (!GetParam()) unpin_user_page(p);
  mmap_read_lock(mm_);
  EXPECT_EQ(pin_user_pages(shared, 1, FOLL_WRITE | FOLL_LONGTERM, &p), want_refused);
  mmap_read_unlock(mm_);
  if (!GetParam()) unpin_user_page(p);
  for (foll_flags fl : {FOLL_WRITE, FOLL_LONGTERM}) {
    ASSERT_EQ(pin_user_pages_fast(shared, 1, fl, &p), 1);
    unpin_user_page(p);
  }
  ASSERT_EQ(pin_user_pages_fast(priv, 1, FOLL_WRITE | FOLL_LONGTERM, &p), 1);
  EXPECT_TRUE(PageAnon(p));
  unpin_user_page(p);
  filp_close(f);
}

// A long-term R/O pin of a page-cache page mapped by a private mapping unshares it: the
// pin gets an anonymous copy (mapped read-only), which later writes of the mm reuse, so
// the pin sees them. The model used to answer the unshare fault of a file page with
// nothing, and GUP asked again forever (found by `guplab conform`: "R/O longterm GUP pin
// ... with tmpfile").
TEST_P(LongtermFilePinTest, ReadOnlyLongtermPinOfAPrivateFilePageGetsAnAnonCopy) {
  write_file("/mnt/f", pattern(4096, 2), true);
  file* f = open("/mnt/f");
  ASSERT_NE(f, nullptr);
  unsigned long priv = map_file(f, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  char c = 0;
  ASSERT_EQ(uaccess_read(mm_, priv, &c, 1), 0);  // maps the page-cache page read-only
  for (bool fast : {false, true}) {
    page* p = nullptr;
    long got;
    if (fast) {
      got = pin_user_pages_fast(priv, 1, FOLL_LONGTERM, &p);
    } else {
      mmap_read_lock(mm_);
      got = pin_user_pages(priv, 1, FOLL_LONGTERM, &p);
      mmap_read_unlock(mm_);
    }
    ASSERT_EQ(got, 1);
    EXPECT_TRUE(PageAnon(p));
    // The file's bytes (past the first word, which the first round's write changed).
    EXPECT_EQ(std::memcmp(static_cast<char*>(page_address(p)) + 8, pattern(4096, 2).data() + 8, 4096 - 8), 0);
    const uint64_t v = fast ? 7 : 6;
    ASSERT_EQ(uaccess_write(mm_, priv, &v, sizeof(v)), 0);
    EXPECT_EQ(std::memcmp(page_address(p), &v, sizeof(v)), 0) << "the pin sees the mm's write";
    unpin_user_page(p);
  }
  EXPECT_EQ(read_file("/mnt/f"), pattern(4096, 2)) << "the file is untouched";
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Refuse, LongtermFilePinTest, ::testing::Bool(),
                         [](const auto& info) { return std::string(info.param ? "upstream" : "seed_era"); });

}  // namespace
}  // namespace guplab::fstest
