// super.cc - the mount table: mount, umount, path lookup, crash teardown.
#include "fs/super.h"

#include <fmt/format.h>

#include <memory>

#include "base/bug.h"
#include "base/errno.h"
#include "base/task.h"
#include "block/genhd.h"
#include "fs/ext4/ext4.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/truncate.h"

namespace guplab {

namespace {

const file_system_type* const kFilesystems[] = {&ext4_fs_type};

const file_system_type* find_type(std::string_view name) {
  for (const file_system_type* t : kFilesystems)
    if (name == t->name) return t;
  return nullptr;
}

bool valid_dir(std::string_view dir) {
  return dir.size() >= 2 && dir[0] == '/' && dir.back() != '/';
}

void set_err(std::string* err, std::string msg) {
  if (err) *err = std::move(msg);
}

}  // namespace

MountTable::MountTable(Machine* m) : machine_(m) {
  spin_lock_init(&lock_, "mount_table");
  init_waitqueue_head(&wq_, "mount_table");
}

MountTable::~MountTable() {
  std::vector<Mount> all;
  {
    SpinGuard g(&lock_);
    all.swap(mounts_);
  }
  if (all.empty()) return;
  // The machine is going away (often from a thread that is no task of it): tear down
  // as a task of its own, which the locks, waits and RCU below need.
  std::unique_ptr<TaskScope> scope;
  if (!current() || current()->machine != machine_) scope = std::make_unique<TaskScope>(machine_->task_init("teardown"));
  for (Mount& mnt : all) teardown(mnt.sb, false);
}

int MountTable::mount(std::string_view dev_spec, std::string_view dir, std::string_view type, std::string_view data,
                      std::string* err) {
  const file_system_type* fstype = find_type(type);
  if (!fstype) {
    set_err(err, fmt::format("unknown filesystem type '{}'", type));
    return -ENODEV;
  }
  if (!valid_dir(dir)) {
    set_err(err, fmt::format("bad mountpoint '{}' (want /name)", dir));
    return -EINVAL;
  }
  // Options for us; the rest for the filesystem.
  uint64_t interval_ns = 0;
  std::string fsdata;
  for (size_t pos = 0; pos <= data.size();) {
    size_t comma = data.find(',', pos);
    if (comma == std::string_view::npos) comma = data.size();
    std::string_view opt = data.substr(pos, comma - pos);
    pos = comma + 1;
    if (opt.empty()) continue;
    constexpr std::string_view kInterval = "writeback_interval=";
    if (opt.substr(0, kInterval.size()) == kInterval) {
      uint64_t ms = 0;
      for (char c : opt.substr(kInterval.size())) {
        if (c < '0' || c > '9') {
          set_err(err, fmt::format("bad option '{}'", opt));
          return -EINVAL;
        }
        ms = ms * 10 + static_cast<uint64_t>(c - '0');
      }
      interval_ns = ms * 1000000ull;
      continue;
    }
    if (!fsdata.empty()) fsdata += ',';
    fsdata += opt;
  }
  {
    SpinGuard g(&lock_);
    for (const Mount& mnt : mounts_)
      if (mnt.dir == dir) {
        set_err(err, fmt::format("{} is already a mountpoint", dir));
        return -EBUSY;
      }
  }
  std::string berr;
  block_device* bdev = blkdev_get_by_path(machine_, dev_spec, &berr);
  if (IS_ERR(bdev)) {
    set_err(err, berr);
    return -ENODEV;
  }
  auto* sb = new super_block;
  sb->s_machine = machine_;
  sb->s_bdev = bdev;
  sb->s_id = bdev->name();
  sb->s_mountpoint = std::string(dir);
  sb->s_type = fstype;
  if (int e = fstype->fill_super(sb, fsdata.c_str())) {
    set_err(err, fmt::format("{}: cannot mount {} filesystem ({})", sb->s_id, type, errname(e)));
    blkdev_put(bdev);
    delete sb;
    return e;
  }
  wb_start_flusher(sb, interval_ns);
  {
    SpinGuard g(&lock_);
    bool busy = false;
    for (const Mount& mnt : mounts_) busy |= mnt.dir == dir;
    if (!busy) {
      mounts_.push_back(Mount{std::string(dir), sb});
      sb = nullptr;
    }
  }
  if (sb) {  // lost a race for @dir
    teardown(sb, true);
    set_err(err, fmt::format("{} is already a mountpoint", dir));
    return -EBUSY;
  }
  if (machine_->tracing()) machine_->trace(fmt::format("mount: {} on {} type {}", dev_spec, dir, type));
  return 0;
}

int MountTable::umount(std::string_view dir) {
  super_block* sb = nullptr;
  {
    SpinGuard g(&lock_);
    for (const Mount& mnt : mounts_)
      if (mnt.dir == dir) sb = mnt.sb;
    if (!sb || sb->s_dying.exchange(true)) return -EINVAL;
  }
  TEST_SYNC_POINT(sp::kUmountWaitActive);
  wait_event(&wq_, [sb] { return sb->s_active.load(std::memory_order_acquire) == 0; });
  // The flusher holds inode references while it writes: they do not make the
  // filesystem busy, so let its pass end (and keep it from starting another) first.
  const bool had_flusher = sb->s_wb.task.load(std::memory_order_acquire) != nullptr;
  wb_stop_flusher(sb);
  // Completion work the devices queued before umount (a fake_vma unpin, which holds its
  // file until the fake vma is unlinked) is not a user of the filesystem: let it finish,
  // as the kernel flushes its completion workqueue on the way down, before looking for
  // users.
  machine_->block().flush_deferred();
  bool busy = false;
  {
    SpinGuard g(&sb->s_inode_list_lock);
    for (list_head* e = sb->s_inodes.next; e != &sb->s_inodes; e = e->next)
      busy |= atomic_read(&list_entry(e, inode, i_sb_list)->i_count) != 0;
  }
  if (busy) {
    if (had_flusher) wb_start_flusher(sb, sb->s_wb.interval_ns.load(std::memory_order_relaxed));
    sb->s_dying.store(false);
    return -EBUSY;
  }
  sync_filesystem(sb);
  {
    SpinGuard g(&lock_);
    for (auto it = mounts_.begin(); it != mounts_.end(); ++it)
      if (it->sb == sb) {
        mounts_.erase(it);
        break;
      }
  }
  teardown(sb, true);
  if (machine_->tracing()) machine_->trace(fmt::format("umount: {}", dir));
  return 0;
}

void MountTable::teardown(super_block* sb, bool clean) NO_THREAD_SAFETY_ANALYSIS {
  wb_stop_flusher(sb);
  // After an oops, tasks that died may hold page locks forever: do not wait on any.
  const bool halted = machine_->halted();
  for (;;) {
    inode* ino = nullptr;
    {
      SpinGuard g(&sb->s_inode_list_lock);
      if (!list_empty(&sb->s_inodes)) ino = list_entry(sb->s_inodes.next, inode, i_sb_list);
    }
    if (!ino) break;
    if (!halted) {
      truncate_inode_pages_final(ino->i_mapping);
    } else {
      xa_destroy(&ino->i_mapping->i_pages);  // its pages are abandoned with the machine
      ino->i_mapping->nrpages.store(0);
      INIT_LIST_HEAD(&ino->i_mapping->i_mmap);
    }
    destroy_inode(ino);
  }
  if (sb->s_op && sb->s_op->put_super) sb->s_op->put_super(sb);
  blkdev_put(sb->s_bdev);
  (void)clean;
  delete sb;
}

void MountTable::sim_run_ended() {
  SpinGuard g(&lock_);
  for (Mount& mnt : mounts_) {
    mnt.sb->s_wb.stopping.store(true, std::memory_order_release);
    mnt.sb->s_wb.task.store(nullptr, std::memory_order_release);
  }
}

super_block* MountTable::grab_path(std::string_view path, std::string* name) {
  SpinGuard g(&lock_);
  for (const Mount& mnt : mounts_) {
    const std::string& d = mnt.dir;
    if (path.size() < d.size() || path.substr(0, d.size()) != d) continue;
    std::string_view rest = path.substr(d.size());
    if (!rest.empty() && rest[0] != '/') continue;
    if (!rest.empty()) rest.remove_prefix(1);
    if (rest.find('/') != std::string_view::npos) return nullptr;  // one flat directory
    if (mnt.sb->s_dying.load(std::memory_order_acquire)) return nullptr;
    mnt.sb->s_active.fetch_add(1, std::memory_order_acq_rel);
    if (name) *name = std::string(rest);
    return mnt.sb;
  }
  return nullptr;
}

std::vector<super_block*> MountTable::supers() {
  std::vector<super_block*> out;
  SpinGuard g(&lock_);
  for (const Mount& mnt : mounts_) {
    if (mnt.sb->s_dying.load(std::memory_order_acquire)) continue;
    mnt.sb->s_active.fetch_add(1, std::memory_order_acq_rel);
    out.push_back(mnt.sb);
  }
  return out;
}

bool MountTable::grab_super(super_block* sb) {
  SpinGuard g(&lock_);
  for (const Mount& mnt : mounts_) {
    if (mnt.sb != sb) continue;
    if (sb->s_dying.load(std::memory_order_acquire)) return false;
    sb->s_active.fetch_add(1, std::memory_order_acq_rel);
    return true;
  }
  return false;
}

void MountTable::drop_super(super_block* sb) {
  if (sb->s_active.fetch_sub(1, std::memory_order_acq_rel) == 1) wake_up_all(&wq_);
}

int do_mount(const char* dev_name, const char* dir_name, const char* type, const char* data) {
  return current_machine()->mounts().mount(dev_name, dir_name, type, data ? data : "");
}

int ksys_umount(const char* name) { return current_machine()->mounts().umount(name); }

}  // namespace guplab
