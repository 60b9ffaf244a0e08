// mprotect.h - changing the protection of a range (mm/mprotect.c).
//
// do_mprotect() changes the vmas' VM_READ/VM_WRITE/VM_EXEC (splitting vmas at the
// range's ends) and rewrites the entries: dropping PROT_WRITE write-protects every pte
// and huge PMD; PROT_NONE makes entries present but not user-accessible; adding
// PROT_WRITE leaves entries read-only, so the next write faults and reuses an exclusive
// anon page (or copies a shared one). Asking for write on a shared mapping without
// VM_MAYWRITE (a backing opened read-only) fails with -EACCES, as does any permission
// not allowed by VM_MAY*; the range is checked as a whole before anything changes.
//
// Threading: takes mmap_lock for write; entries change under page_table_lock.
#pragma once
#include "mm/mm_struct.h"
#include "mm/vma.h"

namespace guplab {

/**
 * do_mprotect() - mprotect(2) of [@start, @start + @len) of @mm to @prot (PROT_*).
 * Returns 0, -EINVAL (unaligned start, unknown prot bits), -ENOMEM (a hole in the
 * range), or -EACCES.
 */
int do_mprotect(mm_struct* mm, unsigned long start, unsigned long len, int prot) EXCLUDES(mm->mmap_lock);

/**
 * change_protection() - rewrite @vma's entries in [@start, @end) to @newprot, keeping
 * _PAGE_RW only where it was set and the vma still has VM_WRITE (or @newprot grants it,
 * as for shared writable mappings). Returns the number of entries changed.
 * REQUIRES: mmap_lock held for write.
 */
long change_protection(vm_area_struct* vma, unsigned long start, unsigned long end, pgprot_t newprot);

}  // namespace guplab
