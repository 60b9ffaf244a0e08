// memory_test.cc - faults: zero page, anonymous write, reuse, COW, unshare, file-backed
// vm_ops (->fault, ->page_mkwrite), the VM_FAULT_RETRY protocol, zap.
#include "mm/memory.h"

#include <cstring>

#include "mm/fake_vm_ops.h"
#include "mm/gup.h"
#include "mm/mm_fixture.h"
#include "mm/pagemap.h"

namespace guplab::test {
namespace {

using MemoryTest = MmTest;

TEST_F(MemoryTest, ReadFaultMapsZeroPageAndWriteReplacesIt) {
  unsigned long a = map(16 * PAGE_SIZE);
  page* zero = m_->zero_page();
  const int zero_refs = page_ref_count(zero);
  const int64_t faults = vs(PGFAULT);
  EXPECT_EQ(fault(a, FAULT_FLAG_USER), VM_FAULT_NONE);
  EXPECT_EQ(vs(PGFAULT), faults + 1);
  pte_t pte = pte_at(a);
  ASSERT_TRUE(pte_present(pte));
  EXPECT_TRUE(pte_special(pte));
  EXPECT_FALSE(pte_write(pte));
  EXPECT_EQ(pte_pfn(pte), page_to_pfn(zero));
  EXPECT_EQ(page_ref_count(zero), zero_refs) << "the zero page is not refcounted by mappings";
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 0);
  EXPECT_EQ(get_u64(a), 0u);

  put_u64(a, 0x1122334455667788ull);
  pte = pte_at(a);
  EXPECT_NE(pte_pfn(pte), page_to_pfn(zero));
  EXPECT_TRUE(pte_write(pte) && pte_dirty(pte));
  EXPECT_FALSE(pte_special(pte));
  page* p = page_at(a);
  EXPECT_TRUE(PageAnon(p) && PageAnonExclusive(p) && PageSwapBacked(p) && PageLRU(p));
  EXPECT_EQ(page_zonenum(p), static_cast<unsigned>(ZONE_MOVABLE));
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(p->index, a >> PAGE_SHIFT);
  EXPECT_EQ(page_anon_vma(p), lookup(a)->anon_vma_);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 1);
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 1);
  EXPECT_EQ(page_ref_count(zero), zero_refs);
  EXPECT_EQ(get_u64(a), 0x1122334455667788ull);
  EXPECT_EQ(get_u64(a + 8), 0u) << "a new anon page is zeroed";
}

TEST_F(MemoryTest, WriteFaultOnEmptyPteAllocatesDirectly) {
  unsigned long a = map(4 * PAGE_SIZE);
  const int64_t cow = vs(COW_FAULTS);
  EXPECT_EQ(fault(a + PAGE_SIZE, FAULT_FLAG_WRITE | FAULT_FLAG_USER), VM_FAULT_NONE);
  EXPECT_TRUE(pte_write(pte_at(a + PAGE_SIZE)));
  EXPECT_EQ(vs(COW_FAULTS), cow);
  EXPECT_EQ(page_ref_count(page_at(a + PAGE_SIZE)), 1);
}

TEST_F(MemoryTest, RefcountRules) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 7);
  page* p = page_at(a);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(page_ref_count(p), 1) << "the mapping's reference";
  get_page(p);
  EXPECT_EQ(page_ref_count(p), 2);
  const unsigned long before = nr_free_pages(m_.get());
  ASSERT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  EXPECT_EQ(page_ref_count(p), 1) << "unmap drops only the mapping's reference";
  EXPECT_EQ(page_mapcount(p), 0);
  EXPECT_FALSE(folio_mapped(page_folio(p)));
  EXPECT_EQ(vs(NR_ANON_MAPPED), 0);
  rcu_barrier();
  const unsigned long mid = nr_free_pages(m_.get());
  put_page(p);
  EXPECT_EQ(nr_free_pages(m_.get()), mid + 1) << "freed on the last put";
  EXPECT_GT(nr_free_pages(m_.get()), before);
}

TEST_F(MemoryTest, WriteProtectFaultReusesExclusivePage) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  page* p = page_at(a);
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ), 0);
  EXPECT_FALSE(pte_write(pte_at(a)));
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
  EXPECT_FALSE(pte_write(pte_at(a))) << "adding PROT_WRITE does not make ptes writable";
  const int64_t cow = vs(COW_FAULTS), reuse = vs(PGREUSE);
  put_u64(a, 2);
  EXPECT_EQ(page_at(a), p) << "exclusive page reused, not copied";
  EXPECT_EQ(vs(COW_FAULTS), cow);
  EXPECT_EQ(vs(PGREUSE), reuse + 1);
  EXPECT_TRUE(pte_write(pte_at(a)));
}

TEST_F(MemoryTest, NonExclusivePageWithSingleReferenceIsReusedAndMadeExclusive) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  page* p = page_at(a);
  EXPECT_FALSE(PageAnonExclusive(p));
  mmput(child);  // the parent is now the only user, but the page is not marked exclusive
  EXPECT_EQ(page_ref_count(p), 1);
  const int64_t cow = vs(COW_FAULTS);
  put_u64(a, 2);
  EXPECT_EQ(page_at(a), p);
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_EQ(vs(COW_FAULTS), cow);
}

TEST_F(MemoryTest, UnshareGivesReadOnlyPinAnExclusivePage) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 42);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  page* shared = page_at(a);
  ASSERT_EQ(page_at(a, child), shared);
  EXPECT_EQ(fault(a, FAULT_FLAG_UNSHARE), VM_FAULT_NONE);
  page* mine = page_at(a);
  EXPECT_NE(mine, shared);
  EXPECT_TRUE(PageAnonExclusive(mine));
  EXPECT_FALSE(pte_write(pte_at(a))) << "unshare does not grant write";
  EXPECT_EQ(get_u64(a), 42u);
  EXPECT_EQ(page_at(a, child), shared);
  EXPECT_EQ(page_mapcount(shared), 1);
  // Unsharing an exclusive page changes nothing.
  EXPECT_EQ(fault(a, FAULT_FLAG_UNSHARE), VM_FAULT_NONE);
  EXPECT_EQ(page_at(a), mine);
  // A later write reuses the exclusive page.
  put_u64(a, 43);
  EXPECT_EQ(page_at(a), mine);
  EXPECT_EQ(get_u64(a, child), 42u);
  mmput(child);
}

TEST_F(MemoryTest, UnshareOfZeroPageGivesPrivateZeroedPage) {
  unsigned long a = map(PAGE_SIZE);
  EXPECT_EQ(fault(a, FAULT_FLAG_NONE), VM_FAULT_NONE);
  ASSERT_TRUE(pte_special(pte_at(a)));
  EXPECT_EQ(fault(a, FAULT_FLAG_UNSHARE), VM_FAULT_NONE);
  page* p = page_at(a);
  EXPECT_FALSE(PageZero(p));
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_FALSE(pte_write(pte_at(a)));
  EXPECT_EQ(get_u64(a), 0u);
}

TEST_F(MemoryTest, BadFaultFlagMixesAreRefused) {
  unsigned long a = map(PAGE_SIZE);
  EXPECT_EQ(fault(a, FAULT_FLAG_UNSHARE | FAULT_FLAG_WRITE), VM_FAULT_SIGSEGV);
  expected_warnings_ = 1;
  FakeFile f(m_.get());
  long s = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, f.backing(false), 0);
  ASSERT_GT(s, 0);
  EXPECT_EQ(fault(s, FAULT_FLAG_WRITE), VM_FAULT_SIGSEGV) << "write to a read-only shared mapping";
  drop_mm();
}

TEST_F(MemoryTest, PrivateFileMappingReadsFilePageAndCopiesOnWrite) {
  FakeFile f(m_.get());
  long a = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.backing(), 3);
  ASSERT_GT(a, 0);
  EXPECT_EQ(f.opens, 1);
  uint8_t b = 0;
  ASSERT_EQ(uaccess_read(mm_, a + PAGE_SIZE + 5, &b, 1), 0);
  EXPECT_EQ(b, FakeFile::pattern(4));
  page* fp = f.cached(4);
  ASSERT_NE(fp, nullptr);
  EXPECT_EQ(page_at(a + PAGE_SIZE), fp);
  EXPECT_FALSE(PageAnon(fp));
  EXPECT_EQ(page_mapcount(fp), 1);
  EXPECT_EQ(page_ref_count(fp), 2) << "the file's and the mapping's";
  EXPECT_EQ(atomic_read(&mm_->rss_file), 1);
  EXPECT_FALSE(pte_write(pte_at(a + PAGE_SIZE)));

  const int64_t cow = vs(COW_FAULTS);
  put_u64(a + PAGE_SIZE, 5);
  page* anon = page_at(a + PAGE_SIZE);
  EXPECT_NE(anon, fp);
  EXPECT_TRUE(PageAnon(anon) && PageAnonExclusive(anon));
  EXPECT_EQ(vs(COW_FAULTS), cow + 1);
  EXPECT_EQ(page_ref_count(fp), 1);
  EXPECT_EQ(page_mapcount(fp), 0);
  EXPECT_EQ(atomic_read(&mm_->rss_file), 0);
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 1);
  uint8_t rest[8];
  ASSERT_EQ(uaccess_read(mm_, a + PAGE_SIZE + 8, rest, 8), 0);
  for (uint8_t x : rest) EXPECT_EQ(x, FakeFile::pattern(4)) << "COW copied the file page";
  EXPECT_EQ(static_cast<uint8_t>(page_address(fp) ? *static_cast<uint8_t*>(page_address(fp)) : 0),
            FakeFile::pattern(4))
      << "the file page itself is untouched";
  // A write fault on an empty pte of a private file mapping copies at once.
  put_u64(a + 2 * PAGE_SIZE, 6);
  EXPECT_TRUE(PageAnon(page_at(a + 2 * PAGE_SIZE)));
  EXPECT_EQ(vs(COW_FAULTS), cow + 2);
  drop_mm();
  EXPECT_EQ(f.closes, 1);
}

TEST_F(MemoryTest, SharedFileMappingCallsPageMkwrite) {
  FakeFile f(m_.get());
  long a = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f.backing(), 0);
  ASSERT_GT(a, 0);
  // Read first: mapped read-only (write-notify), so the first write calls ->page_mkwrite.
  uint8_t b;
  ASSERT_EQ(uaccess_read(mm_, a, &b, 1), 0);
  EXPECT_FALSE(pte_write(pte_at(a)));
  EXPECT_EQ(f.mkwrites, 0);
  put_u64(a, 9);
  EXPECT_EQ(f.mkwrites, 1);
  page* fp = f.cached(0);
  EXPECT_EQ(page_at(a), fp) << "shared: no copy";
  EXPECT_TRUE(pte_write(pte_at(a)) && pte_dirty(pte_at(a)));
  EXPECT_TRUE(PageDirty(fp));
  EXPECT_EQ(*static_cast<uint64_t*>(page_address(fp)), 9u);
  put_u64(a + 8, 10);
  EXPECT_EQ(f.mkwrites, 1) << "writable now: no more faults";
  // Write fault on an empty pte: ->fault then ->page_mkwrite.
  put_u64(a + PAGE_SIZE, 11);
  EXPECT_EQ(f.mkwrites, 2);
  EXPECT_TRUE(PageDirty(f.cached(1)));
  EXPECT_FALSE(PageLocked(f.cached(1)));
  drop_mm();
}

TEST_F(MemoryTest, SharedMappingWithoutMkwriteMapsWritableOnRead) {
  FakeFile f(m_.get());
  long a = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f.backing(true, false), 0);
  ASSERT_GT(a, 0);
  uint8_t b;
  ASSERT_EQ(uaccess_read(mm_, a, &b, 1), 0);
  EXPECT_TRUE(pte_write(pte_at(a)));
  drop_mm();
}

TEST_F(MemoryTest, PageMkwriteErrorBecomesEfault) {
  FakeFile f(m_.get());
  f.mkwrite_result = VM_FAULT_SIGBUS;
  long a = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f.backing(), 0);
  ASSERT_GT(a, 0);
  uint64_t v = 1;
  EXPECT_EQ(uaccess_write(mm_, a, &v, 8), -EFAULT);
  EXPECT_EQ(f.mkwrites, 1);
  EXPECT_EQ(page_ref_count(f.cached(0)), 1) << "no reference leaked by the failed fault";
  EXPECT_FALSE(PageLocked(f.cached(0)));
  drop_mm();
}

TEST_F(MemoryTest, FaultBeyondFileIsSigbus) {
  FakeFile f(m_.get(), 2);
  long a = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, f.backing(), 0);
  ASSERT_GT(a, 0);
  EXPECT_EQ(fault(a + 3 * PAGE_SIZE, FAULT_FLAG_USER), VM_FAULT_SIGBUS);
  uint8_t b;
  EXPECT_EQ(uaccess_read(mm_, a + 3 * PAGE_SIZE, &b, 1), -EFAULT);
  EXPECT_EQ(uaccess_read(mm_, a + PAGE_SIZE, &b, 1), 0);
  drop_mm();
}

// The FAULT_FLAG_ALLOW_RETRY / VM_FAULT_RETRY protocol (seed 001).
TEST_F(MemoryTest, RetryProtocolDropsMmapLockAndSucceedsWhenTried) {
  FakeFile f(m_.get());
  f.retry_first = true;
  long a = vm_mmap_backed(mm_, 0, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE, f.backing(), 0);
  ASSERT_GT(a, 0);
  const int64_t maj = vs(PGMAJFAULT), flt = vs(PGFAULT);
  vm_fault_t ret = fault(a, FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE);
  EXPECT_EQ(ret, VM_FAULT_RETRY);
  EXPECT_TRUE(f.saw_lock_held_on_retry);
  EXPECT_FALSE(rwsem_is_locked(&mm_->mmap_lock)) << "VM_FAULT_RETRY: mmap_lock already released";
  EXPECT_EQ(f.retries, 1);
  EXPECT_FALSE(pte_present(pte_at(a)));
  EXPECT_EQ(vs(PGMAJFAULT), maj) << "a retried fault is accounted once, when it completes";
  // The retry, as get_user_pages_locked() does it: retake the lock, look the vma up again.
  ret = fault(a, FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | FAULT_FLAG_TRIED);
  EXPECT_EQ(ret, VM_FAULT_MAJOR);
  EXPECT_FALSE(rwsem_is_locked(&mm_->mmap_lock));
  EXPECT_EQ(page_at(a), f.cached(0));
  EXPECT_EQ(vs(PGMAJFAULT), maj + 1);
  EXPECT_EQ(vs(PGFAULT), flt + 2);
  EXPECT_EQ(f.retries, 1);
  // Without FAULT_FLAG_ALLOW_RETRY the handler may not drop the lock: it just succeeds.
  EXPECT_EQ(fault(a + PAGE_SIZE, FAULT_FLAG_USER), VM_FAULT_NONE);
  EXPECT_EQ(f.retries, 1);
  EXPECT_EQ(page_at(a + PAGE_SIZE), f.cached(1));
  // The software MMU never allows retry.
  uint8_t b;
  EXPECT_EQ(uaccess_read(mm_, a, &b, 1), 0);
  drop_mm();
}

TEST_F(MemoryTest, ZapMovesDirtyBitToFilePage) {
  FakeFile f(m_.get());
  long a = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f.backing(true, false), 0);
  ASSERT_GT(a, 0);
  uint8_t b;
  ASSERT_EQ(uaccess_read(mm_, a, &b, 1), 0);  // mapped writable, clean
  page* fp = f.cached(0);
  EXPECT_FALSE(PageDirty(fp));
  put_u64(a, 3);  // no fault: the "MMU" sets the pte's dirty bit
  EXPECT_TRUE(pte_dirty(pte_at(a)));
  EXPECT_FALSE(PageDirty(fp));
  const int dirtied = f.dirtied;
  ASSERT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), 0);
  EXPECT_TRUE(PageDirty(fp)) << "zap transfers the pte dirty bit to the page";
  EXPECT_EQ(f.dirtied, dirtied + 1) << "through the mapping's ->dirty_folio";
  EXPECT_EQ(page_mapcount(fp), 0);
  drop_mm();
}

TEST_F(MemoryTest, FaultOutsideVmaIsRefused) {
  unsigned long a = map(PAGE_SIZE);
  mmap_read_lock(mm_);
  vm_area_struct* vma = vma_lookup(mm_, a);
  EXPECT_EQ(handle_mm_fault(vma, a + PAGE_SIZE, FAULT_FLAG_NONE), VM_FAULT_SIGSEGV);
  mmap_read_unlock(mm_);
  expected_warnings_ = 1;
}

TEST_F(MemoryTest, ZapPageRangeSingleClearsOnlyTheRange) {
  unsigned long a = map(8 * PAGE_SIZE);
  for (int i = 0; i < 8; i++) put_u64(a + i * PAGE_SIZE, 100 + i);
  const unsigned long free0 = nr_free_pages(m_.get());
  mmap_read_lock(mm_);
  zap_page_range_single(vma_lookup(mm_, a), a + 2 * PAGE_SIZE, 3 * PAGE_SIZE);
  mmap_read_unlock(mm_);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 3);
  for (int i = 0; i < 8; i++) {
    const bool zapped = i >= 2 && i < 5;
    EXPECT_EQ(pte_present(pte_at(a + i * PAGE_SIZE)), !zapped) << i;
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE), zapped ? 0u : 100u + i) << i;
  }
}

TEST_F(MemoryTest, UnmapVmasZapsEveryOverlappedVma) {
  unsigned long a = map(8 * PAGE_SIZE);
  ASSERT_EQ(do_mprotect(mm_, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_READ), 0);  // two vmas
  for (int i = 0; i < 4; i++) put_u64(a + i * PAGE_SIZE, 1);
  for (int i = 4; i < 8; i++) EXPECT_EQ(get_u64(a + i * PAGE_SIZE), 0u);  // zero page
  const unsigned long free0 = nr_free_pages(m_.get());
  mmu_gather tlb;
  mmap_write_lock(mm_);
  tlb_gather_mmu(&tlb, mm_);
  unmap_vmas(&tlb, mm_, a + 2 * PAGE_SIZE, a + 6 * PAGE_SIZE);
  tlb_finish_mmu(&tlb);
  mmap_write_unlock(mm_);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 2);
  for (int i = 0; i < 8; i++) EXPECT_EQ(pte_present(pte_at(a + i * PAGE_SIZE)), i < 2 || i >= 6) << i;
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 2);
}

}  // namespace
}  // namespace guplab::test

namespace guplab::test {
namespace {

// The COW reuse rule (MachineConfig::cow_reuse): a COW-shared page that the other mm
// unmapped while a third party (a vmsplice()d pipe: a get_user_pages_fast() reference)
// still holds it. Upstream copies (its refcount is not 1); the pre-5.8 rule reuses it
// because this mapping is its only one, and the holder then sees this mm's later write
// (CVE-2020-29374).
class CowReuseTest : public MmTest, public ::testing::WithParamInterface<CowReuse> {
 protected:
  MachineConfig config() override {
    MachineConfig c = small_config();
    c.cow_reuse = GetParam();
    return c;
  }
};

TEST_P(CowReuseTest, WriteAfterTheOtherMmUnmappedReusesOnlyByMapcount) {
  unsigned long a = map(PAGE_SIZE);
  put_u64(a, 1);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  scope_->task()->mm = child;
  page* held = nullptr;
  ASSERT_EQ(get_user_pages_fast(a, 1, FOLL_NONE, &held), 1);  // the child's vmsplice()
  scope_->task()->mm = mm_;
  ASSERT_EQ(vm_munmap(child, a, PAGE_SIZE), 0);
  put_u64(a, 2);  // the parent writes
  const bool reused = page_at(a) == held;
  uint64_t seen = 0;
  std::memcpy(&seen, page_address(held), sizeof(seen));
  EXPECT_EQ(reused, GetParam() == CowReuse::mapcount);
  EXPECT_EQ(seen, GetParam() == CowReuse::mapcount ? 2u : 1u) << "what the child's pipe holds";
  put_page(held);
  mmput(child);
}

INSTANTIATE_TEST_SUITE_P(Rules, CowReuseTest, ::testing::Values(CowReuse::refcount, CowReuse::mapcount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab::test

namespace guplab::test {
namespace {

// REQUIRES: lines are checked in every build (base/bug.h's VM_ checks): a fault handled
// without the mmap_lock its contract asks for is an oops on the machine, naming the
// check, in release builds as in debug ones.
TEST(RequiresChecked, FaultWithoutMmapLockIsAnOopsNamingTheCheck) {
  Machine m(small_config());
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    ASSERT_NE(mm, nullptr);
    current()->mm = mm;
    const long a = vm_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    ASSERT_GT(a, 0);
    mmap_read_lock(mm);
    vm_area_struct* vma = vma_lookup(mm, static_cast<unsigned long>(a));
    mmap_read_unlock(mm);
    ASSERT_NE(vma, nullptr);
    bool returned = false;
    try {
      handle_mm_fault(vma, static_cast<unsigned long>(a), FAULT_FLAG_WRITE);  // no mmap_lock: BUG
      returned = true;
    } catch (const MachineHalted&) {
      // The oops unwinds the task; the test still frees its mm (uncontended locks only).
    }
    EXPECT_FALSE(returned) << "handle_mm_fault() returned without mmap_lock held";
    current()->mm = nullptr;
    mmput(mm);
  });
  ASSERT_EQ(m.nr_oops(), 1u);
  const std::string report = m.oopses()[0].format();
  EXPECT_NE(report.find("rwsem_is_locked"), std::string::npos) << report;
  EXPECT_NE(report.find("mmap_assert_locked"), std::string::npos) << report;
}

}  // namespace
}  // namespace guplab::test
