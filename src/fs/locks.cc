// locks.cc - layout leases: set, release, break with lease_break_time, revoke.
#include "fs/locks.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/errno.h"
#include "machine/machine.h"

namespace guplab {

file_lock_context::file_lock_context() {
  spin_lock_init(&flc_lock, "flc_lock");
  init_waitqueue_head(&flc_wait, "flc_wait");
}

namespace {

// The inode's lease context, made on demand when @create.
std::shared_ptr<file_lock_context> locks_get_lock_context(inode* ino, bool create) {
  SpinGuard g(&ino->i_lock);
  if (!ino->i_flctx && create) ino->i_flctx = std::make_shared<file_lock_context>();
  return ino->i_flctx;
}

void lease_trace(inode* ino, const std::string& what) {
  if (!ino->i_sb) return;
  Machine* m = ino->i_sb->s_machine;
  if (m->tracing()) m->trace(fmt::format("lease: ino {} {}", ino->i_ino, what));
}

}  // namespace

int vfs_setlease(file* filp, int arg, file_lease* fl) {
  inode* ino = filp->f_inode;
  if (arg == F_LAYOUT) {
    auto ctx = locks_get_lock_context(ino, true);
    {
      SpinGuard g(&ctx->flc_lock);
      if (std::find(ctx->flc_lease.begin(), ctx->flc_lease.end(), fl) != ctx->flc_lease.end()) return -EINVAL;
      for (file_lease* other : ctx->flc_lease)
        if (other->fl_breaking.load(std::memory_order_relaxed)) return -EAGAIN;
      fl->fl_file = filp;
      fl->fl_breaking.store(false, std::memory_order_relaxed);
      ctx->flc_lease.push_back(fl);
    }
    lease_trace(ino, "layout lease taken");
    return 0;
  }
  if (arg == F_UNLCK) {
    auto ctx = locks_get_lock_context(ino, false);
    if (!ctx) return -EINVAL;
    {
      SpinGuard g(&ctx->flc_lock);
      auto it = std::find(ctx->flc_lease.begin(), ctx->flc_lease.end(), fl);
      if (it == ctx->flc_lease.end()) return -EINVAL;
      ctx->flc_lease.erase(it);
    }
    wake_up_all(&ctx->flc_wait);
    lease_trace(ino, "layout lease released");
    return 0;
  }
  return -EINVAL;
}

unsigned layout_leases(inode* ino) {
  auto ctx = locks_get_lock_context(ino, false);
  if (!ctx) return 0;
  SpinGuard g(&ctx->flc_lock);
  return static_cast<unsigned>(ctx->flc_lease.size());
}

int break_layout(inode* ino, bool wait) {
  auto ctx = locks_get_lock_context(ino, false);
  if (!ctx) return 0;
  std::vector<file_lease*> told;
  {
    SpinGuard g(&ctx->flc_lock);
    for (file_lease* fl : ctx->flc_lease)
      if (!fl->fl_breaking.exchange(true, std::memory_order_relaxed)) told.push_back(fl);
  }
  if (!told.empty()) lease_trace(ino, fmt::format("breaking {} layout lease(s)", told.size()));
  // Tell the holders without the lock: a holder may let go from its callback.
  for (file_lease* fl : told)
    if (fl->fl_lmops && fl->fl_lmops->lm_break) fl->fl_lmops->lm_break(fl);
  auto empty = [&ctx] {
    SpinGuard g(&ctx->flc_lock);
    return ctx->flc_lease.empty();
  };
  if (!wait) return empty() ? 0 : -EWOULDBLOCK;
  if (wait_event_timeout(&ctx->flc_wait, empty, lease_break_time_ns)) return 0;
  // Time is up: whoever still holds a lease loses it.
  std::vector<file_lease*> revoked;
  {
    SpinGuard g(&ctx->flc_lock);
    revoked.swap(ctx->flc_lease);
  }
  for (file_lease* fl : revoked) {
    lease_trace(ino, "layout lease revoked: lease_break_time passed");
    if (fl->fl_lmops && fl->fl_lmops->lm_revoked) fl->fl_lmops->lm_revoked(fl);
  }
  return 0;
}

}  // namespace guplab
