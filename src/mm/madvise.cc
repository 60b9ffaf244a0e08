// madvise.cc - madvise(2): DONTNEED, (NO)HUGEPAGE, DONTFORK/DOFORK, WIPEONFORK/KEEPONFORK.
#include "mm/madvise.h"

#include "base/errno.h"
#include "mm/memory.h"
#include "mm/mmap.h"
#include "mm/userfaultfd.h"
#include "mm/vma.h"

namespace guplab {

namespace {

// The vm_flags @behavior gives @vma, or -errno.
long madvise_newflags(const vm_area_struct* vma, int behavior, vm_flags_t* out) {
  vm_flags_t f = vma->vm_flags;
  switch (behavior) {
    case MADV_HUGEPAGE: f = (f & ~VM_NOHUGEPAGE) | VM_HUGEPAGE; break;
    case MADV_NOHUGEPAGE: f = (f & ~VM_HUGEPAGE) | VM_NOHUGEPAGE; break;
    case MADV_DONTFORK:
      if (any(f, VM_IO)) return -EINVAL;
      f |= VM_DONTCOPY;
      break;
    case MADV_DOFORK:
      if (any(f, VM_IO)) return -EINVAL;
      f &= ~VM_DONTCOPY;
      break;
    case MADV_WIPEONFORK:
      if (!vma_is_anonymous(vma) || any(f, VM_SHARED)) return -EINVAL;
      f |= VM_WIPEONFORK;
      break;
    case MADV_KEEPONFORK: f &= ~VM_WIPEONFORK; break;
    default: return -EINVAL;
  }
  *out = f;
  return 0;
}

// Change @vma's flags over [start, end) (within it), splitting it as needed.
int madvise_update_vma(mm_struct* mm, vm_area_struct* vma, unsigned long start, unsigned long end, int behavior)
    REQUIRES(mm->mmap_lock) {
  vm_flags_t nf;
  if (long err = madvise_newflags(vma, behavior, &nf)) return static_cast<int>(err);
  if (nf == vma->vm_flags) return 0;
  if (start > vma->vm_start) {
    if (int err = split_vma(mm, vma, start, true)) return err;
  }
  if (end < vma->vm_end) {
    if (int err = split_vma(mm, vma, end, false)) return err;
  }
  vma->vm_flags = nf;
  return 0;
}

// Advise each mapped piece of [start, end) with @fn(vma, s, e); holes give -ENOMEM.
// @fn may lower e (an lvalue) to where it stopped; the walk goes on from there.
template <typename Fn>
int madvise_walk(mm_struct* mm, unsigned long start, unsigned long end, Fn fn) REQUIRES_SHARED(mm->mmap_lock) {
  int unmapped_error = 0;
  for (unsigned long addr = start; addr < end;) {
    vm_area_struct* vma = find_vma_intersection(mm, addr, end);
    if (!vma) return -ENOMEM;
    if (vma->vm_start > addr) unmapped_error = -ENOMEM;
    const unsigned long s = vma->vm_start > addr ? vma->vm_start : addr;
    unsigned long e = vma->vm_end < end ? vma->vm_end : end;
    if (int err = fn(vma, s, e)) return err;
    addr = e;
  }
  return unmapped_error;
}

}  // namespace

int do_madvise(mm_struct* mm, unsigned long start, unsigned long len_in, int behavior) {
  if (start & ~PAGE_MASK) return -EINVAL;
  switch (behavior) {
    case MADV_DONTNEED: case MADV_HUGEPAGE: case MADV_NOHUGEPAGE: case MADV_DONTFORK:
    case MADV_DOFORK: case MADV_WIPEONFORK: case MADV_KEEPONFORK:
      break;
    default:
      return -EINVAL;
  }
  const unsigned long len = (len_in + PAGE_SIZE - 1) & PAGE_MASK;
  if (len_in && !len) return -EINVAL;
  const unsigned long end = start + len;
  if (end < start) return -EINVAL;
  if (end == start) return 0;

  int ret;
  if (behavior == MADV_DONTNEED) {
    mmap_read_lock(mm);
    ret = madvise_walk(mm, start, end, [mm](vm_area_struct* vma, unsigned long s, unsigned long& e)
                                           NO_THREAD_SAFETY_ANALYSIS {  // userfaultfd_remove() may drop the lock
      if (any(vma->vm_flags, VM_LOCKED | VM_PFNMAP | VM_HUGETLB)) return -EINVAL;
      if (!userfaultfd_remove(vma, s, e)) {
        // mmap_lock was dropped while the handler read UFFD_EVENT_REMOVE: the vma may
        // have changed or gone; look again.
        mmap_read_lock(mm);
        vma = vma_lookup(mm, s);
        if (!vma) return -ENOMEM;
        if (any(vma->vm_flags, VM_LOCKED | VM_PFNMAP | VM_HUGETLB)) return -EINVAL;
        if (e > vma->vm_end) e = vma->vm_end;
      }
      zap_page_range_single(vma, s, e - s);
      return 0;
    });
    mmap_read_unlock(mm);
  } else {
    mmap_write_lock(mm);
    // Splitting may insert vmas; the walk re-looks-up from the next address each time.
    ret = madvise_walk(mm, start, end, [&](vm_area_struct* vma, unsigned long s, unsigned long e)
                                           NO_THREAD_SAFETY_ANALYSIS {  // runs under the write lock taken above
      return madvise_update_vma(mm, vma, s, e, behavior);
    });
    mmap_write_unlock(mm);
  }
  return ret;
}

}  // namespace guplab
