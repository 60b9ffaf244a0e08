// mprotect_test.cc - vma flags and entry protections, splitting, -EACCES/-ENOMEM.
#include "mm/mprotect.h"

#include "mm/fake_vm_ops.h"
#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

using MprotectTest = MmTest;

TEST_F(MprotectTest, DroppingWriteWriteProtectsEntries) {
  unsigned long a = map(4 * PAGE_SIZE);
  for (int i = 0; i < 4; i++) put_u64(a + i * PAGE_SIZE, i);
  ASSERT_EQ(do_mprotect(mm_, a, 4 * PAGE_SIZE, PROT_READ), 0);
  for (int i = 0; i < 4; i++) {
    pte_t pte = pte_at(a + i * PAGE_SIZE);
    EXPECT_TRUE(pte_present(pte));
    EXPECT_FALSE(pte_write(pte));
    EXPECT_TRUE(pte_dirty(pte)) << "state bits survive";
    EXPECT_EQ(get_u64(a + i * PAGE_SIZE), static_cast<uint64_t>(i));
  }
  uint64_t v = 1;
  EXPECT_EQ(uaccess_write(mm_, a, &v, 8), -EFAULT);
  EXPECT_FALSE(any(lookup(a)->vm_flags, VM_WRITE));
}

TEST_F(MprotectTest, ProtNoneBlocksEveryAccessAndKeepsData) {
  unsigned long a = map(2 * PAGE_SIZE);
  put_u64(a, 77);
  ASSERT_EQ(do_mprotect(mm_, a, 2 * PAGE_SIZE, PROT_NONE), 0);
  pte_t pte = pte_at(a);
  EXPECT_TRUE(pte_present(pte));
  EXPECT_FALSE(pte.val & _PAGE_USER) << "present but not user-accessible";
  uint64_t v;
  EXPECT_EQ(uaccess_read(mm_, a, &v, 8), -EFAULT);
  EXPECT_EQ(uaccess_write(mm_, a, &v, 8), -EFAULT);
  EXPECT_EQ(uaccess_read(mm_, a + PAGE_SIZE, &v, 8), -EFAULT);
  ASSERT_EQ(do_mprotect(mm_, a, 2 * PAGE_SIZE, PROT_READ), 0);
  EXPECT_TRUE(pte_at(a).val & _PAGE_USER);
  EXPECT_EQ(get_u64(a), 77u);
}

TEST_F(MprotectTest, SplitsVmaAtBothEnds) {
  unsigned long a = map(8 * PAGE_SIZE);
  ASSERT_EQ(do_mprotect(mm_, a + 2 * PAGE_SIZE, 3 * PAGE_SIZE, PROT_READ), 0);
  mmap_read_lock(mm_);
  EXPECT_EQ(mm_->map_count, 3);
  vm_area_struct* mid = vma_lookup(mm_, a + 3 * PAGE_SIZE);
  EXPECT_EQ(mid->vm_start, a + 2 * PAGE_SIZE);
  EXPECT_EQ(mid->vm_end, a + 5 * PAGE_SIZE);
  EXPECT_FALSE(any(mid->vm_flags, VM_WRITE));
  EXPECT_EQ(mid->vm_pgoff, (a >> PAGE_SHIFT) + 2);
  EXPECT_TRUE(any(vma_lookup(mm_, a)->vm_flags, VM_WRITE));
  EXPECT_TRUE(any(vma_lookup(mm_, a + 7 * PAGE_SIZE)->vm_flags, VM_WRITE));
  EXPECT_EQ(mm_->total_vm, 8ul);
  mmap_read_unlock(mm_);
}

TEST_F(MprotectTest, SharedMappingWithoutMaywriteRefusesWrite) {
  FakeFile f(m_.get());
  long a = vm_mmap_backed(mm_, 0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, f.backing(/*writable=*/false), 0);
  ASSERT_GT(a, 0);
  EXPECT_FALSE(any(lookup(a)->vm_flags, VM_MAYWRITE));
  EXPECT_EQ(do_mprotect(mm_, a, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE), -EACCES);
  EXPECT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_NONE), 0);
  EXPECT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
  // A private mapping of the same read-only file may be made writable (COW).
  long p = vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, f.backing(false), 0);
  ASSERT_GT(p, 0);
  EXPECT_EQ(do_mprotect(mm_, p, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
  drop_mm();
}

TEST_F(MprotectTest, ErrorsChangeNothing) {
  unsigned long a = map(4 * PAGE_SIZE);
  ASSERT_EQ(vm_munmap(mm_, a + 2 * PAGE_SIZE, PAGE_SIZE), 0);
  EXPECT_EQ(do_mprotect(mm_, a, 4 * PAGE_SIZE, PROT_READ), -ENOMEM) << "a hole";
  EXPECT_TRUE(any(lookup(a)->vm_flags, VM_WRITE)) << "checked before anything changed";
  EXPECT_EQ(do_mprotect(mm_, a + 1, PAGE_SIZE, PROT_READ), -EINVAL);
  EXPECT_EQ(do_mprotect(mm_, a, PAGE_SIZE, 0x1000), -EINVAL);
  EXPECT_EQ(do_mprotect(mm_, a, 0, PROT_READ), 0);
}

TEST_F(MprotectTest, ChangeProtectionCountsEntries) {
  unsigned long a = map(4 * PAGE_SIZE);
  put_u64(a, 1);
  put_u64(a + PAGE_SIZE, 1);
  mmap_write_lock(mm_);
  vm_area_struct* vma = vma_lookup(mm_, a);
  vma->vm_flags &= ~VM_WRITE;
  vma_set_page_prot(vma);
  EXPECT_EQ(change_protection(vma, a, a + 4 * PAGE_SIZE, vma->vm_page_prot), 2);
  EXPECT_EQ(change_protection(vma, a, a + 4 * PAGE_SIZE, vma->vm_page_prot), 0);
  mmap_write_unlock(mm_);
}

TEST_F(MprotectTest, SharedAnonWritableAgainAfterReadOnly) {
  unsigned long a = map(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  put_u64(a, 1);
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ), 0);
  EXPECT_FALSE(pte_write(pte_at(a)));
  ASSERT_EQ(do_mprotect(mm_, a, PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
  EXPECT_TRUE(pte_write(pte_at(a))) << "shared writable without write-notify: the prot grants RW";
  put_u64(a, 2);
  EXPECT_EQ(get_u64(a), 2u);
}

}  // namespace
}  // namespace guplab::test
