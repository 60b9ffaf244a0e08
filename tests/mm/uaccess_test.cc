// uaccess_test.cc - the software MMU: copies across page and THP boundaries, A/D bits,
// -EFAULT cases, partial copies, access_remote_vm() with FOLL_FORCE.
#include "mm/uaccess.h"

#include <numeric>
#include <vector>

#include "mm/fake_vm_ops.h"
#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

using UaccessTest = MmTest;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 12));
  return v;
}

TEST_F(UaccessTest, CopiesAcrossPageBoundaries) {
  unsigned long a = map(8 * PAGE_SIZE);
  auto src = pattern(3 * PAGE_SIZE + 100, 3);
  const unsigned long at = a + PAGE_SIZE - 50;
  ASSERT_EQ(copy_to_user(at, src.data(), src.size()), 0ul);
  std::vector<uint8_t> dst(src.size());
  ASSERT_EQ(copy_from_user(dst.data(), at, dst.size()), 0ul);
  EXPECT_EQ(dst, src);
  for (int i = 0; i <= 4; i++) EXPECT_TRUE(pte_present(pte_at(a + i * PAGE_SIZE))) << i;
  EXPECT_FALSE(pte_present(pte_at(a + 5 * PAGE_SIZE)));
  uint8_t before = 1;
  ASSERT_EQ(uaccess_read(mm_, at - 1, &before, 1), 0);
  EXPECT_EQ(before, 0);
}

TEST_F(UaccessTest, CopiesAcrossThpBoundary) {
  unsigned long a = map(2 * PMD_SIZE);
  ASSERT_EQ(do_madvise(mm_, a, 2 * PMD_SIZE, MADV_HUGEPAGE), 0);
  auto src = pattern(3 * PAGE_SIZE, 9);
  const unsigned long at = a + PMD_SIZE - PAGE_SIZE - 123;
  ASSERT_EQ(uaccess_write(mm_, at, src.data(), src.size()), 0);
  EXPECT_TRUE(pmd_leaf(pmd_at(a)));
  EXPECT_TRUE(pmd_leaf(pmd_at(a + PMD_SIZE)));
  EXPECT_EQ(vs(NR_ANON_THPS), 2);
  std::vector<uint8_t> dst(src.size());
  ASSERT_EQ(uaccess_read(mm_, at, dst.data(), dst.size()), 0);
  EXPECT_EQ(dst, src);
  // The bytes are where a kernel mapping of the folios says they are.
  page* second = page_at(a + PMD_SIZE);
  EXPECT_EQ(static_cast<uint8_t*>(page_address(second))[0], src[PAGE_SIZE + 123]);
}

TEST_F(UaccessTest, AccessSetsAccessedAndDirty) {
  unsigned long a = map(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  uint64_t v = 0;
  ASSERT_EQ(uaccess_read(mm_, a, &v, 8), 0);
  pte_t pte = pte_at(a);
  EXPECT_TRUE(pte_young(pte));
  EXPECT_FALSE(pte_dirty(pte));
  ASSERT_EQ(uaccess_write(mm_, a, &v, 8), 0);
  EXPECT_TRUE(pte_dirty(pte_at(a)));
}

TEST_F(UaccessTest, EfaultCases) {
  uint64_t v = 1;
  EXPECT_EQ(uaccess_read(mm_, 0x400000000ul, &v, 8), -EFAULT) << "unmapped";
  EXPECT_EQ(uaccess_write(mm_, 0x400000000ul, &v, 8), -EFAULT);
  unsigned long ro = map(PAGE_SIZE, PROT_READ);
  EXPECT_EQ(uaccess_write(mm_, ro, &v, 8), -EFAULT) << "PROT_READ";
  EXPECT_EQ(uaccess_read(mm_, ro, &v, 8), 0);
  unsigned long none = map(PAGE_SIZE, PROT_NONE);
  EXPECT_EQ(uaccess_read(mm_, none, &v, 8), -EFAULT) << "PROT_NONE";
  EXPECT_EQ(uaccess_write(mm_, none, &v, 8), -EFAULT);
  EXPECT_TRUE(pte_none(pte_at(none))) << "refused before any fault";
  EXPECT_EQ(uaccess_read(mm_, TASK_SIZE, &v, 8), -EFAULT);
  EXPECT_EQ(uaccess_read(mm_, ~0ul - 3, &v, 8), -EFAULT);
  unsigned long wo = map(PAGE_SIZE, PROT_WRITE);
  EXPECT_EQ(uaccess_read(mm_, wo, &v, 8), 0) << "write implies read, as on x86";
}

TEST_F(UaccessTest, PartialCopyReturnsBytesNotCopied) {
  unsigned long a = map(2 * PAGE_SIZE);
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PAGE_SIZE), 0);
  std::vector<uint8_t> buf(300, 0xee);
  EXPECT_EQ(copy_to_user(a + PAGE_SIZE - 100, buf.data(), buf.size()), 200ul);
  EXPECT_EQ(copy_from_user(buf.data(), a + PAGE_SIZE - 100, buf.size()), 200ul);
  EXPECT_EQ(buf[99], 0xee);
  EXPECT_EQ(uaccess_write(mm_, a + PAGE_SIZE - 100, buf.data(), buf.size()), -EFAULT);
  scope_->task()->mm = nullptr;
  EXPECT_EQ(copy_to_user(a, buf.data(), 10), 10ul) << "a kernel thread has no user memory";
  scope_->task()->mm = mm_;
}

TEST_F(UaccessTest, RemoteForceWriteCowsReadOnlyPrivateMapping) {
  unsigned long a = map(PAGE_SIZE, PROT_READ);
  uint64_t v = 0x77;
  EXPECT_EQ(access_remote_vm(mm_, a, &v, 8, FOLL_WRITE), 0) << "no FOLL_FORCE: refused";
  EXPECT_EQ(access_remote_vm(mm_, a, &v, 8, FOLL_WRITE | FOLL_FORCE), 8);
  page* p = page_at(a);
  EXPECT_FALSE(PageZero(p));
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_FALSE(pte_write(pte_at(a))) << "the vma is still read-only";
  EXPECT_EQ(get_u64(a), 0x77u);
  v = 0x78;  // again: the exclusive page is written through the read-only entry
  EXPECT_EQ(access_remote_vm(mm_, a, &v, 8, FOLL_WRITE | FOLL_FORCE), 8);
  EXPECT_EQ(page_at(a), p);
  EXPECT_EQ(get_u64(a), 0x78u);
  uint64_t r = 0;
  EXPECT_EQ(access_remote_vm(mm_, a, &r, 8, FOLL_NONE), 8);
  EXPECT_EQ(r, 0x78u);
}

TEST_F(UaccessTest, RemoteForceRespectsSharedAndMayBits) {
  FakeFile f(m_.get());
  long s = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, f.backing(false), 0);
  ASSERT_GT(s, 0);
  uint64_t v = 1;
  EXPECT_EQ(access_remote_vm(mm_, s, &v, 8, FOLL_WRITE | FOLL_FORCE), 0) << "no COW on a shared mapping";
  unsigned long none = map(PAGE_SIZE, PROT_NONE);
  EXPECT_EQ(access_remote_vm(mm_, none, &v, 8, FOLL_FORCE), 8) << "FOLL_FORCE reads PROT_NONE (VM_MAYREAD)";
  EXPECT_EQ(v, 0u);
  drop_mm();
}

TEST_F(UaccessTest, SigbusFromBackingIsEfault) {
  FakeFile f(m_.get(), 1);
  long a = vm_mmap_backed(mm_, 0, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE, f.backing(), 0);
  ASSERT_GT(a, 0);
  std::vector<uint8_t> buf(2 * PAGE_SIZE);
  EXPECT_EQ(copy_from_user(buf.data(), a, buf.size()), PAGE_SIZE);
  EXPECT_EQ(buf[PAGE_SIZE - 1], FakeFile::pattern(0));
  drop_mm();
}

}  // namespace
}  // namespace guplab::test
