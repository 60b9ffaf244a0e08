// madvise.h - madvise(2) advice on a range (mm/madvise.c), host <sys/mman.h> values.
//
// MADV_DONTNEED zaps the range under mmap_lock held for read: entries go, pages are
// freed with their last reference (a pinned page stays allocated until unpinned; a
// shmem page stays in its object), the next touch faults in zeroes (private) or the
// object's page (shared). It refuses VM_LOCKED/VM_PFNMAP/VM_HUGETLB vmas with -EINVAL.
// On a vma whose userfaultfd context has UFFD_FEATURE_EVENT_REMOVE it first drops
// mmap_lock, sends UFFD_EVENT_REMOVE and waits for the handler to read it, then looks
// the vma up again (mm/userfaultfd.h).
// MADV_HUGEPAGE/MADV_NOHUGEPAGE set VM_HUGEPAGE/VM_NOHUGEPAGE (THP eligibility of later
// faults; existing huge PMDs stay). MADV_DONTFORK/MADV_DOFORK set/clear VM_DONTCOPY,
// MADV_WIPEONFORK/MADV_KEEPONFORK VM_WIPEONFORK (private anonymous only). Flag
// changes split vmas at the range's ends and take mmap_lock for write.
//
// Threading: takes mmap_lock itself.
#pragma once
#include <sys/mman.h>

#include "mm/mm_struct.h"

namespace guplab {

/**
 * do_madvise() - apply @behavior to [@start, @start + @len) of @mm.
 * Returns 0, -EINVAL (bad start/len/behavior, or a vma that refuses it), or -ENOMEM
 * if the range has holes (the mapped parts are still advised, as upstream).
 */
int do_madvise(mm_struct* mm, unsigned long start, unsigned long len, int behavior) EXCLUDES(mm->mmap_lock);

}  // namespace guplab
