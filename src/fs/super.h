// super.h - a machine's mounted filesystems (Machine::mounts()): mounting a block
// device's filesystem at a directory, unmounting it, and finding the filesystem a path
// is on. Paths are "<mountpoint>/<name>": every filesystem here has one flat
// directory, its root, which is the mountpoint itself.
//
// Filesystem types: "ext4" (fs/ext4/ext4.h, the lab's small ext4-like filesystem).
// Mount options (@data, comma separated) understood here: writeback_interval=<ms>
// (the flusher also runs periodically; default 0: only when kicked); the rest go to
// the filesystem.
//
// Mounting starts the filesystem's flusher task; unmounting writes everything back
// (as sync), stops the flusher and drops the page cache. Every writeback policy mounts
// (under `revoke`, truncate breaks layout leases first: fs/locks.h).
//
// Destroying the table (with its Machine) without unmounting is a crash: nothing is
// written back; the device keeps exactly what was written before. Under the sim
// backend, mount and unmount inside the machine's run (the flusher is a task).
//
// Threading: any task. The table is guarded by its own spinlock; a super_block found
// through it is held by an active reference (grab_path(), supers(), grab_super();
// dropped by drop_super()) that unmount waits for before it looks for busy inodes.
// Sync point "umount:wait_active": umount has marked the filesystem dying and is about
// to wait for its active references.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/spinlock.h"
#include "base/wait.h"
#include "fs/fs.h"
#include "machine/config.h"

namespace guplab {

class MountTable {
 public:
  explicit MountTable(Machine* m);
  /** Tears down every mount without writing anything back (a crash). */
  ~MountTable();
  MountTable(const MountTable&) = delete;
  MountTable& operator=(const MountTable&) = delete;

  /**
   * mount() - mount the @type filesystem on the device @dev_spec (opened through
   * block/genhd.h, e.g. "ram0" or "ram0,size=64M") at @dir ("/mnt").
   * Returns 0, or -EBUSY (@dir in use), -ENODEV (unknown type or device),
   * -EINVAL (bad options, or no such
   * filesystem on the device), -EIO. *@err (if given) says why.
   */
  int mount(std::string_view dev_spec, std::string_view dir, std::string_view type, std::string_view data,
            std::string* err = nullptr);
  /**
   * umount() - write back and unmount the filesystem at @dir. Returns 0, -EINVAL (not
   * a mountpoint), -EBUSY (a file is still open or mapped, or a page still pinned
   * through a fake vma). Completion work the devices had queued (a deferred fake_vma
   * unpin) runs to its end first: it is not a user of the filesystem.
   */
  int umount(std::string_view dir);
  /**
   * grab_path() - the filesystem @path is on, with an active reference, and the name
   * within it in *@name ("" for the mountpoint itself); nullptr if none (or unmounting).
   */
  super_block* grab_path(std::string_view path, std::string* name);
  /** supers() - every mounted filesystem, each with an active reference. */
  std::vector<super_block*> supers();
  /**
   * grab_super() - an active reference to @sb if it is mounted here and not being
   * unmounted (its flusher takes one for each pass, so that umount waits for the pass
   * rather than find the inodes it holds busy). Returns false otherwise.
   */
  bool grab_super(super_block* sb);
  /** drop_super() - release an active reference. */
  void drop_super(super_block* sb);
  /**
   * sim_run_ended() - the sim run that started the mounts' flushers is over, and the
   * flushers with it: forget them (a later umount or teardown must not join them).
   */
  void sim_run_ended();

 private:
  struct Mount {
    std::string dir;
    super_block* sb;
  };
  void teardown(super_block* sb, bool clean);

  Machine* const machine_;
  spinlock_t lock_;
  std::vector<Mount> mounts_ GUARDED_BY(lock_);
  wait_queue_head_t wq_;  // drop_super() wakes unmount
};

// ---- kernel names, on the current task's machine ---------------------------------------
/** do_mount() - mount(2) on current_machine(). */
int do_mount(const char* dev_name, const char* dir_name, const char* type, const char* data);
/** ksys_umount() - umount(2) on current_machine(). */
int ksys_umount(const char* name);

}  // namespace guplab
