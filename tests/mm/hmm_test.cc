// hmm_test.cc - hmm_range_fault(): pfns collected and faulted in by request bits, no
// reference taken, the sequence protocol's -EBUSY, errors, and huge leaves.
#include "mm/hmm.h"

#include <gtest/gtest.h>

#include <vector>

#include "mm/page_ref.h"
#include "mm_fixture.h"

namespace guplab::test {
namespace {

const mmu_interval_notifier_ops kSeqOps = {
    [](mmu_interval_notifier* mni, const mmu_notifier_range*, unsigned long cur_seq) {
      mmu_interval_set_seq(mni, cur_seq);
      return true;
    },
};

/** A mirror of [addr, addr + n pages) and the call that fills it. */
struct HmmMirror {
  mmu_interval_notifier mni;
  std::vector<unsigned long> pfns;
  hmm_range range;

  HmmMirror(mm_struct* mm, unsigned long addr, unsigned long n) : pfns(n) {
    EXPECT_EQ(mmu_interval_notifier_insert(&mni, mm, addr, n * PAGE_SIZE, &kSeqOps), 0);
    range.notifier = &mni;
    range.start = addr;
    range.end = addr + n * PAGE_SIZE;
    range.hmm_pfns = pfns.data();
  }
  ~HmmMirror() { mmu_interval_notifier_remove(&mni); }
  /**
   * A read as a driver makes it: read_begin, hmm_range_fault under mmap_lock for read,
   * again on -EBUSY (a fault of its own may invalidate the range: a COW break is CLEAR).
   * With @keep_seq: one call under the sequence already in range.notifier_seq.
   */
  int fault(unsigned long flags, bool keep_seq = false) {
    range.default_flags = flags;
    const std::vector<unsigned long> in = pfns;  // the request bits, for each attempt
    for (;;) {
      if (!keep_seq) range.notifier_seq = mmu_interval_read_begin(&mni);
      mmap_read_lock(mni.mm);
      int ret = hmm_range_fault(&range);
      mmap_read_unlock(mni.mm);
      if (ret != -EBUSY || keep_seq) return ret;
      retries++;
      pfns = in;
    }
  }
  int retries = 0;
};

class HmmTest : public MmTest {};

TEST_F(HmmTest, FaultsInWritableAndTakesNoReference) {
  const unsigned long a = map(4 * PAGE_SIZE);
  HmmMirror mirror(mm_, a, 4);
  ASSERT_EQ(mirror.fault(HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE), 0);
  for (unsigned long i = 0; i < 4; i++) {
    page* p = page_at(a + i * PAGE_SIZE);
    ASSERT_NE(p, nullptr) << "faulted in";
    EXPECT_EQ(mirror.pfns[i], page_to_pfn(p) | HMM_PFN_VALID | HMM_PFN_WRITE);
    EXPECT_EQ(page_ref_count(p), 1) << "the mapping's reference only: hmm keeps none";
    EXPECT_TRUE(pte_write(pte_at(a + i * PAGE_SIZE)));
  }
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), 0);
  EXPECT_FALSE(mmu_interval_read_retry(&mirror.mni, mirror.range.notifier_seq));
}

TEST_F(HmmTest, ReadRequestGetsTheZeroPageReadOnlyAndNoRequestFaultsNothing) {
  const unsigned long a = map(3 * PAGE_SIZE);
  put_u64(a + 2 * PAGE_SIZE, 7);  // only the last page is there
  HmmMirror mirror(mm_, a, 3);
  ASSERT_EQ(mirror.fault(0), 0);
  EXPECT_EQ(mirror.pfns[0], 0ul) << "not requested, not mapped: reported as it is";
  EXPECT_EQ(mirror.pfns[1], 0ul);
  EXPECT_EQ(mirror.pfns[2], page_to_pfn(page_at(a + 2 * PAGE_SIZE)) | HMM_PFN_VALID | HMM_PFN_WRITE);
  EXPECT_EQ(pte_at(a).val, 0ul) << "nothing faulted";

  ASSERT_EQ(mirror.fault(HMM_PFN_REQ_FAULT), 0);
  ASSERT_TRUE(mirror.pfns[0] & HMM_PFN_VALID);
  EXPECT_FALSE(mirror.pfns[0] & HMM_PFN_WRITE) << "a read fault maps the zero page read-only";
  EXPECT_TRUE(PageZero(m_->mem().pfn_to_page(hmm_pfn_to_pfn(mirror.pfns[0]))));

  // A per-entry request (through pfn_flags_mask) upgrades only that entry.
  mirror.pfns.assign(3, 0);
  mirror.pfns[1] = HMM_PFN_REQ_WRITE;
  mirror.range.pfn_flags_mask = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE;
  ASSERT_EQ(mirror.fault(HMM_PFN_REQ_FAULT), 0);
  EXPECT_FALSE(mirror.pfns[0] & HMM_PFN_WRITE);
  EXPECT_TRUE(mirror.pfns[1] & HMM_PFN_WRITE) << "write fault: the zero page replaced";
  EXPECT_EQ(mirror.retries, 1) << "replacing the zero page is a COW break: CLEAR, then -EBUSY once";
  EXPECT_FALSE(PageZero(page_at(a + PAGE_SIZE)));
}

TEST_F(HmmTest, AnInvalidationSinceReadBeginIsEbusy) {
  const unsigned long a = map(2 * PAGE_SIZE);
  HmmMirror mirror(mm_, a, 2);
  mirror.range.notifier_seq = mmu_interval_read_begin(&mirror.mni);
  { MmuNotifierScope scope(MMU_NOTIFY_CLEAR, mm_, a + PAGE_SIZE, a + 2 * PAGE_SIZE); }
  EXPECT_EQ(mirror.fault(HMM_PFN_REQ_FAULT, /*keep_seq=*/true), -EBUSY);
  EXPECT_EQ(mirror.fault(HMM_PFN_REQ_FAULT), 0) << "a fresh read_begin goes through";
}

TEST_F(HmmTest, ErrorsForHolesAndReadOnlyVmas) {
  const unsigned long a = map(3 * PAGE_SIZE);
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PAGE_SIZE), 0);
  {
    HmmMirror mirror(mm_, a, 3);
    EXPECT_EQ(mirror.fault(HMM_PFN_REQ_FAULT), -EFAULT) << "a hole that must be faulted";
    mirror.pfns.assign(3, 0);
    EXPECT_EQ(mirror.fault(0), 0);
    EXPECT_EQ(mirror.pfns[1], HMM_PFN_ERROR) << "a hole not requested is an error entry";
  }
  const unsigned long ro = map(PAGE_SIZE, PROT_READ);
  HmmMirror mirror(mm_, ro, 1);
  EXPECT_EQ(mirror.fault(HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE), -EPERM);
  EXPECT_EQ(mirror.fault(HMM_PFN_REQ_FAULT), 0);
}

class HmmThpTest : public ThpTest {};

TEST_F(HmmThpTest, APmdLeafGivesConsecutivePfns) {
  const unsigned long a = map_thp(PMD_SIZE);
  put_u64(a, 1);
  ASSERT_TRUE(pmd_leaf(pmd_at(a))) << "a THP maps the range";
  HmmMirror mirror(mm_, a + 8 * PAGE_SIZE, 4);
  ASSERT_EQ(mirror.fault(HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE), 0);
  const unsigned long head = pmd_pfn(pmd_at(a));
  for (unsigned long i = 0; i < 4; i++) EXPECT_EQ(hmm_pfn_to_pfn(mirror.pfns[i]), head + 8 + i);
}

}  // namespace
}  // namespace guplab::test
