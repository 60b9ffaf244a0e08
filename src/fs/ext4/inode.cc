// inode.cc - ext4: inodes (iget, allocation, the table copy, eviction), the address
// space operations (get_block, read, ext4_writepage, buffered write), page_mkwrite,
// and setattr (truncate / extend).
#include <fmt/format.h>
#include <sys/stat.h>

#include <cstring>

#include "base/bug.h"
#include "base/errno.h"
#include "fs/buffer_head.h"
#include "fs/ext4/ext4.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/filemap.h"
#include "mm/internal.h"
#include "mm/pagemap.h"
#include "mm/swap.h"
#include "fs/locks.h"
#include "mm/truncate.h"

namespace guplab {

namespace {

// The table slot of inode @ino. REQUIRES: s_meta_sem.
ext4_inode* table_slot(ext4_sb_info* sbi, unsigned long ino, ext4_meta_block** mbp, int* err)
    REQUIRES(sbi->s_meta_sem) {
  const uint64_t off = (ino - 1) * EXT4_INODE_SIZE;
  ext4_meta_block* mb = ext4_meta_get(sbi, sbi->s_es.s_itable_start + static_cast<uint32_t>(off >> sbi->blkbits), err);
  if (!mb) return nullptr;
  *mbp = mb;
  return reinterpret_cast<ext4_inode*>(mb->data.data() + (off & (sbi->block_size - 1)));
}

void set_ops(inode* i) {
  if (S_ISDIR(i->i_mode)) {
    i->i_op = &ext4_dir_iops;
    i->i_fop = &ext4_dir_fops;
  } else {
    i->i_op = &ext4_file_iops;
    i->i_fop = &ext4_file_fops;
  }
  i->i_mapping->a_ops = &ext4_aops;
  if (EXT4_SB(i->i_sb)->s_dax && S_ISREG(i->i_mode)) {  // -o dax: the file's data is the pmem frames
    i->i_flags |= S_DAX;
    i->i_fop = &ext4_dax_file_fops;
    i->i_mapping->a_ops = &ext4_dax_aops;
  }
}

void mark_ordered(ext4_inode_info* ei) {
  if (ei->i_ordered.exchange(true)) return;
  ext4_sb_info* sbi = EXT4_SB(ei->i_sb);
  SpinGuard g(&sbi->ordered_lock);
  sbi->ordered.push_back(ei->i_ino);
}

}  // namespace

// ---- inodes -----------------------------------------------------------------------------

void ext4_mark_inode_dirty(inode* ino) {
  EXT4_I(ino)->i_meta_dirty.store(true);
  mark_inode_dirty(ino);
}

int ext4_write_inode_locked(ext4_sb_info* sbi, ext4_inode_info* ei) {
  if (!ei->i_meta_dirty.exchange(false)) return 0;
  int err = 0;
  ext4_meta_block* mb;
  ext4_inode* raw = table_slot(sbi, ei->i_ino, &mb, &err);
  if (!raw) {
    ei->i_meta_dirty.store(true);
    return err;
  }
  raw->i_mode = ei->i_mode;
  raw->i_links_count = static_cast<uint16_t>(ei->i_nlink.load());
  raw->i_size = static_cast<uint64_t>(i_size_read(ei));
  raw->i_blocks = ei->i_blocks;
  std::memcpy(raw->i_block, ei->i_data, sizeof(raw->i_block));
  mb->dirty = true;
  return 0;
}

inode* ext4_iget(super_block* sb, unsigned long ino) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(sb);
  if (inode* i = ilookup(sb, ino)) return i;
  if (ino < 1 || ino > sbi->s_es.s_inodes_count) return ERR_PTR<inode>(-EINVAL);
  down_write(&sbi->s_meta_sem);
  if (inode* i = ilookup(sb, ino)) {  // loaded while we waited
    up_write(&sbi->s_meta_sem);
    return i;
  }
  int err = 0;
  ext4_meta_block* mb;
  ext4_inode* raw = table_slot(sbi, ino, &mb, &err);
  if (!raw || !raw->i_mode) {
    up_write(&sbi->s_meta_sem);
    return ERR_PTR<inode>(raw ? -ENOENT : err);
  }
  inode* i = new_inode(sb);
  ext4_inode_info* ei = EXT4_I(i);
  i->i_ino = ino;
  i->i_mode = raw->i_mode;
  i->i_nlink.store(raw->i_links_count);
  i_size_write(i, static_cast<loff_t>(raw->i_size));
  std::memcpy(ei->i_data, raw->i_block, sizeof(ei->i_data));
  ei->i_blocks = raw->i_blocks;
  set_ops(i);
  insert_inode_hash(i);
  up_write(&sbi->s_meta_sem);
  return i;
}

int ext4_new_inode(super_block* sb, umode_t mode, inode** out) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(sb);
  down_write(&sbi->s_meta_sem);
  int err = -ENOSPC;
  unsigned long ino = 0;
  for (unsigned long n = EXT4_ROOT_INO + 1; n <= sbi->s_es.s_inodes_count; n++) {
    ext4_meta_block* mb;
    ext4_inode* raw = table_slot(sbi, n, &mb, &err);
    if (!raw) break;
    if (raw->i_mode) continue;
    std::memset(raw, 0, sizeof(*raw));
    raw->i_mode = mode;
    raw->i_links_count = 1;
    mb->dirty = true;
    ino = n;
    err = 0;
    break;
  }
  if (err || !ino) {
    up_write(&sbi->s_meta_sem);
    return err ? err : -ENOSPC;
  }
  sbi->s_es.s_free_inodes--;
  sbi->sb_dirty = true;
  inode* i = new_inode(sb);
  i->i_ino = ino;
  i->i_mode = mode;
  i->i_nlink.store(1);
  set_ops(i);
  insert_inode_hash(i);
  up_write(&sbi->s_meta_sem);
  ext4_mark_inode_dirty(i);
  *out = i;
  return 0;
}

namespace {

inode* ext4_alloc_inode(super_block*) { return new ext4_inode_info; }
void ext4_destroy_inode(inode* i) { delete EXT4_I(i); }

int ext4_write_inode(inode* i, writeback_control*) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(i->i_sb);
  down_write(&sbi->s_meta_sem);
  int err = ext4_write_inode_locked(sbi, EXT4_I(i));
  up_write(&sbi->s_meta_sem);
  return err;
}

// The last reference of an unlinked inode: its blocks and its table slot are freed.
void ext4_evict_inode(inode* i) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(i->i_sb);
  ext4_inode_info* ei = EXT4_I(i);
  if (IS_DAX(i)) ext4_dax_evict(i);  // a pinned frame is not freed under its pin
  down_write(&sbi->s_meta_sem);
  ext4_truncate_blocks(sbi, ei, 0);
  int err = 0;
  ext4_meta_block* mb;
  if (ext4_inode* raw = table_slot(sbi, i->i_ino, &mb, &err)) {
    std::memset(raw, 0, sizeof(*raw));
    mb->dirty = true;
  }
  sbi->s_es.s_free_inodes++;
  sbi->sb_dirty = true;
  ei->i_meta_dirty.store(false);
  up_write(&sbi->s_meta_sem);
}

}  // namespace

const super_operations ext4_sops = {
    .alloc_inode = ext4_alloc_inode,
    .destroy_inode = ext4_destroy_inode,
    .write_inode = ext4_write_inode,
    .evict_inode = ext4_evict_inode,
    .sync_fs = ext4_sync_fs,
    .put_super = ext4_put_super,
};

// ---- address space operations -------------------------------------------------------

int ext4_get_block(inode* ino, sector_t iblock, buffer_head* bh, bool create) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(ino->i_sb);
  ext4_inode_info* ei = EXT4_I(ino);
  if (iblock > 0xffffffffu) return -EFBIG;
  uint32_t block = 0;
  bool is_new = false;
  down_write(&sbi->s_meta_sem);
  int err = ext4_map_block(sbi, ei, static_cast<uint32_t>(iblock), create, &block, &is_new);
  if (!err && is_new) ei->i_new_blocks.push_back(block);  // for the commit (super.cc)
  up_write(&sbi->s_meta_sem);
  if (err) return err;
  if (!block) return 0;  // a hole
  bh->b_bdev = ino->i_sb->s_bdev;
  bh->b_blocknr = block;
  set_buffer_mapped(bh);
  if (is_new) {
    set_buffer_new(bh);
    set_buffer_unwritten(bh);
    mark_ordered(ei);  // its data must reach the disk before the commit that maps it
    ext4_mark_inode_dirty(ino);
  }
  return 0;
}

namespace {

int ext4_read_folio(file*, folio* f) { return block_read_full_folio(f, ext4_get_block); }

/**
 * ext4_writepage() - write one dirty page. As ext4 in Linux 4.4 it takes the page's
 * buffers with page_buffers(), which BUGs when there are none: seed 002's
 * "kernel BUG at fs/ext4/inode.c" after reclaim dropped them under a GUP pin.
 */
int ext4_writepage(page* p, writeback_control* wbc, void*) {
  folio* f = page_folio(p);
  inode* ino = mapping_inode(folio_mapping_read(f));
  const loff_t size = i_size_read(ino);
  Machine* m = page_machine(f);
  if (m->tracing()) m->trace(fmt::format("ext4_writepage: ino {} index {} size {}", ino->i_ino, f->index, size));
  buffer_head* page_bufs = page_buffers(p);  // BUG_ON(!PagePrivate(page))
  (void)page_bufs;
  return block_write_full_folio(f, ext4_get_block, wbc);
}

int ext4_writepages(address_space* mapping, writeback_control* wbc) {
  return write_cache_pages(mapping, wbc, ext4_writepage, nullptr);
}

int ext4_write_begin(file*, address_space* mapping, loff_t pos, unsigned len, page** pagep) {
  const pgoff_t index = static_cast<pgoff_t>(pos >> PAGE_SHIFT);
  folio* f = __filemap_get_folio(mapping, index, FGP_LOCK | FGP_CREAT | FGP_ACCESSED, gfp_t::GFP_HIGHUSER_MOVABLE);
  if (IS_ERR(f)) return static_cast<int>(PTR_ERR(f));
  folio_wait_stable(f);
  if (int err = __block_write_begin(f, pos, len, ext4_get_block)) {
    folio_unlock(f);
    folio_put(f);
    return err;
  }
  *pagep = f;
  return 0;
}

int ext4_write_end(file*, address_space* mapping, loff_t pos, unsigned len, unsigned copied, page* p) {
  folio* f = page_folio(p);
  inode* ino = mapping_inode(mapping);
  const unsigned from = static_cast<unsigned>(pos & ~PAGE_MASK);
  block_commit_write(f, from, from + copied);
  const loff_t old_size = i_size_read(ino);
  if (pos + copied > old_size) {
    i_size_write(ino, pos + copied);
    ext4_mark_inode_dirty(ino);
  }
  folio_unlock(f);
  folio_put(f);
  if (old_size < pos) pagecache_isize_extended(ino, old_size, pos);
  return static_cast<int>(copied);
}

sector_t ext4_bmap(address_space* mapping, sector_t block) NO_THREAD_SAFETY_ANALYSIS {
  inode* ino = mapping_inode(mapping);
  ext4_sb_info* sbi = EXT4_SB(ino->i_sb);
  if (block > 0xffffffffu) return 0;
  uint32_t disk = 0;
  bool is_new = false;
  down_write(&sbi->s_meta_sem);
  const int err = ext4_map_block(sbi, EXT4_I(ino), static_cast<uint32_t>(block), false, &disk, &is_new);
  up_write(&sbi->s_meta_sem);
  return err ? 0 : disk;
}

}  // namespace

const address_space_operations ext4_aops = {
    .dirty_folio = block_dirty_folio,
    .writepage = ext4_writepage,
    .writepages = ext4_writepages,
    .read_folio = ext4_read_folio,
    .release_folio = nullptr,
    .invalidate_folio = block_invalidate_folio,
    .write_begin = ext4_write_begin,
    .write_end = ext4_write_end,
    .bmap = ext4_bmap,
};

// ---- page_mkwrite, setattr ------------------------------------------------------------

vm_fault_t ext4_page_mkwrite(vm_fault* vmf) {
  folio* f = page_folio(vmf->page_);
  inode* ino = file_inode(vmf->vma->vm_file);
  folio_lock(f);
  const loff_t size = i_size_read(ino);
  if (folio_mapping_read(f) != ino->i_mapping || static_cast<loff_t>(f->index << PAGE_SHIFT) >= size) {
    folio_unlock(f);
    return VM_FAULT_NOPAGE;  // truncated under us
  }
  folio_wait_stable(f);
  unsigned len = static_cast<unsigned>(PAGE_SIZE);
  if (static_cast<pgoff_t>(size >> PAGE_SHIFT) == f->index) len = static_cast<unsigned>(size & ~PAGE_MASK);
  // Blocks are allocated here, on the first store through the mapping.
  if (int err = __block_write_begin(f, static_cast<loff_t>(f->index) << PAGE_SHIFT, len, ext4_get_block)) {
    folio_unlock(f);
    return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
  }
  block_commit_write(f, 0, len);
  return VM_FAULT_LOCKED;
}

namespace {

int ext4_setattr(inode* ino, const iattr* attr) NO_THREAD_SAFETY_ANALYSIS {
  if (!(attr->ia_valid & iattr::ATTR_SIZE)) return 0;
  if (attr->ia_size < 0) return -EINVAL;
  const loff_t old_size = i_size_read(ino);
  const loff_t new_size = attr->ia_size;
  if (new_size == old_size) return 0;
  // Policy revoke: holders of a layout lease (long-term pinners of the file's pages)
  // are told and given lease_break_time before the blocks go; truncate_pagecache()
  // then emits MMU_NOTIFY_TRUNCATE, and truncate revokes what is still mapped in an
  // IOMMU (mm/truncate.cc).
  if (new_size < old_size && ino->i_sb->s_machine->wb().truncate_revokes) break_layout(ino, true);
  if (IS_DAX(ino)) return ext4_dax_setsize(ino, new_size);
  truncate_setsize(ino, new_size);
  int err = 0;
  if (new_size < old_size) {
    // The block that now holds EOF keeps on the disk what lay past it: zero that
    // (ext4_block_truncate_page()). The blocks wholly past EOF are freed either way.
    err = block_truncate_page(ino->i_mapping, new_size, ext4_get_block);
    ext4_sb_info* sbi = EXT4_SB(ino->i_sb);
    down_write(&sbi->s_meta_sem);
    ext4_truncate_blocks(sbi, EXT4_I(ino), new_size);
    up_write(&sbi->s_meta_sem);
  }
  ext4_mark_inode_dirty(ino);
  return err;
}

}  // namespace

const inode_operations ext4_file_iops = {.setattr = ext4_setattr};

}  // namespace guplab
