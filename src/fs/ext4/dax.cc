// dax.cc - ext4: fs-DAX files (ext4_dax_fault(), ext4_dax_read_iter()/write_iter(),
// ext4_break_layouts() and the DAX side of setattr and eviction). Data never enters the
// page cache: reads, writes and faults reach the pmem frames through fs/dax.h, and a
// block is allocated (zeroed on the device) when a fault or a write first touches it.
// New blocks need no ordered data write: they are zeroed in place before anything
// points at them, and the frames are the medium.
#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "base/errno.h"
#include "block/pmem.h"
#include "fs/dax.h"
#include "fs/ext4/ext4.h"
#include "machine/machine.h"
#include "mm/memremap.h"
#include "mm/truncate.h"

namespace guplab {

namespace {

int ext4_dax_iomap_begin(inode* ino, pgoff_t index, bool write, pgoff_t* dev_pgoff, bool* mapped)
    NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(ino->i_sb);
  if (index > 0xffffffffu) return -EFBIG;
  uint32_t block = 0;
  bool is_new = false;
  down_write(&sbi->s_meta_sem);
  int err = ext4_map_block(sbi, EXT4_I(ino), static_cast<uint32_t>(index), write, &block, &is_new);
  if (!err && is_new) {
    // Zeroed before the block map that points at it is visible to anybody else.
    void* kaddr = nullptr;
    if (dax_direct_access(fs_dax_get_by_bdev(ino->i_sb->s_bdev), block, &kaddr, nullptr) <= 0) {
      err = -EIO;
    } else {
      char* frame = static_cast<char*>(kaddr);
      for (size_t i = 0; i < PAGE_SIZE; i++) __atomic_store_n(&frame[i], char{0}, __ATOMIC_RELAXED);
    }
  }
  up_write(&sbi->s_meta_sem);
  if (err) return err;
  if (is_new) ext4_mark_inode_dirty(ino);
  *mapped = block != 0;
  *dev_pgoff = block;
  return 0;
}

const dax_iomap_ops ext4_iomap_ops = {.iomap_begin = ext4_dax_iomap_begin};

vm_fault_t ext4_dax_fault(vm_fault* vmf) NO_THREAD_SAFETY_ANALYSIS {
  address_space* mapping = file_inode(vmf->vma->vm_file)->i_mapping;
  filemap_invalidate_lock_shared(mapping);
  vm_fault_t ret = dax_iomap_fault(vmf, &ext4_iomap_ops);
  filemap_invalidate_unlock_shared(mapping);
  return ret;
}

// Writes to a mapped frame need nothing of the filesystem (the block exists): no
// page_mkwrite, so a write to a read-only pte just makes it writable.
const vm_operations_struct ext4_dax_vm_ops = {
    .name = "ext4-dax",
    .open = nullptr,
    .close = nullptr,
    .fault = ext4_dax_fault,
    .page_mkwrite = nullptr,
};

ssize_t ext4_dax_read(file* filp, char* buf, size_t count, loff_t* pos) NO_THREAD_SAFETY_ANALYSIS {
  inode* ino = file_inode(filp);
  inode_lock_shared(ino);
  ssize_t n = dax_iomap_rw(filp, buf, count, pos, false, &ext4_iomap_ops);
  inode_unlock_shared(ino);
  return n;
}

ssize_t ext4_dax_write(file* filp, const char* buf, size_t count, loff_t* pos) NO_THREAD_SAFETY_ANALYSIS {
  inode* ino = file_inode(filp);
  inode_lock(ino);
  if (filp->f_flags & O_APPEND) *pos = i_size_read(ino);
  const loff_t old_size = i_size_read(ino);
  ssize_t n = dax_iomap_rw(filp, const_cast<char*>(buf), count, pos, true, &ext4_iomap_ops);
  if (i_size_read(ino) != old_size) ext4_mark_inode_dirty(ino);
  inode_unlock(ino);
  return n;
}

int ext4_dax_mmap(file* filp, vm_area_struct* vma) {
  vma->vm_ops = &ext4_dax_vm_ops;
  vma->vm_flags |= VM_MIXEDMAP;
  return 0;
}

// fsync: the data is on the medium already (the frames are the medium): only a commit.
int ext4_dax_sync_file(file* filp, loff_t, loff_t, int) { return ext4_commit(file_inode(filp)->i_sb); }

// As upstream's noop_dirty_folio(): the flag only, nothing for writeback to find.
bool ext4_dax_dirty_folio(address_space*, folio* f) { return !TestSetPageDirty(f); }

sector_t ext4_dax_bmap(address_space* mapping, sector_t block) {
  pgoff_t dev_pgoff = 0;
  bool mapped = false;
  if (ext4_dax_iomap_begin(mapping_inode(mapping), static_cast<pgoff_t>(block), false, &dev_pgoff, &mapped)) return 0;
  return mapped ? dev_pgoff : 0;
}

}  // namespace

const file_operations ext4_dax_file_fops = {
    .read = ext4_dax_read,
    .write = ext4_dax_write,
    .mmap = ext4_dax_mmap,
    .open = nullptr,
    .release = nullptr,
    .fsync = ext4_dax_sync_file,
};

const address_space_operations ext4_dax_aops = {
    .dirty_folio = ext4_dax_dirty_folio,
    .bmap = ext4_dax_bmap,
};

int ext4_dax_setsize(inode* ino, loff_t new_size) NO_THREAD_SAFETY_ANALYSIS {
  address_space* mapping = ino->i_mapping;
  ext4_sb_info* sbi = EXT4_SB(ino->i_sb);
  const loff_t old_size = i_size_read(ino);
  filemap_invalidate_lock(mapping);
  int err = 0;
  if (new_size < old_size) {
    // ext4_break_layouts(): no mapping of the file survives, no GUP reference either, before
    // a block is freed - a short-term pin (direct I/O) makes truncate wait here.
    dax_break_layouts(ino, &ext4_iomap_ops);
    const loff_t tail = new_size & static_cast<loff_t>(~PAGE_MASK);
    if (tail) err = dax_zero_range(ino, new_size, static_cast<loff_t>(PAGE_SIZE) - tail, &ext4_iomap_ops);
  }
  truncate_setsize(ino, new_size);
  if (new_size < old_size) {
    const pgoff_t first = static_cast<pgoff_t>((new_size + static_cast<loff_t>(PAGE_SIZE) - 1) >> PAGE_SHIFT);
    const pgoff_t last = static_cast<pgoff_t>((old_size - 1) >> PAGE_SHIFT);
    if (first <= last) dax_disassociate_range(ino, first, last, &ext4_iomap_ops);
    down_write(&sbi->s_meta_sem);
    ext4_truncate_blocks(sbi, EXT4_I(ino), new_size);
    up_write(&sbi->s_meta_sem);
  }
  filemap_invalidate_unlock(mapping);
  ext4_mark_inode_dirty(ino);
  return err;
}

void ext4_dax_evict(inode* ino) NO_THREAD_SAFETY_ANALYSIS {
  // No vma maps the file any more (they hold references), but a pin may outlive them:
  // its block is not freed under it (upstream's dax_break_layout_final()).
  address_space* mapping = ino->i_mapping;
  filemap_invalidate_lock(mapping);
  dax_break_layouts(ino, &ext4_iomap_ops);
  const loff_t size = i_size_read(ino);
  if (size > 0) dax_disassociate_range(ino, 0, static_cast<pgoff_t>((size - 1) >> PAGE_SHIFT), &ext4_iomap_ops);
  filemap_invalidate_unlock(mapping);
}

}  // namespace guplab
