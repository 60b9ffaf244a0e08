// fork.h - mm_struct lifetime and fork's copy of an address space (kernel/fork.c, and
// copy_page_range() of mm/memory.c).
//
// mm_users counts users of the address space (tasks, GUP-remote callers holding it):
// the last mmput() tears it down (exit_mmap()). mm_count counts references to the
// struct (mm_users together hold one): the last mmdrop() frees the pgd (after RCU)
// and the struct.
//
// dup_mm() copies an mm as fork() does: every vma but VM_DONTCOPY ones (VM_LOCKED is
// not inherited; VM_WIPEONFORK ones start empty), anon_vma trees shared for rmap, and
// the page tables of vmas that have anonymous pages: private anonymous pages become
// copy-on-write (write-protected in parent and child, one more reference and mapping,
// PageAnonExclusive cleared), except a page that may be DMA-pinned
// (mm->has_pinned && page_maybe_dma_pinned()), which the child gets a copy of at once
// so the parent's page stays exclusive and writable: DMA into it stays visible to the
// parent only. Huge PMDs are shared read-only in both (a maybe-pinned THP is split in
// the parent and copied page by page). Shared and file-backed vmas without anon pages
// are not copied: the child faults them in from their backing.
// A vma registered with userfaultfd keeps its registration in the child only if the
// context has UFFD_FEATURE_EVENT_FORK: then the child's vmas get a new context, and
// dup_mm() sends UFFD_EVENT_FORK to the parent's context after dropping the mmap_locks
// and waits until the handler reads it (mm/userfaultfd.h).
// While it copies the page tables of a COW vma, dup_mm() keeps the parent's
// mm->write_protect_seq odd, so that GUP-fast can tell a pin may have raced with fork.
//
// Threading: mmget/mmput/mmgrab/mmdrop from any task. dup_mm() takes the parent's
// mmap_lock for write.
#pragma once
#include "mm/mm_struct.h"
#include "mm/vma.h"

namespace guplab {

class Machine;

/**
 * mm_alloc() - a new, empty address space on @m (with its pgd), mm_users 1.
 * Returns nullptr if no page is left for the pgd.
 */
mm_struct* mm_alloc(Machine* m);
/** mmget() - take a user reference. REQUIRES: the caller already holds one. */
void mmget(mm_struct* mm);
/** mmget_not_zero() - take a user reference unless the mm is already being torn down. */
bool mmget_not_zero(mm_struct* mm);
/** mmput() - drop a user reference; the last one tears the address space down. */
void mmput(mm_struct* mm);
/** mmgrab() - keep the struct (not the address space) alive. */
void mmgrab(mm_struct* mm);
/** mmdrop() - drop a struct reference; the last frees the pgd (RCU) and the mm. */
void mmdrop(mm_struct* mm);

/**
 * mm_abandon() - after an oops (or a run that ended in a deadlock) the machine's locks
 * and waits are unusable, so an address space cannot be torn down: free its host-side
 * objects (vmas, anon_vma chains, file references via file_abandon()) without locking
 * or touching a page, and leave its page tables and pages to the arena, which goes with
 * the machine. REQUIRES: no task of the machine runs any more; @mm is not used again.
 */
void mm_abandon(mm_struct* mm);

/**
 * dup_mm() - fork's copy of @oldmm (see above).
 * Returns the child mm (mm_users 1), or nullptr on -ENOMEM (nothing leaked).
 * May sleep until a userfaultfd handler reads UFFD_EVENT_FORK (see above).
 * REQUIRES: @oldmm's mmap_lock not held by the caller.
 */
mm_struct* dup_mm(mm_struct* oldmm);

/**
 * copy_page_range() - copy @src_vma's entries into @dst_vma (the child's copy) as
 * above. Returns 0 or -ENOMEM. REQUIRES: both mms' mmap_lock held for write.
 */
int copy_page_range(vm_area_struct* dst_vma, vm_area_struct* src_vma);

}  // namespace guplab
