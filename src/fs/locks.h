// locks.h - layout leases (fs/locks.c's leases, F_LAYOUT as proposed for long-term
// pins of file pages): Williams' answer in seed 003, "the notification would need to go
// all the way to userspace with something like a file lease notification".
//
// A process that pins a file's pages long-term holds a layout lease on the file
// (vfs_setlease(filp, F_LAYOUT, fl)). Before an operation frees the file's blocks under
// it (truncate, under policy `revoke`), the filesystem breaks the layout: every holder
// is told (->lm_break) and given lease_break_time to let go (vfs_setlease(filp, F_UNLCK,
// fl)). A lease still held after that time is revoked: removed from the file, its
// holder told (->lm_revoked), and the operation goes on. What then stops the device is
// the emergency revoke through MMU_NOTIFY_TRUNCATE (drivers/rdma_device.h).
//
// Departures (docs/seeds.md D-revoke-2): lease_break_time is 1 ms (the kernel's sysctl
// default is 45 s), virtual time under the sim backend; only layout leases are modelled
// (no read/write leases, no fcntl, no SIGIO: ->lm_break is the notification).
//
// Threading: any task. The callbacks run in the breaking task without the inode's
// lease lock; they must not sleep on the file (the breaker holds i_rwsem).
#pragma once
#include <fcntl.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "base/wait.h"
#include "fs/fs.h"

namespace guplab {

/** vfs_setlease() arguments: F_UNLCK (the host's <fcntl.h> value, 2) and F_LAYOUT. */
inline constexpr int F_LAYOUT = 16;

/** lease_break_time - how long a holder has to let go once told (see the departure above). */
inline constexpr uint64_t lease_break_time_ns = 1'000'000;

struct file_lease;

struct lease_manager_operations {
  /** lm_break() - the lease is being broken: let go within lease_break_time. */
  void (*lm_break)(file_lease* fl) = nullptr;
  /** lm_revoked() - the holder did not let go in time: the lease is gone. */
  void (*lm_revoked)(file_lease* fl) = nullptr;
};

/** One lease on a file (struct file_lease). The holder owns it. */
struct file_lease {
  file* fl_file = nullptr;                         // set by vfs_setlease()
  const lease_manager_operations* fl_lmops = nullptr;
  void* fl_owner = nullptr;                        // the holder's, for its callbacks
  std::atomic<bool> fl_breaking{false};            // a break is in progress
};

/** An inode's leases (struct file_lock_context), made at the first lease. */
struct file_lock_context {
  file_lock_context();
  spinlock_t flc_lock;
  std::vector<file_lease*> flc_lease GUARDED_BY(flc_lock);
  wait_queue_head_t flc_wait;  // breakers wait here for holders to let go
};

/**
 * vfs_setlease() - @arg F_LAYOUT: add @fl (ops set by the caller) as a layout lease on
 * @filp's inode; F_UNLCK: remove it (a holder letting go, waking a breaker).
 * Returns 0, -EINVAL (another @arg, or @fl already held / not held), -EAGAIN (F_LAYOUT
 * while a break of that inode is in progress).
 */
int vfs_setlease(file* filp, int arg, file_lease* fl);

/**
 * break_layout() - tell every layout-lease holder of @ino to let go. With @wait, give
 * them lease_break_time, then revoke what is left; returns 0. Without, returns
 * -EWOULDBLOCK if any lease is held (after telling its holder), else 0.
 * REQUIRES: i_rwsem of @ino held (no new lease can race the break). May sleep.
 */
int break_layout(inode* ino, bool wait);

/** layout_leases() - how many layout leases @ino has now. */
unsigned layout_leases(inode* ino);

}  // namespace guplab
