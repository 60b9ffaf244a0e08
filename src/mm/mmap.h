// mmap.h - the vma tree of an mm: lookup, mmap, munmap, splitting, teardown
// (mm/mmap.c). Flags and protections take the host's <sys/mman.h> values.
//
// vm_mmap() creates anonymous mappings (shared ones are backed by a small shmem object,
// mm/shmem.h) and file mappings (the file's f_op->mmap installs vm_ops; the vma holds a
// reference to the file and sits in its mapping's i_mmap, so rmap finds it);
// vm_mmap_backed() maps a range whose faults go to a given vm_operations_struct with
// no file (tests use it with fake backings). Adjacent vmas are never merged: a range
// split by mprotect()/madvise() stays split, which changes nothing but the vma count.
//
// Locking: the tree and every vma field change under mmap_lock held for write; lookups
// need it for read. Functions taking mm_struct* say which in their annotations;
// vm_mmap/vm_munmap take it themselves.
#pragma once
#include <sys/mman.h>

#include <vector>

#include "mm/mm_struct.h"
#include "mm/vma.h"

namespace guplab {

struct hugetlb_file;
struct userfaultfd_unmap_ctx;

/** find_vma() - the first vma with vm_end > @addr (it may start above @addr), or nullptr. */
vm_area_struct* find_vma(mm_struct* mm, unsigned long addr) REQUIRES_SHARED(mm->mmap_lock);
/** vma_lookup() - the vma containing @addr, or nullptr. */
vm_area_struct* vma_lookup(mm_struct* mm, unsigned long addr) REQUIRES_SHARED(mm->mmap_lock);
/** find_vma_intersection() - the first vma overlapping [@start, @end), or nullptr. */
vm_area_struct* find_vma_intersection(mm_struct* mm, unsigned long start, unsigned long end)
    REQUIRES_SHARED(mm->mmap_lock);
/** vma_next() - the vma after @vma in address order, or nullptr. */
vm_area_struct* vma_next(mm_struct* mm, const vm_area_struct* vma) REQUIRES_SHARED(mm->mmap_lock);

/** calc_vm_prot_bits() - VM_READ/VM_WRITE/VM_EXEC from PROT_* bits. */
vm_flags_t calc_vm_prot_bits(int prot);

/** mmap_backing - what a non-anonymous mapping's faults go to (f_op->mmap's result). */
struct mmap_backing {
  const vm_operations_struct* ops = nullptr;
  void* private_data = nullptr;  // becomes vma->vm_private_data
  bool writable = true;          // "opened for writing": MAP_SHARED then gets VM_MAYWRITE
  hugetlb_file* hugetlb = nullptr;  // instead of @ops: a hugetlbfs file (mm/hugetlb.h), mapped at offset 0
};

/**
 * vm_mmap() - map [@addr, @addr + @len) (a hint unless MAP_FIXED) in @mm.
 * @prot: PROT_READ|PROT_WRITE|PROT_EXEC or PROT_NONE. @flags: MAP_PRIVATE or MAP_SHARED,
 * with MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE, MAP_LOCKED,
 * MAP_NORESERVE, and MAP_HUGETLB [| MAP_HUGE_2MB | MAP_HUGE_1GB] with MAP_ANONYMOUS
 * (mm/hugetlb.h: the length rounds up to the huge page size, a MAP_FIXED address must
 * be aligned, the pages are reserved unless MAP_NORESERVE). @filp: the file to map at page offset @pgoff (ignored with
 * MAP_ANONYMOUS); it must be open for reading, and for writing too for a writable
 * MAP_SHARED mapping (-EACCES), and have f_op->mmap (-ENODEV).
 * Returns the address, or -EINVAL, -ENOMEM, -EEXIST, -EBADF, -EACCES, -ENODEV, -EOVERFLOW.
 * MAP_POPULATE and MAP_LOCKED fault the range in (writes for private writable ones).
 * REQUIRES: mmap_lock not held (takes it for write, then for read to populate).
 */
long vm_mmap(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags, file* filp, pgoff_t pgoff)
    EXCLUDES(mm->mmap_lock);
/**
 * vm_mmap_backed() - as vm_mmap() for a mapping backed by @b at page offset @pgoff;
 * MAP_ANONYMOUS is not allowed. b.ops->open() is called for the new vma (and for every
 * vma later split or forked from it; ->close() when each goes). With b.hugetlb the
 * mapping is a hugetlb vma of that file (hugetlbfs_mmap_setup(): @pgoff must be 0, the
 * length rounds up to the huge page size, a MAP_FIXED address must be aligned).
 */
long vm_mmap_backed(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags,
                    const mmap_backing& b, pgoff_t pgoff) EXCLUDES(mm->mmap_lock);

/**
 * vm_munmap() - unmap [@start, @start + @len): vmas split at the ends, entries zapped,
 * emptied page tables freed after RCU, vmas closed. Returns 0 or -EINVAL. Then, with
 * mmap_lock released, sends UFFD_EVENT_UNMAP to each userfaultfd context with
 * UFFD_FEATURE_EVENT_UNMAP registered in the range and waits for it to be read (as a
 * MAP_FIXED vm_mmap() over a registered range does).
 */
int vm_munmap(mm_struct* mm, unsigned long start, unsigned long len) EXCLUDES(mm->mmap_lock);
/**
 * do_munmap() - vm_munmap() with mmap_lock already held for write. With @uf, the
 * userfaultfd unmap events to send are added there (the caller sends them with
 * userfaultfd_unmap_complete() after dropping mmap_lock); without, none are sent.
 */
int do_munmap(mm_struct* mm, unsigned long start, unsigned long len,
              std::vector<userfaultfd_unmap_ctx>* uf = nullptr) REQUIRES(mm->mmap_lock);

/**
 * split_vma() - split @vma at @addr into two vmas; with @new_below the new one is the
 * lower part. A huge PMD straddling @addr is split. Returns 0 or -EINVAL (also for a
 * hugetlb vma and an @addr not aligned to its page size).
 */
int split_vma(mm_struct* mm, vm_area_struct* vma, unsigned long addr, bool new_below) REQUIRES(mm->mmap_lock);

/** vm_area_alloc() / vm_area_dup() / vm_area_free() - vma objects (lists initialised). */
vm_area_struct* vm_area_alloc(mm_struct* mm);
vm_area_struct* vm_area_dup(const vm_area_struct* orig);
void vm_area_free(vm_area_struct* vma);
/** insert_vm_struct() - add @vma (not overlapping any) to @mm's tree. */
void insert_vm_struct(mm_struct* mm, vm_area_struct* vma) REQUIRES(mm->mmap_lock);

/**
 * vma_link_file() - put file-backed @vma into its mapping's i_mmap (rmap).
 * REQUIRES: @vma->vm_file set; mmap_lock of its mm held for write.
 */
void vma_link_file(vm_area_struct* vma);
/** unlink_file_vma() - take @vma out of i_mmap, before its page tables go. */
void unlink_file_vma(vm_area_struct* vma);

/**
 * mm_populate() - fault in [@start, @start + @len) as MAP_POPULATE does; holes and
 * PROT_NONE/VM_IO ranges are skipped. Returns 0 or the first error (-ENOMEM, -EFAULT).
 * REQUIRES: mmap_lock not held.
 */
int mm_populate(mm_struct* mm, unsigned long start, unsigned long len) EXCLUDES(mm->mmap_lock);

/**
 * exit_mmap() - tear the whole address space down (the last mmput()): every entry
 * zapped, every table but the pgd freed after RCU, every vma closed and freed.
 */
void exit_mmap(mm_struct* mm) EXCLUDES(mm->mmap_lock);

}  // namespace guplab
