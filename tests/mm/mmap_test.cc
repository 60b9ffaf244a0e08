// mmap_test.cc - the vma tree: vm_mmap/vm_munmap semantics and errors, splitting,
// MAP_FIXED, MAP_POPULATE, MAP_LOCKED, frames freed by munmap, vm_get_page_prot().
#include "mm/mmap.h"

#include "base/completion.h"
#include "base/rcu.h"
#include "base/task.h"
#include "fs/fs.h"

#include "mm/fake_vm_ops.h"
#include "mm/mm_fixture.h"

namespace guplab::test {
namespace {

using MmapTest = MmTest;

TEST_F(MmapTest, AnonymousPrivateMapping) {
  unsigned long a = map(3 * PAGE_SIZE + 1);
  EXPECT_EQ(a & ~PAGE_MASK, 0ul);
  mmap_read_lock(mm_);
  vm_area_struct* vma = vma_lookup(mm_, a + 100);
  mmap_read_unlock(mm_);
  ASSERT_NE(vma, nullptr);
  mmap_read_lock(mm_);
  EXPECT_EQ(vma->vm_start, a);
  EXPECT_EQ(vma->vm_end, a + 4 * PAGE_SIZE) << "length rounded up to pages";
  EXPECT_TRUE(all(vma->vm_flags, VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC));
  EXPECT_FALSE(any(vma->vm_flags, VM_SHARED | VM_EXEC));
  EXPECT_EQ(vma->vm_pgoff, a >> PAGE_SHIFT);
  EXPECT_TRUE(vma_is_anonymous(vma));
  EXPECT_EQ(vma->vm_page_prot.val, vm_get_page_prot(vma->vm_flags).val);
  EXPECT_EQ(find_vma(mm_, a - 1), vma);
  EXPECT_EQ(vma_lookup(mm_, a - 1), nullptr);
  EXPECT_EQ(vma_lookup(mm_, a + 4 * PAGE_SIZE), nullptr);
  EXPECT_EQ(find_vma_intersection(mm_, a - PAGE_SIZE, a), nullptr);
  EXPECT_EQ(find_vma_intersection(mm_, a - PAGE_SIZE, a + 1), vma);
  EXPECT_EQ(mm_->map_count, 1);
  EXPECT_EQ(mm_->total_vm, 4ul);
  mmap_read_unlock(mm_);
}

TEST_F(MmapTest, MappingsDoNotOverlapAndHintsAreHonoured) {
  unsigned long a = map(PAGE_SIZE), b = map(PAGE_SIZE);
  EXPECT_NE(a, b);
  unsigned long hint = 0x500000000ul;
  EXPECT_EQ(map(PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, hint), hint);
  unsigned long c = map(PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, hint);
  EXPECT_NE(c, hint) << "an occupied hint is not used";
}

TEST_F(MmapTest, Errors) {
  auto mm = [&](unsigned long addr, unsigned long len, int prot, int flags) {
    return vm_mmap(mm_, addr, len, prot, flags, nullptr, 0);
  };
  EXPECT_EQ(mm(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), -EINVAL);
  EXPECT_EQ(mm(0, PAGE_SIZE, PROT_READ, MAP_ANONYMOUS), -EINVAL) << "neither shared nor private";
  EXPECT_EQ(mm(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE), -EBADF) << "no file";
  EXPECT_EQ(mm(0, PAGE_SIZE, 0x100, MAP_PRIVATE | MAP_ANONYMOUS), -EINVAL);
  EXPECT_EQ(mm(0x500000001ul, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), -EINVAL);
  EXPECT_EQ(mm(TASK_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), -ENOMEM);
  EXPECT_EQ(mm(0, ~0ul - 100, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), -ENOMEM);
  file no_mmap;  // a file whose filesystem has no ->mmap
  no_mmap.f_mode = FMODE_READ;
  EXPECT_EQ(vm_mmap(mm_, 0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, &no_mmap, 0), -ENODEV);
  unsigned long a = map(2 * PAGE_SIZE);
  EXPECT_EQ(mm(a + PAGE_SIZE, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE), -EEXIST);
  EXPECT_EQ(vm_munmap(mm_, a + 1, PAGE_SIZE), -EINVAL);
  EXPECT_EQ(vm_munmap(mm_, a, 0), -EINVAL);
  EXPECT_EQ(vm_munmap(mm_, 0x600000000ul, PAGE_SIZE), 0) << "nothing mapped there: fine";
  FakeFile f(m_.get());
  EXPECT_EQ(vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f.backing(false), 0), -EACCES);
}

TEST_F(MmapTest, MapFixedReplacesExistingMapping) {
  unsigned long a = map(4 * PAGE_SIZE);
  for (int i = 0; i < 4; i++) put_u64(a + i * PAGE_SIZE, 1);
  const unsigned long free0 = nr_free_pages(m_.get());
  long b = vm_mmap(mm_, a + PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, nullptr, 0);
  ASSERT_EQ(b, static_cast<long>(a + PAGE_SIZE));
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + 2);
  EXPECT_EQ(get_u64(a), 1u);
  EXPECT_EQ(get_u64(a + PAGE_SIZE), 0u);
  EXPECT_EQ(get_u64(a + 3 * PAGE_SIZE), 1u);
  mmap_read_lock(mm_);
  EXPECT_EQ(mm_->map_count, 3);
  EXPECT_FALSE(any(vma_lookup(mm_, a + PAGE_SIZE)->vm_flags, VM_WRITE));
  mmap_read_unlock(mm_);
}

TEST_F(MmapTest, MunmapInTheMiddleSplitsAndKeepsData) {
  unsigned long a = map(10 * PAGE_SIZE);
  for (int i = 0; i < 10; i++) put_u64(a + i * PAGE_SIZE, 100 + i);
  ASSERT_EQ(vm_munmap(mm_, a + 4 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
  mmap_read_lock(mm_);
  EXPECT_EQ(mm_->map_count, 2);
  EXPECT_EQ(mm_->total_vm, 8ul);
  vm_area_struct* lo = vma_lookup(mm_, a);
  vm_area_struct* hi = vma_lookup(mm_, a + 6 * PAGE_SIZE);
  mmap_read_unlock(mm_);
  ASSERT_TRUE(lo && hi && lo != hi);
  mmap_read_lock(mm_);
  EXPECT_EQ(lo->vm_end, a + 4 * PAGE_SIZE);
  EXPECT_EQ(hi->vm_start, a + 6 * PAGE_SIZE);
  EXPECT_EQ(hi->vm_pgoff, (a >> PAGE_SHIFT) + 6);
  EXPECT_EQ(vma_lookup(mm_, a + 5 * PAGE_SIZE), nullptr);
  EXPECT_EQ(lo->anon_vma_, hi->anon_vma_);
  mmap_read_unlock(mm_);
  for (int i : {0, 3, 6, 9}) EXPECT_EQ(get_u64(a + i * PAGE_SIZE), 100u + i);
  uint64_t v;
  EXPECT_EQ(uaccess_read(mm_, a + 4 * PAGE_SIZE, &v, 8), -EFAULT);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 8);
}

TEST_F(MmapTest, MunmapAcrossSeveralVmasAndHoles) {
  unsigned long a = map(16 * PAGE_SIZE);
  ASSERT_EQ(vm_munmap(mm_, a + 4 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
  ASSERT_EQ(do_mprotect(mm_, a + 8 * PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ), 0);
  for (int i = 0; i < 16; i++)
    if (i < 4 || i >= 6) EXPECT_EQ(get_u64(a + i * PAGE_SIZE), 0u);
  ASSERT_EQ(vm_munmap(mm_, a + 2 * PAGE_SIZE, 12 * PAGE_SIZE), 0);
  mmap_read_lock(mm_);
  EXPECT_EQ(mm_->map_count, 2);
  EXPECT_EQ(mm_->total_vm, 4ul);
  EXPECT_EQ(find_vma_intersection(mm_, a + 2 * PAGE_SIZE, a + 14 * PAGE_SIZE), nullptr);
  mmap_read_unlock(mm_);
}

TEST_F(MmapTest, MunmapFreesFramesAndPageTables) {
  const unsigned long free0 = nr_free_pages(m_.get());
  unsigned long a = map(64 * PAGE_SIZE);
  for (int i = 0; i < 64; i++) put_u64(a + i * PAGE_SIZE, i);
  EXPECT_EQ(free0 - nr_free_pages(m_.get()), 64ul + 3) << "64 pages and pud/pmd/pte tables";
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 64);
  // A reader inside rcu_read_lock() across the unmap, as GUP-fast's walk would be: the
  // tables must outlive it. Without one the grace period may end at any moment.
  completion in_section, leave;
  init_completion(&in_section);
  init_completion(&leave);
  task_struct* reader = m_->spawn("reader", [&] {
    rcu_read_lock();
    complete(&in_section);
    wait_for_completion(&leave);
    rcu_read_unlock();
  });
  wait_for_completion(&in_section);
  ASSERT_EQ(vm_munmap(mm_, a, 64 * PAGE_SIZE), 0);
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 0);
  EXPECT_EQ(atomic_read(&mm_->pgtables_bytes), static_cast<int64_t>(PAGE_SIZE)) << "only the pgd is left";
  EXPECT_EQ(free0 - nr_free_pages(m_.get()), 3ul) << "tables wait for the grace period";
  complete(&leave);
  task_join(reader);
  rcu_barrier();
  EXPECT_EQ(nr_free_pages(m_.get()), free0);
}

TEST_F(MmapTest, MapPopulate) {
  unsigned long a = map(8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 8) << "private writable: populated by writes";
  for (int i = 0; i < 8; i++) EXPECT_TRUE(pte_write(pte_at(a + i * PAGE_SIZE)));
  unsigned long r = map(8 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
  EXPECT_TRUE(pte_special(pte_at(r + 3 * PAGE_SIZE))) << "read-only: the zero page";
  unsigned long n = map(8 * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
  EXPECT_TRUE(pte_none(pte_at(n))) << "PROT_NONE is not populated";
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 8);
}

TEST_F(MmapTest, MapLockedPopulatesAndRefusesDontneed) {
  unsigned long a = map(4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED);
  EXPECT_TRUE(any(lookup(a)->vm_flags, VM_LOCKED));
  EXPECT_EQ(atomic_read(&mm_->rss_anon), 4);
  EXPECT_EQ(do_madvise(mm_, a, PAGE_SIZE, MADV_DONTNEED), -EINVAL);
  EXPECT_TRUE(pte_present(pte_at(a)));
}

TEST_F(MmapTest, VmGetPageProt) {
  EXPECT_EQ(vm_get_page_prot(VM_NONE).val, _PAGE_PRESENT) << "PROT_NONE: not user-accessible";
  EXPECT_EQ(vm_get_page_prot(VM_READ).val, _PAGE_PRESENT | _PAGE_USER);
  EXPECT_EQ(vm_get_page_prot(VM_READ | VM_WRITE).val, _PAGE_PRESENT | _PAGE_USER) << "private: COW";
  EXPECT_EQ(vm_get_page_prot(VM_READ | VM_WRITE | VM_SHARED).val, _PAGE_PRESENT | _PAGE_USER | _PAGE_RW);
  EXPECT_EQ(vm_get_page_prot(VM_EXEC).val, _PAGE_PRESENT | _PAGE_USER);
}

TEST_F(MmapTest, BackedMappingOpensAndClosesEachVma) {
  FakeFile f(m_.get());
  long a = vm_mmap_backed(mm_, 0, 4 * PAGE_SIZE, PROT_READ, MAP_SHARED, f.backing(), 2);
  ASSERT_GT(a, 0);
  EXPECT_EQ(f.opens, 1);
  EXPECT_EQ(lookup(a)->vm_pgoff, 2ul);
  EXPECT_FALSE(vma_is_anonymous(lookup(a)));
  ASSERT_EQ(vm_munmap(mm_, a + PAGE_SIZE, PAGE_SIZE), 0);
  EXPECT_EQ(f.opens, 3) << "two splits: one new vma each";
  EXPECT_EQ(f.closes, 1);
  EXPECT_EQ(lookup(a + 2 * PAGE_SIZE)->vm_pgoff, 4ul);
  uint8_t b;
  ASSERT_EQ(uaccess_read(mm_, a + 3 * PAGE_SIZE, &b, 1), 0);
  EXPECT_EQ(b, FakeFile::pattern(5));
  EXPECT_EQ(vm_mmap_backed(mm_, 0, PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, f.backing(), 0), -EINVAL);
  drop_mm();
  EXPECT_EQ(f.closes, 3);
}

}  // namespace
}  // namespace guplab::test
