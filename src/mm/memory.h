// memory.h - page faults, copy-on-write and unmapping of user memory (mm/memory.c).
//
// handle_mm_fault() resolves one fault on a vma: anonymous memory (the shared zero page
// on read, a zeroed page on write, a THP on an eligible 2 MiB range), write-protect
// faults (reuse an exclusive anon page, else copy), FAULT_FLAG_UNSHARE (give a
// read-only pin a page exclusive to this mm), and file/shmem-backed vmas through
// vma->vm_ops (->fault, ->page_mkwrite). zap_page_range_single() and unmap_vmas()
// clear entries, move pte dirty bits to the pages, drop rmap and references.
//
// Locking: faults run with the vma's mmap_lock held for read; entries change under the
// mm's page_table_lock (with a re-check of the entry read before taking it); page
// allocation, copying and ->fault happen outside page_table_lock. If a ->fault handler
// drops mmap_lock (allowed with FAULT_FLAG_ALLOW_RETRY) it returns VM_FAULT_RETRY, and
// handle_mm_fault() returns that at once without touching the vma again.
//
// Lock order of the mm core (outermost first):
//   mmap_lock -> folio lock -> anon_vma root rwsem -> page_table_lock
//     -> (folio_trylock only) -> lru_lock -> zone->lock
// Two mms' page_table_locks nest only in fork (child's, then parent's).
//
// Threading: any task of the mm's machine; see each function.
#pragma once
#include "mm/mm_struct.h"
#include "mm/pgalloc.h"
#include "mm/vma.h"

namespace guplab {

/**
 * handle_mm_fault() - resolve a fault at @address in @vma.
 * @flags: FAULT_FLAG_WRITE, _UNSHARE (never with _WRITE; COW mappings only), _USER,
 * _REMOTE, _ALLOW_RETRY, _TRIED, ...
 * Returns 0 (done, or raced: the caller re-walks and may fault again), VM_FAULT_OOM,
 * VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV, or VM_FAULT_RETRY (mmap_lock has been released;
 * only with FAULT_FLAG_ALLOW_RETRY), possibly with VM_FAULT_MAJOR. Counts PGFAULT,
 * and PGMAJFAULT for a final major fault.
 * REQUIRES: mmap_lock of vma->vm_mm held for read (or write); @address in @vma.
 */
vm_fault_t handle_mm_fault(vm_area_struct* vma, unsigned long address, fault_flag flags);

/**
 * vm_normal_page() - the refcounted page an entry maps, or nullptr for a special one
 * (the zero page). REQUIRES: @pte present.
 */
page* vm_normal_page(vm_area_struct* vma, unsigned long addr, pte_t pte);

/**
 * zap_page_range_single() - unmap [@address, @address + @size) of @vma (MADV_DONTNEED):
 * entries cleared, dirty bits moved to the pages, rmap dropped, references put (a page
 * goes back to the allocator with its last reference: a pinned one stays). A huge PMD
 * partly in the range is split first. Page tables stay.
 * REQUIRES: mmap_lock held (read is enough).
 */
void zap_page_range_single(vm_area_struct* vma, unsigned long address, unsigned long size);

/**
 * unmap_page_range() - the zap of [@start, @end) of @vma, gathering pages in @tlb.
 * REQUIRES: mmap_lock held; page_table_lock not held.
 */
void unmap_page_range(mmu_gather* tlb, vm_area_struct* vma, unsigned long start, unsigned long end);

/**
 * unmap_vmas() - zap [@start, @end) of every vma of @mm that it overlaps (munmap,
 * exit). REQUIRES: mmap_lock held for write.
 */
void unmap_vmas(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end)
    REQUIRES(mm->mmap_lock);

/**
 * copy_user_highpage() - copy a whole page's bytes (COW, fork of a pinned page). The
 * source is read in relaxed 8-byte words: a device may be writing it meanwhile.
 */
void copy_user_highpage(page* to, const page* from);

}  // namespace guplab
