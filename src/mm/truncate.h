// truncate.h - taking pages out of the page cache (mm/truncate.c) and unmapping a file
// range from every process that maps it (unmap_mapping_range(), mm/memory.c).
//
// Truncating a page: lock it, wait for its writeback, zap every pte that maps it, let
// the filesystem drop its buffers (a_ops->invalidate_folio), cancel its dirtiness and
// remove it from the cache. A page somebody still holds (a GUP pin, say) is only
// removed from the cache: it lives on, with ->mapping NULL, until its last reference,
// and whatever the device writes into it afterwards goes nowhere (the long-term-pin
// vs truncate problem of seeds 002/003; revoke is not built).
//
// Sync points: "truncate:start" (truncate_inode_pages_range(), before the first
// page), "truncate:done" (after the last).
//
// Threading: truncate callers hold i_rwsem for write (or own the inode); they must not
// hold mmap_lock or any page lock of the mapping. unmap_mapping_range() takes
// i_mmap_rwsem for read and each mm's page_table_lock.
#pragma once
#include "fs/fs.h"
#include "mm/mm_types.h"
#include "mm/mmu_notifier.h"

namespace guplab {

/**
 * unmap_mapping_range() - zap every pte of every vma of @mapping that maps file offsets
 * [@holebegin, @holebegin + @holelen) (@holelen 0: to the end). With @even_cows the
 * private COW copies in that range go too (truncate); without, only file pages. Fake
 * vmas (fake_vma design) have no page tables and are left alone. Each vma's zap is
 * bracketed by an mmu notifier invalidation carrying @event: upstream's CLEAR, or
 * seed 003's MMU_NOTIFY_TRUNCATE when the caller is about to free the file's blocks
 * (truncate_pagecache()).
 */
void unmap_mapping_range(address_space* mapping, loff_t holebegin, loff_t holelen, bool even_cows,
                         mmu_notifier_event event = MMU_NOTIFY_CLEAR);
/** unmap_mapping_folio() - zap every pte mapping locked @f (it is in a file). */
void unmap_mapping_folio(folio* f);

/**
 * truncate_inode_pages_range() - remove the pages covering bytes [@lstart, @lend] of
 * @mapping (@lend inclusive, -1 for the end). A page partly in the range is kept and
 * the truncated part zeroed. Dirty data in the range is discarded.
 */
void truncate_inode_pages_range(address_space* mapping, loff_t lstart, loff_t lend);
/** truncate_inode_pages() - everything from @lstart on. */
void truncate_inode_pages(address_space* mapping, loff_t lstart);
/** truncate_inode_pages_final() - every page (inode eviction, umount). */
void truncate_inode_pages_final(address_space* mapping);
/**
 * truncate_pagecache() - the page-cache half of shrinking a file to @newsize: unmap
 * what lies beyond, remove it, unmap again (a racing fault may have mapped a page).
 */
void truncate_pagecache(inode* ino, loff_t newsize);
/**
 * pagecache_isize_extended() - i_size grew from @from to @to: if the old EOF was inside
 * a block that is now partly inside the file, the page holding it must be written
 * again before a store through mmap may dirty the new part, so write-protect its ptes
 * (page_mkclean(page, false), seed 002's call site) and keep it dirty. Under the `wait`
 * policy a pin of that page is waited for first, without the page lock
 * (folio_mkclean_wait_pinned()).
 * REQUIRES: i_rwsem held for write; i_size already @to.
 */
void pagecache_isize_extended(inode* ino, loff_t from, loff_t to);
/**
 * truncate_setsize() - i_size_write(@newsize), then pagecache_isize_extended() or
 * truncate_pagecache() as appropriate. REQUIRES: i_rwsem held for write.
 */
void truncate_setsize(inode* ino, loff_t newsize);

/**
 * folio_invalidate() - the filesystem's part of removing [@offset, @offset + @len) of
 * locked @f (a_ops->invalidate_folio; buffers are dropped when the whole page goes).
 */
void folio_invalidate(folio* f, size_t offset, size_t len);

}  // namespace guplab
