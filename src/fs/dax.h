// dax.h - fs-DAX (fs/dax.c, include/linux/dax.h): a file on a DAX-capable device
// (block/pmem.h) has no page cache; its blocks are the device's frames, and a fault maps
// the frame that backs the faulting file page straight into the process
// (dax_iomap_fault()); read() and write() copy to and from the frames (dax_iomap_rw()).
// A frame mapped or pinned is bound to its file (mm/memremap.h); before a filesystem
// frees blocks (truncate), it must unmap them and wait for every GUP reference or pin to
// go (dax_layout_busy_page(), then the wait in its break_layouts).
//
// The filesystem tells where file pages live through dax_iomap_ops. Block size must be
// PAGE_SIZE, so file page N is one device page.
//
// Locking: the filesystem calls dax_iomap_fault() with mmap_lock held for read and the
// mapping's invalidate_lock shared, dax_iomap_rw() with i_rwsem, and
// dax_layout_busy_page() with i_rwsem and invalidate_lock held exclusive (so no fault can
// map the blocks again meanwhile).
//
// Threading: any task of the machine.
#pragma once
#include <sys/types.h>

#include "fs/fs.h"
#include "mm/vma.h"

namespace guplab {

/** dax_iomap_ops - how a filesystem maps file pages to device pages. */
struct dax_iomap_ops {
  /**
   * iomap_begin() - the device page holding page @index of @ino in *@dev_pgoff, and
   * *@mapped = true; a hole gives *@mapped = false, unless @write, which allocates the
   * block, zeroed on the device, first. Returns 0 or -errno (-ENOSPC, -EFBIG, -EIO).
   */
  int (*iomap_begin)(inode* ino, pgoff_t index, bool write, pgoff_t* dev_pgoff, bool* mapped);
};

/**
 * dax_iomap_fault() - map the frame behind vmf->pgoff into vmf->vma at vmf->address,
 * allocating its block if it is a hole (a read fault allocates too: the model maps no
 * zero page for DAX holes). Writable and dirty on a write fault. Returns VM_FAULT_NOPAGE
 * (mapped, or somebody mapped it first), VM_FAULT_SIGBUS (beyond EOF, or the block
 * could not be allocated) or VM_FAULT_OOM. REQUIRES: see the header comment.
 */
vm_fault_t dax_iomap_fault(vm_fault* vmf, const dax_iomap_ops* ops);

/**
 * dax_iomap_rw() - read(2)/write(2) of a DAX file: copy @count bytes between @buf and
 * the file at *@pos, through the frames (holes read as zeroes; a write allocates and
 * extends i_size). Advances *@pos. Returns bytes copied or -errno.
 * REQUIRES: i_rwsem held (shared for a read, exclusive for a write).
 */
ssize_t dax_iomap_rw(file* filp, char* buf, size_t count, loff_t* pos, bool write, const dax_iomap_ops* ops);

/**
 * dax_layout_busy_page_range() - unmap [@start, @end] of @mapping from every process
 * (an invalidation with MMU_NOTIFY_TRUNCATE: its callers free blocks next), then return a page of the range that is still referenced (a GUP pin or reference:
 * direct I/O in flight, a device) or nullptr if every page is idle.
 * dax_layout_busy_page() - the same for the whole file.
 * REQUIRES: see the header comment.
 */
page* dax_layout_busy_page_range(address_space* mapping, loff_t start, loff_t end, const dax_iomap_ops* ops);
page* dax_layout_busy_page(address_space* mapping, const dax_iomap_ops* ops);

/**
 * dax_break_layouts() - dax_layout_busy_page() until it finds nothing, sleeping for each
 * busy page to go idle with invalidate_lock dropped (ext4_break_layouts()). Passes the
 * sync point "dax:break_layouts:wait" before each sleep (and traces it). Returns the
 * number of sleeps. REQUIRES: i_rwsem and invalidate_lock held
 * exclusive; both held again on return.
 */
int dax_break_layouts(inode* ino, const dax_iomap_ops* ops);

/**
 * dax_zero_range() - zero [@pos, @pos + @len) of a DAX file where blocks exist (the
 * partial block at the new EOF of a truncate). REQUIRES: as dax_break_layouts().
 */
int dax_zero_range(inode* ino, loff_t pos, loff_t len, const dax_iomap_ops* ops);

/**
 * dax_disassociate_range() - unbind the pages backing file pages [@first, @last] from
 * the file before their blocks are freed. REQUIRES: every such page idle, invalidate_lock
 * held exclusive (or the inode being evicted).
 */
void dax_disassociate_range(inode* ino, pgoff_t first, pgoff_t last, const dax_iomap_ops* ops);

}  // namespace guplab
