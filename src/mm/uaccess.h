// uaccess.h - the software MMU: user-memory access by a model task, through the page
// tables of an mm, as the CPU's MMU and the kernel's uaccess routines do it.
//
// Every access walks the page tables; a not-present entry, or a write to a read-only
// one, is a fault handled by handle_mm_fault() (FAULT_FLAG_USER, or FAULT_FLAG_REMOTE
// for access_remote_vm()) with mmap_lock held for read, and the walk is retried. The
// access fails with -EFAULT when there is no vma, when the vma forbids it (write
// without VM_WRITE; any access to PROT_NONE), or when the fault says SIGSEGV/SIGBUS;
// with -ENOMEM inside access_remote_vm()'s count when memory is exhausted. An access
// sets the entry's _PAGE_ACCESSED (and _PAGE_DIRTY for a write), which zap moves to the
// page. Copies cross page and THP boundaries freely; each 4 KiB piece is copied while
// holding a reference to its page (so a racing MADV_DONTNEED cannot free it
// underneath), never while holding page_table_lock.
//
// Threading: any task of the mm's machine. REQUIRES: the caller does not hold the
// mm's mmap_lock (these take it for read).
#pragma once
#include <cstddef>

#include "mm/gup.h"
#include "mm/mm_struct.h"

namespace guplab {

/**
 * copy_to_user() - copy @n bytes from @from to user address @to of current->mm.
 * Returns the number of bytes NOT copied (0 on success), as the kernel's.
 */
unsigned long copy_to_user(unsigned long to, const void* from, size_t n);
/** copy_from_user() - copy @n bytes from user address @from of current->mm to @to. */
unsigned long copy_from_user(void* to, unsigned long from, size_t n);

/** uaccess_write() - a user store of @n bytes at @addr of @mm. Returns 0 or -EFAULT. */
int uaccess_write(mm_struct* mm, unsigned long addr, const void* buf, size_t n) EXCLUDES(mm->mmap_lock);
/** uaccess_read() - a user load of @n bytes at @addr of @mm. Returns 0 or -EFAULT. */
int uaccess_read(mm_struct* mm, unsigned long addr, void* buf, size_t n) EXCLUDES(mm->mmap_lock);

/**
 * access_remote_vm() - read or (FOLL_WRITE) write another process's memory, as ptrace
 * and /proc/pid/mem do. FOLL_FORCE writes read-only private mappings through COW and
 * reads PROT_NONE ones that have VM_MAYREAD. REQUIRES: a reference on @mm (mm_users).
 * Returns the number of bytes transferred (0 if the first byte already failed).
 */
long access_remote_vm(mm_struct* mm, unsigned long addr, void* buf, size_t len, foll_flags gup_flags)
    EXCLUDES(mm->mmap_lock);

}  // namespace guplab
