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
// Events (non-cooperative userfaultfd), each negotiated through UFFDIO_API: with
// UFFD_FEATURE_EVENT_FORK a fork (dup_mm()) gives the child's registered vmas a new
// context and the parent's handler reads UFFD_EVENT_FORK carrying it; with
// UFFD_FEATURE_EVENT_REMOVE MADV_DONTNEED on a registered vma sends UFFD_EVENT_REMOVE
// (start, end) with mmap_lock dropped; with UFFD_FEATURE_EVENT_UNMAP munmap (and a
// MAP_FIXED mmap over the range) sends UFFD_EVENT_UNMAP (start, end) once mmap_lock is
// released. The task that caused the event sleeps until the handler reads it (or the
// context is closed, or the task is killed); meanwhile COPY, ZEROPAGE, CONTINUE and
// WRITEPROTECT on that context return -EAGAIN (ctx->mmap_changing). Pending faults are
// read before events. There are no file descriptors: a fork message carries the new
// context's pointer (userfaultfd_fork_ctx()), and the reader owns it as it would own
// the fd the kernel installs: it ends it with userfaultfd_close(). Without the feature
// nothing is sent, and a fork drops the child's registration. No UFFD_EVENT_REMAP (the
// model has no mremap).
// The registration lives on the vmas (vm_userfaultfd_ctx, VM_UFFD_MISSING/_WP/_MINOR),
// as upstream; write-protection on ptes (_PAGE_SOFTW_UFFD with _PAGE_RW clear).
//
// Threading: any task of the mm's machine. ioctls take mmap_lock themselves (register
// and unregister for write, the others for read); the message queue and waiters are
// under the context's spinlock; waiting goes through base/wait.h.
#pragma once
#include <linux/ioctl.h>  // _IOWR for the UFFDIO_* numbers
#include <linux/userfaultfd.h>

#include <vector>

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
 * fault), so is every task waiting for an event to be read (an unread fork event's new
 * context is closed), later reads return 0. Drops the caller's reference.
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
 * range was done (->copy/->zeropage/->mapped says how much), and for COPY, ZEROPAGE,
 * CONTINUE and WRITEPROTECT while an event on the context is unread (mmap_changing).
 */
int userfaultfd_ioctl(userfaultfd_ctx* ctx, unsigned long cmd, void* arg);

/**
 * userfaultfd_read() - take the oldest unread fault message into *@msg, or if no fault
 * is pending the oldest event (which wakes the task that sent it). Blocks until
 * one comes unless @nonblock or the context is O_NONBLOCK (then -EAGAIN). Returns
 * sizeof(uffd_msg), 0 once the context is closed, -EINVAL before UFFDIO_API, -EINTR if
 * the task is killed while waiting.
 */
long userfaultfd_read(userfaultfd_ctx* ctx, uffd_msg* msg, bool nonblock = false);

/** userfaultfd_nr_waiting() - faults sleeping on @ctx (read or not): for tests and tools. */
int userfaultfd_nr_waiting(userfaultfd_ctx* ctx);
/** userfaultfd_nr_events() - events sent to @ctx and not yet read: for tests and tools. */
int userfaultfd_nr_events(userfaultfd_ctx* ctx);

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

/** userfaultfd_fork_ctx() - the new context a UFFD_EVENT_FORK message carries (else nullptr). */
userfaultfd_ctx* userfaultfd_fork_ctx(const uffd_msg* msg);

/** A fork's context pair: the parent's (@orig, referenced) and the child's new one. */
struct userfaultfd_fork_pair {
  userfaultfd_ctx* orig = nullptr;
  userfaultfd_ctx* child = nullptr;
};
/** A pending UFFD_EVENT_UNMAP: a munmap of [start, end) seen by @ctx (referenced). */
struct userfaultfd_unmap_ctx {
  userfaultfd_ctx* ctx = nullptr;
  unsigned long start = 0, end = 0;
};

/**
 * dup_userfaultfd() - fork: @child (the child's copy of a vma) keeps its registration
 * with a new context if the parent's has UFFD_FEATURE_EVENT_FORK (one new context per
 * parent context, recorded in @fcs; the parent's context gets mmap_changing until the
 * event is read); otherwise its registration is dropped.
 * REQUIRES: both mms' mmap_lock held for write.
 */
void dup_userfaultfd(vm_area_struct* child, std::vector<userfaultfd_fork_pair>* fcs);
/**
 * dup_userfaultfd_complete() - after the fork, send UFFD_EVENT_FORK for each pair of
 * @fcs to the parent's context and wait until each is read. A pair whose event is not
 * read (context closed, task killed) has its new context closed: the child's vmas lose
 * the registration. REQUIRES: no mmap_lock held.
 */
void dup_userfaultfd_complete(std::vector<userfaultfd_fork_pair>* fcs);
/** dup_userfaultfd_fail() - a failed fork: drop @fcs' contexts without events. */
void dup_userfaultfd_fail(std::vector<userfaultfd_fork_pair>* fcs);

/**
 * userfaultfd_remove() - MADV_DONTNEED is about to zap [@start, @end) of @vma. If the
 * vma's context has UFFD_FEATURE_EVENT_REMOVE: drops mmap_lock, sends UFFD_EVENT_REMOVE,
 * waits until it is read, and returns false (the caller must look the vma up again).
 * Otherwise returns true with mmap_lock still held.
 * REQUIRES: mmap_lock held for read.
 */
bool userfaultfd_remove(vm_area_struct* vma, unsigned long start, unsigned long end);

/**
 * userfaultfd_unmap_prep() - munmap of [@start, @end) reaches @vma: if its context has
 * UFFD_FEATURE_EVENT_UNMAP, note one UFFD_EVENT_UNMAP for it in @uf (once per context
 * and range). REQUIRES: mmap_lock held for write.
 */
void userfaultfd_unmap_prep(vm_area_struct* vma, unsigned long start, unsigned long end,
                            std::vector<userfaultfd_unmap_ctx>* uf);
/** userfaultfd_unmap_complete() - send @uf's events, waiting for each to be read. REQUIRES: no mmap_lock held. */
void userfaultfd_unmap_complete(std::vector<userfaultfd_unmap_ctx>* uf);

}  // namespace guplab
