// userfaultfd.h - userfaultfd(2): user-space resolution of faults on registered ranges
// (fs/userfaultfd.c, mm/userfaultfd.c), seed 001's reason for VM_FAULT_RETRY.
//
// userfaultfd() makes a context for an mm (the model's file descriptor: the caller owns
// it and ends it with userfaultfd_close()). userfaultfd_ioctl() takes the host
// <linux/userfaultfd.h> commands and structs: UFFDIO_API first (else -EINVAL), then
// UFFDIO_REGISTER / _UNREGISTER of ranges of private anonymous vmas (modes MISSING and
// WP) or of shmem vmas (mode MINOR only; MISSING/WP on shmem are -EINVAL), UFFDIO_COPY,
// _ZEROPAGE, _WRITEPROTECT, _CONTINUE (map the page shmem holds) and _WAKE. A fault on a
// registered range (a missing page, a write to a page write-protected through the
// context, or a shmem page the object holds but the vma does not map) calls
// handle_userfault(): it
// queues a uffd_msg (address, flags, thread id with UFFD_FEATURE_THREAD_ID), drops
// mmap_lock and sleeps until an ioctl resolving or waking its range wakes it, then
// returns VM_FAULT_RETRY. userfaultfd_read() hands queued messages to a handler task,
// blocking or (O_NONBLOCK, or @nonblock) returning -EAGAIN.
//
// No fork, remove or unmap events (UFFD_FEATURE_EVENT_* are refused by UFFDIO_API).
// The registration lives on the vmas (vm_userfaultfd_ctx, VM_UFFD_MISSING/_WP/_MINOR),
// as upstream; write-protection on ptes (_PAGE_SOFTW_UFFD with _PAGE_RW clear).
//
// Threading: any task of the mm's machine. ioctls take mmap_lock themselves (register
// and unregister for write, the others for read); the message queue and waiters are
// under the context's spinlock; waiting goes through base/wait.h.
#pragma once
#include <linux/ioctl.h>  // _IOWR for the UFFDIO_* numbers
#include <linux/userfaultfd.h>

#include "base/errno.h"
#include "mm/mm_struct.h"
#include "mm/vma.h"

namespace guplab {

struct userfaultfd_ctx;

/**
 * userfaultfd() - a new userfaultfd context on @mm. @flags: O_CLOEXEC, O_NONBLOCK,
 * UFFD_USER_MODE_ONLY (accepted, no effect). Returns the context (the caller's, until
 * userfaultfd_close()) or ERR_PTR(-EINVAL) for other flags.
 */
userfaultfd_ctx* userfaultfd(mm_struct* mm, int flags);

/**
 * userfaultfd_close() - close the context: its registrations are removed from the vmas
 * (if the mm is still alive), every waiting fault is woken (and retries as an ordinary
 * fault), later reads return 0. Drops the caller's reference.
 */
void userfaultfd_close(userfaultfd_ctx* ctx);

/**
 * userfaultfd_get() / userfaultfd_put() - a reference to @ctx held across calls (as a
 * task holding the file with fget()/fput()): a handler task takes one before its read
 * loop, so the owner's userfaultfd_close() (which makes its reads return 0) frees
 * nothing under it. The last reference frees the context.
 */
userfaultfd_ctx* userfaultfd_get(userfaultfd_ctx* ctx);
void userfaultfd_put(userfaultfd_ctx* ctx);

/**
 * userfaultfd_ioctl() - one UFFDIO_* command on @ctx; @arg is its struct (read and
 * written as the kernel's copy_from_user/put_user would). Returns 0 or -errno:
 * -EINVAL before UFFDIO_API, for an unknown @cmd, bad modes, a misaligned or empty
 * range, a range without a vma or with a vma that cannot be registered (or, for
 * COPY/ZEROPAGE, a shmem vma; for CONTINUE, one that is not shmem); -EBUSY for a vma
 * registered to another context; -ENOENT for COPY/ZEROPAGE/WRITEPROTECT/CONTINUE
 * outside a registered (WP-registered) range; -EEXIST for COPY/ZEROPAGE/CONTINUE over a
 * present page; -EFAULT for CONTINUE where shmem holds no page; -EAGAIN when part of the
 * range was done (->copy/->zeropage/->mapped says how much).
 */
int userfaultfd_ioctl(userfaultfd_ctx* ctx, unsigned long cmd, void* arg);

/**
 * userfaultfd_read() - take the oldest unread fault message into *@msg. Blocks until
 * one comes unless @nonblock or the context is O_NONBLOCK (then -EAGAIN). Returns
 * sizeof(uffd_msg), 0 once the context is closed, -EINVAL before UFFDIO_API, -EINTR if
 * the task is killed while waiting.
 */
long userfaultfd_read(userfaultfd_ctx* ctx, uffd_msg* msg, bool nonblock = false);

/** userfaultfd_nr_waiting() - faults sleeping on @ctx (read or not): for tests and tools. */
int userfaultfd_nr_waiting(userfaultfd_ctx* ctx);

/** userfaultfd_missing() / _wp() / _armed() - the vma's registration (mmap_lock held). */
inline constexpr vm_flags_t VM_UFFD_ALL = VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR;
inline bool userfaultfd_missing(const vm_area_struct* vma) { return any(vma->vm_flags, VM_UFFD_MISSING); }
inline bool userfaultfd_wp(const vm_area_struct* vma) { return any(vma->vm_flags, VM_UFFD_WP); }
inline bool userfaultfd_minor(const vm_area_struct* vma) { return any(vma->vm_flags, VM_UFFD_MINOR); }
inline bool userfaultfd_armed(const vm_area_struct* vma) { return any(vma->vm_flags, VM_UFFD_ALL); }

/**
 * handle_userfault() - a fault on a range registered for @reason (VM_UFFD_MISSING,
 * VM_UFFD_WP or VM_UFFD_MINOR). With FAULT_FLAG_ALLOW_RETRY: queues the message, drops mmap_lock, sleeps
 * until woken (or killed) and returns VM_FAULT_RETRY; FAULT_FLAG_RETRY_NOWAIT returns
 * VM_FAULT_RETRY at once with mmap_lock kept. The FAULT_FLAG_TRIED retry may block
 * again (upstream since 5.7). Without ALLOW_RETRY the fault cannot block: VM_FAULT_SIGBUS
 * (-EFAULT to GUP). A closed context: VM_FAULT_SIGBUS.
 * REQUIRES: mmap_lock held for read; page_table_lock not held.
 */
vm_fault_t handle_userfault(vm_fault* vmf, vm_flags_t reason);

/** userfaultfd_fork_vma() - a child's copy of a vma keeps no registration (no UFFD_FEATURE_EVENT_FORK). */
inline void userfaultfd_fork_vma(vm_area_struct* child) {
  child->vm_userfaultfd_ctx = nullptr;
  child->vm_flags &= ~VM_UFFD_ALL;
}

}  // namespace guplab
