// mmu_notifier.h - MMU notifiers (include/linux/mmu_notifier.h, mm/mmu_notifier.c):
// secondary MMUs (a device's page table) told when the primary page tables of an mm
// change, seed 003's "revoke through mmu notifier".
//
// Two forms, as upstream:
//  - a subscription (struct mmu_notifier with mmu_notifier_ops) registered on an mm
//    sees every invalidate_range_start/end pair and ->release at exit;
//  - an interval notifier (struct mmu_interval_notifier) covers [start, start+length)
//    and is called only for invalidations that overlap it. A mirror reads its range with
//    the sequence protocol: seq = mmu_interval_read_begin(); fault and collect under the
//    driver's lock; if mmu_interval_read_retry(mni, seq), start again. The ->invalidate
//    callback calls mmu_interval_set_seq() under that same driver lock.
//
// An invalidation is a range (mmu_notifier_range) carrying the mm, [start, end), the
// event (UNMAP, CLEAR, PROTECTION_VMA, PROTECTION_PAGE, MIGRATE, RELEASE, seed 003's
// TRUNCATE, ...) and whether the caller may block. Callers bracket the page-table change
// with mmu_notifier_invalidate_range_start() and _end(); the non-blocking start
// (_start_nonblock) returns -EAGAIN when a notifier would have to sleep, and the caller
// must then not proceed.
//
// Departure (docs/seeds.md): upstream walks subscriptions under SRCU; here the walk
// takes a reference on the subscription list (a reader count) and
// mmu_notifier_unregister() waits for it to drain, which is what synchronize_srcu()
// gives upstream's unregister. Interval notifiers are kept in an ordered vector,
// not an interval tree (a handful per mm).
//
// Threading: any task. Callbacks run in the invalidating task, with whatever locks the
// call site holds (mmap_lock, i_mmap_rwsem, the page lock); a callback must not take
// mmap_lock of the same mm. Registration takes mmap_lock for write (the __ variant
// expects it held).
#pragma once
#include <cstdint>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "base/wait.h"
#include "mm/mm_struct.h"

namespace guplab {

/** What kind of change an invalidation announces (enum mmu_notifier_event). */
enum mmu_notifier_event : unsigned {
  MMU_NOTIFY_UNMAP = 0,          // the range is unmapped (munmap, MADV_DONTNEED, zap)
  MMU_NOTIFY_CLEAR,              // entries cleared, the vma stays (COW break, try_to_unmap)
  MMU_NOTIFY_PROTECTION_VMA,     // mprotect: the vma's protection changes
  MMU_NOTIFY_PROTECTION_PAGE,    // one page's protection changes (page_mkclean)
  MMU_NOTIFY_SOFT_DIRTY,         // soft-dirty tracking cleared
  MMU_NOTIFY_RELEASE,            // the mm is going away (exit_mmap)
  MMU_NOTIFY_MIGRATE,            // the page moves (migration, compaction)
  MMU_NOTIFY_EXCLUSIVE,          // device-exclusive access
  MMU_NOTIFY_TRUNCATE,           // seed 003: the file's blocks are being freed under the range
};

/** Name of @e for traces and reports ("unmap", "truncate", ...). */
const char* mmu_notifier_event_name(mmu_notifier_event e);

/** range->flags: the callbacks may sleep. */
inline constexpr unsigned MMU_NOTIFIER_RANGE_BLOCKABLE = 1u << 0;

struct mmu_notifier_range {
  mm_struct* mm = nullptr;
  unsigned long start = 0;
  unsigned long end = 0;
  unsigned flags = 0;
  mmu_notifier_event event = MMU_NOTIFY_UNMAP;
  const void* owner = nullptr;  // the device that caused it (it may skip its own)
};

/** mmu_notifier_range_init() - fill @range (blockable unless @flags says otherwise). */
inline void mmu_notifier_range_init(mmu_notifier_range* range, mmu_notifier_event event, unsigned flags,
                                    mm_struct* mm, unsigned long start, unsigned long end) {
  *range = mmu_notifier_range{mm, start, end, flags, event, nullptr};
}
/** mmu_notifier_range_blockable() - may the callbacks sleep? */
inline bool mmu_notifier_range_blockable(const mmu_notifier_range* range) {
  return (range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE) != 0;
}

struct mmu_notifier;

struct mmu_notifier_ops {
  /** The mm is being torn down (or the subscription unregistered): stop all access. */
  void (*release)(mmu_notifier* sub, mm_struct* mm) = nullptr;
  /** Before the change. Returns 0, or -EAGAIN only when !blockable and it would sleep. */
  int (*invalidate_range_start)(mmu_notifier* sub, const mmu_notifier_range* range) = nullptr;
  /** After the change (the new ptes are in place). */
  void (*invalidate_range_end)(mmu_notifier* sub, const mmu_notifier_range* range) = nullptr;
};

struct mmu_notifier {
  const mmu_notifier_ops* ops = nullptr;
  mm_struct* mm = nullptr;
  bool released = false;  // ->release already called (exit or unregister)
};

struct mmu_interval_notifier;

struct mmu_interval_notifier_ops {
  /**
   * The range overlaps the interval. The callback takes its driver lock, calls
   * mmu_interval_set_seq(mni, cur_seq), stops device access to the overlap, and returns
   * true; with a non-blockable range it may return false instead of sleeping.
   */
  bool (*invalidate)(mmu_interval_notifier* mni, const mmu_notifier_range* range, unsigned long cur_seq) = nullptr;
};

struct mmu_interval_notifier {
  const mmu_interval_notifier_ops* ops = nullptr;
  mm_struct* mm = nullptr;
  unsigned long start = 0;
  unsigned long last = 0;  // inclusive, as the interval tree's
  /** The sequence the mirror read under; set by the invalidate callback. */
  std::atomic<unsigned long> invalidate_seq{0};
};

/** Per-mm state (struct mmu_notifier_subscriptions); made at the first registration. */
struct mmu_notifier_subscriptions {
  spinlock_t lock;
  std::vector<mmu_notifier*> list GUARDED_BY(lock);
  std::vector<mmu_interval_notifier*> itree GUARDED_BY(lock);
  /** Odd while an invalidation that overlaps some interval notifier runs. */
  unsigned long invalidate_seq GUARDED_BY(lock) = 2;
  int active_invalidate_ranges GUARDED_BY(lock) = 0;
  int readers GUARDED_BY(lock) = 0;  // walks of list in progress (the SRCU stand-in)
  wait_queue_head_t wq;              // interval readers and unregister wait here
};

/**
 * mmu_notifier_register() - subscribe @sub (ops set by the caller) to @mm.
 * REQUIRES: mmap_lock of @mm not held (it is taken for write). Returns 0 or -ENOMEM.
 */
int mmu_notifier_register(mmu_notifier* sub, mm_struct* mm) EXCLUDES(mm->mmap_lock);
/** __mmu_notifier_register() - the same with mmap_lock already held for write. */
int __mmu_notifier_register(mmu_notifier* sub, mm_struct* mm) REQUIRES(mm->mmap_lock);
/**
 * mmu_notifier_unregister() - remove @sub; calls ->release if exit has not already, and
 * returns after every callback on @sub has finished (no callback runs after it).
 */
void mmu_notifier_unregister(mmu_notifier* sub, mm_struct* mm);

/**
 * mmu_interval_notifier_insert() - watch [@start, @start + @length) of @mm.
 * Returns 0, or -EINVAL for an empty or wrapping range. REQUIRES: mmap_lock not held.
 */
int mmu_interval_notifier_insert(mmu_interval_notifier* mni, mm_struct* mm, unsigned long start,
                                 unsigned long length, const mmu_interval_notifier_ops* ops);
/** mmu_interval_notifier_remove() - stop watching; waits for an invalidation in progress on it. */
void mmu_interval_notifier_remove(mmu_interval_notifier* mni);
/**
 * mmu_interval_read_begin() - the sequence to read the interval under; waits while an
 * invalidation overlapping it is in progress. May sleep.
 */
unsigned long mmu_interval_read_begin(mmu_interval_notifier* mni);
/** mmu_interval_read_retry() - did an invalidation begin since @seq? (call under the driver lock) */
inline bool mmu_interval_read_retry(mmu_interval_notifier* mni, unsigned long seq) {
  return mni->invalidate_seq.load(std::memory_order_acquire) != seq;
}
/** mmu_interval_check_retry() - the same, as an early, lock-free hint. */
inline bool mmu_interval_check_retry(mmu_interval_notifier* mni, unsigned long seq) {
  return mmu_interval_read_retry(mni, seq);
}
/** mmu_interval_set_seq() - called by ->invalidate under the driver lock. */
inline void mmu_interval_set_seq(mmu_interval_notifier* mni, unsigned long cur_seq) {
  mni->invalidate_seq.store(cur_seq, std::memory_order_release);
}

/** mm_has_notifiers() - anyone subscribed? (the call sites' cheap test) */
inline bool mm_has_notifiers(const mm_struct* mm) {
  return mm->notifier_subscriptions.load(std::memory_order_acquire) != nullptr;
}

/**
 * mmu_notifier_invalidate_range_start() - tell every subscription and every overlapping
 * interval notifier that @range is about to change. May sleep.
 */
void mmu_notifier_invalidate_range_start(mmu_notifier_range* range);
/**
 * mmu_notifier_invalidate_range_start_nonblock() - the same, without sleeping: returns
 * -EAGAIN if a notifier would have to (then the range has been ended again, and the
 * caller must not change the page tables), else 0.
 */
int mmu_notifier_invalidate_range_start_nonblock(mmu_notifier_range* range);
/** mmu_notifier_invalidate_range_end() - the change is done. */
void mmu_notifier_invalidate_range_end(mmu_notifier_range* range);

/**
 * mmu_notifier_release() - exit_mmap(): call ->release of every subscription (once) and
 * an invalidation of everything for interval notifiers (event RELEASE).
 */
void mmu_notifier_release(mm_struct* mm);
/** mmu_notifier_subscriptions_destroy() - mmdrop(): free the per-mm state. */
void mmu_notifier_subscriptions_destroy(mm_struct* mm);

/**
 * MmuNotifierScope - invalidate_range_start in the constructor, _end in the destructor,
 * and nothing at all when the mm has no notifiers (the kernel's static-key fast path).
 */
class MmuNotifierScope {
 public:
  MmuNotifierScope(mmu_notifier_event event, mm_struct* mm, unsigned long start, unsigned long end,
                   const void* owner = nullptr) {
    if (!mm || !mm_has_notifiers(mm)) return;
    mmu_notifier_range_init(&range_, event, MMU_NOTIFIER_RANGE_BLOCKABLE, mm, start, end);
    range_.owner = owner;
    armed_ = true;
    mmu_notifier_invalidate_range_start(&range_);
  }
  ~MmuNotifierScope() {
    if (armed_) mmu_notifier_invalidate_range_end(&range_);
  }
  MmuNotifierScope(const MmuNotifierScope&) = delete;
  MmuNotifierScope& operator=(const MmuNotifierScope&) = delete;

 private:
  mmu_notifier_range range_;
  bool armed_ = false;
};

}  // namespace guplab
