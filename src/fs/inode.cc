// inode.cc - in-memory inodes and files: construction, the per-superblock inode hash,
// iput() and eviction, fput().
#include <cerrno>

#include "base/bug.h"
#include "fs/fs.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/truncate.h"

namespace guplab {

inode::inode() NO_THREAD_SAFETY_ANALYSIS {
  init_rwsem(&i_rwsem, "i_rwsem");
  spin_lock_init(&i_lock, "inode->i_lock");
  INIT_LIST_HEAD(&i_io_list);
  INIT_LIST_HEAD(&i_sb_list);
  i_data.host = this;
}

bdi_writeback::bdi_writeback() NO_THREAD_SAFETY_ANALYSIS {
  spin_lock_init(&list_lock, "wb->list_lock");
  INIT_LIST_HEAD(&b_dirty);
  init_waitqueue_head(&wb_wait, "wb_wait");
  init_waitqueue_head(&sync_wait, "inode_sync");
}

super_block::super_block() NO_THREAD_SAFETY_ANALYSIS {
  spin_lock_init(&s_inode_list_lock, "s_inode_list_lock");
  INIT_LIST_HEAD(&s_inodes);
}

super_block::~super_block() NO_THREAD_SAFETY_ANALYSIS { VM_WARN_ON_ONCE(!(list_empty(&s_inodes))); }

int bmap(inode* i, sector_t* block) {
  const address_space_operations* ops = i->i_mapping->a_ops;
  if (!ops || !ops->bmap) return -EINVAL;
  *block = ops->bmap(i->i_mapping, *block);
  return 0;
}

inode* new_inode(super_block* sb) {
  inode* i = sb->s_op->alloc_inode(sb);
  if (!i) return nullptr;
  i->i_sb = sb;
  atomic_set(&i->i_count, 1);
  {
    SpinGuard g(&i->i_lock);
    i->i_state = I_NEW;
  }
  SpinGuard g(&sb->s_inode_list_lock);
  list_add_tail(&i->i_sb_list, &sb->s_inodes);
  return i;
}

void insert_inode_hash(inode* i) {
  super_block* sb = i->i_sb;
  {
    SpinGuard g(&sb->s_inode_list_lock);
    sb->s_inode_hash[i->i_ino] = i;
  }
  SpinGuard g(&i->i_lock);
  i->i_state &= ~I_NEW;
}

inode* ilookup(super_block* sb, unsigned long ino) {
  SpinGuard g(&sb->s_inode_list_lock);
  auto it = sb->s_inode_hash.find(ino);
  if (it == sb->s_inode_hash.end()) return nullptr;
  inode* i = it->second;
  {
    SpinGuard gi(&i->i_lock);
    if (i->i_state & I_FREEING) return nullptr;
  }
  atomic_inc(&i->i_count);  // under s_inode_list_lock: iput() cannot be deciding to evict
  return i;
}

void destroy_inode(inode* i) {
  super_block* sb = i->i_sb;
  {
    SpinGuard g(&sb->s_wb.list_lock);
    if (!list_empty(&i->i_io_list)) list_del_init(&i->i_io_list);
  }
  {
    SpinGuard g(&sb->s_inode_list_lock);
    auto it = sb->s_inode_hash.find(i->i_ino);
    if (it != sb->s_inode_hash.end() && it->second == i) sb->s_inode_hash.erase(it);
    list_del(&i->i_sb_list);
  }
  sb->s_op->destroy_inode(i);
}

namespace {
// The last reference to an unlinked inode: its data goes.
void evict(inode* i) {
  // Writeback may be running on it (the flusher took it off the list): let that end.
  truncate_inode_pages_final(i->i_mapping);
  if (i->i_sb->s_op->evict_inode) i->i_sb->s_op->evict_inode(i);
  destroy_inode(i);
}
}  // namespace

void iput(inode* i) {
  if (!i) return;
  super_block* sb = i->i_sb;
  bool do_evict = false;
  {
    SpinGuard g(&sb->s_inode_list_lock);
    if (!atomic_dec_and_test(&i->i_count)) return;
    if (i->i_nlink.load(std::memory_order_acquire) == 0) {
      SpinGuard gi(&i->i_lock);
      i->i_state |= I_FREEING;
      do_evict = true;
    }
  }
  if (do_evict) evict(i);
}

void fput(file* f) {
  if (atomic_sub_return(1, &f->f_count) != 0) return;
  inode* i = f->f_inode;
  if (f->f_op && f->f_op->release) f->f_op->release(i, f);
  delete f;
  iput(i);
}

void file_abandon(file* f) {
  if (atomic_sub_return(1, &f->f_count) != 0) return;
  delete f;
}

}  // namespace guplab
