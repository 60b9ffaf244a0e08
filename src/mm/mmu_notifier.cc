// mmu_notifier.cc - subscriptions, interval notifiers and the invalidation walk.
#include "mm/mmu_notifier.h"

#include <algorithm>

#include "base/bug.h"
#include "base/errno.h"

namespace guplab {

const char* mmu_notifier_event_name(mmu_notifier_event e) {
  switch (e) {
    case MMU_NOTIFY_UNMAP: return "unmap";
    case MMU_NOTIFY_CLEAR: return "clear";
    case MMU_NOTIFY_PROTECTION_VMA: return "protection_vma";
    case MMU_NOTIFY_PROTECTION_PAGE: return "protection_page";
    case MMU_NOTIFY_SOFT_DIRTY: return "soft_dirty";
    case MMU_NOTIFY_RELEASE: return "release";
    case MMU_NOTIFY_MIGRATE: return "migrate";
    case MMU_NOTIFY_EXCLUSIVE: return "exclusive";
    case MMU_NOTIFY_TRUNCATE: return "truncate";
  }
  return "?";
}

namespace {

mmu_notifier_subscriptions* subs_of(const mm_struct* mm) {
  return mm->notifier_subscriptions.load(std::memory_order_acquire);
}

/** The per-mm state, made on first use. REQUIRES: mmap_lock held for write. */
mmu_notifier_subscriptions* subs_get_or_make(mm_struct* mm) REQUIRES(mm->mmap_lock) {
  mmu_notifier_subscriptions* s = subs_of(mm);
  if (s) return s;
  s = new mmu_notifier_subscriptions;
  spin_lock_init(&s->lock, "mmu_notifier_subscriptions");
  init_waitqueue_head(&s->wq, "mmu_notifier");
  mm->notifier_subscriptions.store(s, std::memory_order_release);
  return s;
}

bool overlaps(const mmu_interval_notifier* mni, const mmu_notifier_range* r) {
  return r->start <= mni->last && mni->start < r->end;
}

/** Copy of the subscriptions to call, with a reader held (drop with put_reader). */
std::vector<mmu_notifier*> get_list(mmu_notifier_subscriptions* s) {
  SpinGuard g(&s->lock);
  s->readers++;
  return s->list;
}

void put_reader(mmu_notifier_subscriptions* s) {
  bool last;
  {
    SpinGuard g(&s->lock);
    last = --s->readers == 0;
  }
  if (last) wake_up_all(&s->wq);
}

/**
 * Begin an invalidation for the interval notifiers: the global sequence goes odd if any
 * interval overlaps, and each overlapping one's ->invalidate is called with it. Returns
 * false if a non-blockable range met a callback that would sleep.
 */
bool itree_inv_start(mmu_notifier_subscriptions* s, const mmu_notifier_range* range) {
  std::vector<mmu_interval_notifier*> hit;
  unsigned long cur_seq;
  {
    SpinGuard g(&s->lock);
    s->active_invalidate_ranges++;
    for (mmu_interval_notifier* mni : s->itree)
      if (overlaps(mni, range)) hit.push_back(mni);
    if (!hit.empty()) s->invalidate_seq |= 1;
    cur_seq = s->invalidate_seq;
    s->readers++;
  }
  bool ok = true;
  for (mmu_interval_notifier* mni : hit) {
    if (!mni->ops->invalidate(mni, range, cur_seq)) {
      WARN_ON(mmu_notifier_range_blockable(range));  // only a non-blockable range may refuse
      ok = false;
      break;
    }
  }
  put_reader(s);
  return ok;
}

void itree_inv_end(mmu_notifier_subscriptions* s) {
  {
    SpinGuard g(&s->lock);
    if (--s->active_invalidate_ranges != 0 || !(s->invalidate_seq & 1)) return;
    s->invalidate_seq++;  // even again: readers may go on
  }
  wake_up_all(&s->wq);
}

int invalidate_start(mmu_notifier_range* range) {
  mmu_notifier_subscriptions* s = subs_of(range->mm);
  if (!s) return 0;
  if (!itree_inv_start(s, range)) {
    itree_inv_end(s);
    return -EAGAIN;
  }
  std::vector<mmu_notifier*> subs = get_list(s);
  int ret = 0;
  size_t started = 0;
  for (; started < subs.size(); ++started) {
    mmu_notifier* sub = subs[started];
    if (!sub->ops->invalidate_range_start) continue;
    ret = sub->ops->invalidate_range_start(sub, range);
    if (ret) {
      WARN_ON(mmu_notifier_range_blockable(range) || ret != -EAGAIN);
      break;
    }
  }
  if (ret) {  // end what was started, as upstream does when a start fails
    for (size_t i = 0; i < started; ++i)
      if (subs[i]->ops->invalidate_range_end) subs[i]->ops->invalidate_range_end(subs[i], range);
    put_reader(s);
    itree_inv_end(s);
    return ret;
  }
  put_reader(s);
  return 0;
}

}  // namespace

int __mmu_notifier_register(mmu_notifier* sub, mm_struct* mm) {
  mmap_assert_write_locked(mm);
  BUG_ON(!sub->ops);
  mmu_notifier_subscriptions* s = subs_get_or_make(mm);
  sub->mm = mm;
  sub->released = false;
  SpinGuard g(&s->lock);
  s->list.push_back(sub);
  return 0;
}

int mmu_notifier_register(mmu_notifier* sub, mm_struct* mm) {
  mmap_write_lock(mm);
  int r = __mmu_notifier_register(sub, mm);
  mmap_write_unlock(mm);
  return r;
}

void mmu_notifier_unregister(mmu_notifier* sub, mm_struct* mm) {
  mmu_notifier_subscriptions* s = subs_of(mm);
  if (!s) return;
  bool call_release = false;
  {
    SpinGuard g(&s->lock);
    auto it = std::find(s->list.begin(), s->list.end(), sub);
    if (it != s->list.end()) {
      s->list.erase(it);
      call_release = !sub->released;
    }
  }
  if (call_release && sub->ops->release) sub->ops->release(sub, mm);
  sub->released = true;
  // synchronize_srcu(): no walk that may still hold @sub is in progress when we return.
  wait_event(&s->wq, [s] {
    SpinGuard g(&s->lock);
    return s->readers == 0;
  });
}

int mmu_interval_notifier_insert(mmu_interval_notifier* mni, mm_struct* mm, unsigned long start,
                                 unsigned long length, const mmu_interval_notifier_ops* ops) {
  if (length == 0 || start + length < start || !ops || !ops->invalidate) return -EINVAL;
  mmap_write_lock(mm);
  mmu_notifier_subscriptions* s = subs_get_or_make(mm);
  mmap_write_unlock(mm);
  mni->ops = ops;
  mni->mm = mm;
  mni->start = start;
  mni->last = start + length - 1;
  SpinGuard g(&s->lock);
  // Odd and unequal to the global sequence when idle, so a first read_begin does not wait;
  // equal to it when an invalidation is running, so it does.
  mni->invalidate_seq.store((s->invalidate_seq & 1) ? s->invalidate_seq : s->invalidate_seq - 1,
                            std::memory_order_relaxed);
  s->itree.push_back(mni);
  return 0;
}

void mmu_interval_notifier_remove(mmu_interval_notifier* mni) {
  mmu_notifier_subscriptions* s = subs_of(mni->mm);
  if (!s) return;
  unsigned long seq;
  {
    SpinGuard g(&s->lock);
    auto it = std::find(s->itree.begin(), s->itree.end(), mni);
    if (it != s->itree.end()) s->itree.erase(it);
    seq = s->invalidate_seq;
  }
  if (seq & 1)  // an invalidation may still be calling it: wait for that one to end
    wait_event(&s->wq, [s, seq] {
      SpinGuard g(&s->lock);
      return s->invalidate_seq != seq && s->readers == 0;
    });
}

unsigned long mmu_interval_read_begin(mmu_interval_notifier* mni) {
  mmu_notifier_subscriptions* s = subs_of(mni->mm);
  BUG_ON(!s);
  unsigned long seq;
  bool invalidating;
  {
    SpinGuard g(&s->lock);
    seq = mni->invalidate_seq.load(std::memory_order_relaxed);
    invalidating = seq == s->invalidate_seq;
  }
  if (invalidating)
    wait_event(&s->wq, [s, seq] {
      SpinGuard g(&s->lock);
      return s->invalidate_seq != seq;
    });
  return seq;
}

void mmu_notifier_invalidate_range_start(mmu_notifier_range* range) {
  range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
  WARN_ON(invalidate_start(range) != 0);
}

int mmu_notifier_invalidate_range_start_nonblock(mmu_notifier_range* range) {
  range->flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
  return invalidate_start(range);
}

void mmu_notifier_invalidate_range_end(mmu_notifier_range* range) {
  mmu_notifier_subscriptions* s = subs_of(range->mm);
  if (!s) return;
  std::vector<mmu_notifier*> subs = get_list(s);
  for (mmu_notifier* sub : subs)
    if (sub->ops->invalidate_range_end) sub->ops->invalidate_range_end(sub, range);
  put_reader(s);
  itree_inv_end(s);
}

void mmu_notifier_release(mm_struct* mm) {
  mmu_notifier_subscriptions* s = subs_of(mm);
  if (!s) return;
  std::vector<mmu_notifier*> subs;
  {
    SpinGuard g(&s->lock);
    subs.swap(s->list);  // unregister after this finds nothing left to release
    s->readers++;
  }
  for (mmu_notifier* sub : subs) {
    if (sub->ops->release) sub->ops->release(sub, mm);
    sub->released = true;
  }
  put_reader(s);
  mmu_notifier_range range;
  mmu_notifier_range_init(&range, MMU_NOTIFY_RELEASE, MMU_NOTIFIER_RANGE_BLOCKABLE, mm, 0, ~0ul);
  if (itree_inv_start(s, &range)) itree_inv_end(s);
}

void mmu_notifier_subscriptions_destroy(mm_struct* mm) {
  mmu_notifier_subscriptions* s = subs_of(mm);
  if (!s) return;
  mm->notifier_subscriptions.store(nullptr, std::memory_order_relaxed);
  {
    SpinGuard g(&s->lock);
    WARN_ON(!s->list.empty() || s->readers != 0);
  }
  delete s;
}

}  // namespace guplab
