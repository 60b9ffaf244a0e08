// mm_struct.h - struct mm_struct: one address space, and its mmap_lock helpers.
//
// An mm holds the vma tree (ordered by address), the page-table root, counters, and
// the locks: mmap_lock (a rw_semaphore guarding the vma tree and vma fields; faults and
// GUP take it for read, mmap/munmap/mprotect for write) and page_table_lock (a spinlock
// serializing page-table entry updates, one lock per mm). mm_users counts tasks using
// the mm (mmput() tears it down), mm_count the struct itself (mmdrop()).
//
// Threading: as above. The lockless GUP-fast walk reads the page tables with neither
// lock, under rcu_read_lock().
#pragma once
#include <map>

#include "base/atomic.h"
#include "base/bug.h"
#include "base/rwsem.h"
#include "base/spinlock.h"
#include "mm/pgtable.h"
#include "mm/vma.h"

namespace guplab {

class Machine;

struct mmu_notifier_subscriptions;

struct mm_struct {
  Machine* machine = nullptr;
  rw_semaphore mmap_lock;
  spinlock_t page_table_lock ACQUIRED_AFTER(mmap_lock);
  unsigned long pgd_pfn = 0;  // the top-level page-table page
  /** vmas keyed by vm_end, so find_vma() is one lower_bound. */
  std::map<unsigned long, vm_area_struct*> mm_mt GUARDED_BY(mmap_lock);
  atomic_t mm_users;
  atomic_t mm_count;
  atomic64_t pgtables_bytes;
  atomic64_t rss_anon;   // resident pages by kind, as MM_ANONPAGES/MM_FILEPAGES
  atomic64_t rss_file;
  unsigned long mmap_base = 0x7f0000000000ul;
  unsigned long total_vm GUARDED_BY(mmap_lock) = 0;
  int map_count GUARDED_BY(mmap_lock) = 0;  // number of vmas
  /** mm_flags: MMF_HAS_PINNED once anything was ever FOLL_PIN-pinned here (upstream). */
  std::atomic<bool> has_pinned{false};
  /** write_protect_seq: odd while fork() copies page tables (GUP-fast backs off). */
  std::atomic<uint32_t> write_protect_seq{0};
  /** MMU notifiers (mm/mmu_notifier.h): null until the first registration. */
  std::atomic<mmu_notifier_subscriptions*> notifier_subscriptions{nullptr};
};

inline void mmap_read_lock(mm_struct* mm) ACQUIRE_SHARED(mm->mmap_lock) { down_read(&mm->mmap_lock); }
inline int mmap_read_lock_killable(mm_struct* mm) TRY_ACQUIRE_SHARED(0, mm->mmap_lock) {
  return down_read_killable(&mm->mmap_lock);
}
inline bool mmap_read_trylock(mm_struct* mm) TRY_ACQUIRE_SHARED(true, mm->mmap_lock) {
  return down_read_trylock(&mm->mmap_lock);
}
inline void mmap_read_unlock(mm_struct* mm) RELEASE_SHARED(mm->mmap_lock) { up_read(&mm->mmap_lock); }
inline void mmap_write_lock(mm_struct* mm) ACQUIRE(mm->mmap_lock) { down_write(&mm->mmap_lock); }
inline int mmap_write_lock_killable(mm_struct* mm) TRY_ACQUIRE(0, mm->mmap_lock) {
  return down_write_killable(&mm->mmap_lock);
}
inline void mmap_write_unlock(mm_struct* mm) RELEASE(mm->mmap_lock) { up_write(&mm->mmap_lock); }
inline void mmap_write_downgrade(mm_struct* mm) RELEASE(mm->mmap_lock) ACQUIRE_SHARED(mm->mmap_lock) {
  downgrade_write(&mm->mmap_lock);
}
/** mmap_assert_locked() - lockdep-style: mmap_lock is held (read or write). */
inline void mmap_assert_locked(mm_struct* mm) ASSERT_CAPABILITY(mm->mmap_lock) {
  BUG_ON(!rwsem_is_locked(&mm->mmap_lock));
}
inline void mmap_assert_write_locked(mm_struct* mm) ASSERT_CAPABILITY(mm->mmap_lock) {
  BUG_ON(!rwsem_is_write_locked(&mm->mmap_lock));
}

}  // namespace guplab
