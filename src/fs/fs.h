// fs.h - the VFS objects: struct address_space (a file's page cache and the vmas that
// map it), struct inode, struct file, struct super_block, the operation tables a
// filesystem fills in, and the per-filesystem writeback state (struct bdi_writeback).
// mm/ needs address_space and its operations; everything else is for fs/.
//
// Lifetimes: a super_block lives from mount to umount (fs/super.h). An inode lives
// while it is referenced (i_count: open files, vmas through their files, fake vmas
// through theirs) or linked (i_nlink > 0) and its filesystem is mounted. A file lives
// while referenced (f_count: fd table entries, vmas). An address_space lives with its
// inode (shmem objects and test backings embed their own).
//
// Locking, outermost first (the kernel's order):
//   i_rwsem -> mmap_lock -> folio lock -> i_mmap_rwsem -> page_table_lock
//           -> i_pages.xa_lock -> s_inode_list_lock -> bdi_writeback::list_lock
//           -> inode->i_lock
// and the filesystem's own locks (fs/ext4/ext4.h) nest inside the folio lock.
//
// Threading: see each field.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <sys/types.h>

#include <cerrno>

#include "base/atomic.h"
#include "base/bitops.h"
#include "base/list.h"
#include "base/rwsem.h"
#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "base/wait.h"
#include "block/blk_types.h"
#include "mm/gfp.h"
#include "mm/mm_types.h"
#include "mm/xarray.h"

namespace guplab {

class Machine;
class block_device;
struct address_space;
struct inode;
struct file;
struct super_block;
struct vm_area_struct;
struct writeback_control;
struct task_struct;
struct file_lock_context;

using loff_t = long long;
using umode_t = unsigned short;
using fmode_t = unsigned;
inline constexpr fmode_t FMODE_READ = 1u << 0;
inline constexpr fmode_t FMODE_WRITE = 1u << 1;

/** Page-cache tags: marks on the entries of mapping->i_pages. */
inline constexpr xa_mark_t PAGECACHE_TAG_DIRTY = XA_MARK_0;
inline constexpr xa_mark_t PAGECACHE_TAG_WRITEBACK = XA_MARK_1;
inline constexpr xa_mark_t PAGECACHE_TAG_TOWRITE = XA_MARK_2;

/** Bits of address_space::flags: writeback errors not yet reported to fsync(). */
enum mapping_flags : unsigned { AS_EIO = 0, AS_ENOSPC = 1 };

struct address_space_operations {
  /** dirty_folio() - mark @f dirty and account it; returns true if it was clean. */
  bool (*dirty_folio)(address_space* mapping, folio* f) = nullptr;
  /**
   * writepage() - write one locked dirty page whose dirty bit clear_page_dirty_for_io()
   * has just cleared; the page is unlocked on return (PG_writeback set if I/O started).
   * @data: what the caller of write_cache_pages() passed (an I/O batch, or nullptr).
   */
  int (*writepage)(page* p, writeback_control* wbc, void* data) = nullptr;
  /** writepages() - write the mapping's dirty pages as @wbc says (do_writepages()). */
  int (*writepages)(address_space* mapping, writeback_control* wbc) = nullptr;
  /** read_folio() - start reading locked, !uptodate @f; the I/O completion unlocks it. */
  int (*read_folio)(file* filp, folio* f) = nullptr;
  /** release_folio() - free the fs's private data of clean @f (buffers); true if gone. */
  bool (*release_folio)(folio* f, gfp_t gfp) = nullptr;
  /** invalidate_folio() - [@offset, @offset + @len) of locked @f is being truncated away. */
  void (*invalidate_folio)(folio* f, size_t offset, size_t len) = nullptr;
  /**
   * write_begin() - prepare [@pos, @pos + @len) of one page for a buffered write:
   * return it locked and referenced in *@pagep, its blocks mapped and what the write will
   * not cover read in. Returns 0 or -errno.
   */
  int (*write_begin)(file* filp, address_space* mapping, loff_t pos, unsigned len, page** pagep) = nullptr;
  /** write_end() - @copied bytes were copied in: dirty, extend i_size, unlock, put. Returns @copied or -errno. */
  int (*write_end)(file* filp, address_space* mapping, loff_t pos, unsigned len, unsigned copied, page* p) = nullptr;
  /** bmap() - the device block holding file block @block (0: a hole); never allocates. */
  sector_t (*bmap)(address_space* mapping, sector_t block) = nullptr;
};

/**
 * struct address_space - a file's page cache (i_pages: page index -> page, with the
 * DIRTY / WRITEBACK / TOWRITE tags) and its reverse map (i_mmap: every vma mapping the
 * file, and the fake vmas of the fake_vma pin design, which are kept first).
 * Threading: i_pages by its xa_lock (lockless readers under RCU); i_mmap by
 * i_mmap_rwsem; nrpages is atomic; a page's membership changes under its lock.
 */
struct address_space {
  address_space();
  ~address_space();
  address_space(const address_space&) = delete;
  address_space& operator=(const address_space&) = delete;

  void* host = nullptr;  // the owning inode (filesystems), or the embedding object
  xarray i_pages;
  std::atomic<unsigned long> nrpages{0};
  rw_semaphore i_mmap_rwsem;
  list_head i_mmap GUARDED_BY(i_mmap_rwsem);  // vm_area_struct::shared entries
  // Faults that map the file's blocks take it shared, truncate exclusive (only fs-DAX
  // files use it here: fs/dax.h). Order: i_rwsem -> invalidate_lock -> i_mmap_rwsem;
  // a fault takes it inside mmap_lock.
  rw_semaphore invalidate_lock;
  const address_space_operations* a_ops = nullptr;
  bitword_t flags{0};     // mapping_flags
  spinlock_t private_lock;  // attaching and detaching the pages' buffer heads
};

inline void i_mmap_lock_write(address_space* m) ACQUIRE(m->i_mmap_rwsem) { down_write(&m->i_mmap_rwsem); }
inline void i_mmap_unlock_write(address_space* m) RELEASE(m->i_mmap_rwsem) { up_write(&m->i_mmap_rwsem); }
inline void i_mmap_lock_read(address_space* m) ACQUIRE_SHARED(m->i_mmap_rwsem) { down_read(&m->i_mmap_rwsem); }
inline void i_mmap_unlock_read(address_space* m) RELEASE_SHARED(m->i_mmap_rwsem) { up_read(&m->i_mmap_rwsem); }
inline void filemap_invalidate_lock(address_space* m) ACQUIRE(m->invalidate_lock) { down_write(&m->invalidate_lock); }
inline void filemap_invalidate_unlock(address_space* m) RELEASE(m->invalidate_lock) { up_write(&m->invalidate_lock); }
inline void filemap_invalidate_lock_shared(address_space* m) ACQUIRE_SHARED(m->invalidate_lock) {
  down_read(&m->invalidate_lock);
}
inline void filemap_invalidate_unlock_shared(address_space* m) RELEASE_SHARED(m->invalidate_lock) {
  up_read(&m->invalidate_lock);
}

/** mapping_set_error() - remember a writeback error for the next fsync(). */
inline void mapping_set_error(address_space* m, int err) {
  if (err) set_bit(err == -ENOSPC ? AS_ENOSPC : AS_EIO, &m->flags);
}

// ---- inodes -----------------------------------------------------------------------

/** inode->i_state bits. */
enum inode_state : unsigned long {
  I_DIRTY_SYNC = 1ul << 0,   // metadata (size, block map) changed
  I_DIRTY_PAGES = 1ul << 2,  // the page cache has dirty pages
  I_NEW = 1ul << 3,
  I_FREEING = 1ul << 5,
  I_SYNC = 1ul << 7,         // being written back
};
inline constexpr unsigned long I_DIRTY = I_DIRTY_SYNC | I_DIRTY_PAGES;

struct iattr {
  static constexpr unsigned ATTR_SIZE = 1u << 3;
  unsigned ia_valid = 0;
  loff_t ia_size = 0;
};

struct inode_operations {
  /** lookup() - the inode @name in directory @dir, with a reference; nullptr if none. */
  inode* (*lookup)(inode* dir, const char* name) = nullptr;
  /** create() - a new regular file @name in @dir; *@out gets it with a reference. */
  int (*create)(inode* dir, const char* name, umode_t mode, inode** out) = nullptr;
  /** unlink() - remove @name from @dir. */
  int (*unlink)(inode* dir, const char* name) = nullptr;
  /** setattr() - change what @attr says (ATTR_SIZE: truncate/extend). REQUIRES: i_rwsem held. */
  int (*setattr)(inode* ino, const iattr* attr) = nullptr;
  /** iterate() - call @fn for every name in @dir. */
  int (*iterate)(inode* dir, void (*fn)(void* arg, const char* name, unsigned long ino), void* arg) = nullptr;
};

struct file_operations {
  ssize_t (*read)(file* filp, char* buf, size_t count, loff_t* pos) = nullptr;
  ssize_t (*write)(file* filp, const char* buf, size_t count, loff_t* pos) = nullptr;
  /** mmap() - set @vma up for @filp (vm_ops); the caller links it into i_mmap. */
  int (*mmap)(file* filp, vm_area_struct* vma) = nullptr;
  int (*open)(inode* ino, file* filp) = nullptr;
  int (*release)(inode* ino, file* filp) = nullptr;
  /** fsync() - write [@start, @end] and what is needed to find it again; wait. */
  int (*fsync)(file* filp, loff_t start, loff_t end, int datasync) = nullptr;
};

struct inode {
  inode();
  ~inode() = default;  // filesystems derive their in-memory inode from it (s_op->destroy_inode frees it)
  inode(const inode&) = delete;
  inode& operator=(const inode&) = delete;

  umode_t i_mode = 0;
  std::atomic<unsigned> i_nlink{0};
  unsigned long i_ino = 0;
  super_block* i_sb = nullptr;
  const inode_operations* i_op = nullptr;
  const file_operations* i_fop = nullptr;
  std::atomic<loff_t> i_size_{0};  // i_size_read()/i_size_write(); written under i_rwsem
  rw_semaphore i_rwsem;
  unsigned i_flags = 0;            // S_DAX; set before the inode is visible
  atomic_t i_count;                // references (iget/iput)
  spinlock_t i_lock;
  unsigned long i_state GUARDED_BY(i_lock) = 0;
  uint64_t dirtied_when GUARDED_BY(i_lock) = 0;  // when it first became dirty (ns)
  list_head i_io_list;   // on its bdi_writeback's b_dirty list (list_lock)
  list_head i_sb_list;   // on its super_block's s_inodes (s_inode_list_lock)
  address_space i_data;
  address_space* const i_mapping = &i_data;
  std::shared_ptr<file_lock_context> i_flctx GUARDED_BY(i_lock);  // leases (fs/locks.h), made at the first
};

/** i_flags bits. S_DAX: the file's blocks are the memory mapped into user space (fs-DAX). */
inline constexpr unsigned S_DAX = 1u << 13;
/** IS_DAX() - is @i an fs-DAX file? (GUP refuses long-term pins of its mappings.) */
inline bool IS_DAX(const inode* i) { return (i->i_flags & S_DAX) != 0; }

inline loff_t i_size_read(const inode* i) { return i->i_size_.load(std::memory_order_acquire); }
/** i_size_write() - REQUIRES: i_rwsem held for write (or the inode not yet visible). */
inline void i_size_write(inode* i, loff_t size) { i->i_size_.store(size, std::memory_order_release); }
inline void inode_lock(inode* i) ACQUIRE(i->i_rwsem) { down_write(&i->i_rwsem); }
inline void inode_unlock(inode* i) RELEASE(i->i_rwsem) { up_write(&i->i_rwsem); }
inline void inode_lock_shared(inode* i) ACQUIRE_SHARED(i->i_rwsem) { down_read(&i->i_rwsem); }
inline void inode_unlock_shared(inode* i) RELEASE_SHARED(i->i_rwsem) { up_read(&i->i_rwsem); }
/** mapping_inode() - the inode of a filesystem's mapping. REQUIRES: @m belongs to an inode. */
inline inode* mapping_inode(address_space* m) { return static_cast<inode*>(m->host); }

// ---- files ------------------------------------------------------------------------

struct file {
  atomic64_t f_count;
  unsigned f_flags = 0;  // O_* flags given to open
  fmode_t f_mode = 0;
  spinlock_t f_pos_lock;
  loff_t f_pos GUARDED_BY(f_pos_lock) = 0;
  inode* f_inode = nullptr;
  address_space* f_mapping = nullptr;
  const file_operations* f_op = nullptr;
  std::string f_path;
};

/** get_file() - another reference to @f. REQUIRES: the caller holds one. */
inline file* get_file(file* f) {
  atomic_add(1, &f->f_count);
  return f;
}
/** fput() - drop a reference; the last one releases the file and its inode reference. */
void fput(file* f);
/**
 * file_abandon() - fput() for a halted machine: the last reference frees the struct
 * and leaves its inode to the mount table's crash teardown (no release, no iput).
 * REQUIRES: no task of the machine runs any more.
 */
void file_abandon(file* f);
inline inode* file_inode(const file* f) { return f->f_inode; }

// ---- superblocks and writeback state ----------------------------------------------

/**
 * struct bdi_writeback - a filesystem's writeback state: its dirty inodes (oldest
 * first) and its flusher task (fs/writeback.h).
 * Threading: b_dirty under list_lock; the rest atomics.
 */
struct bdi_writeback {
  bdi_writeback();
  spinlock_t list_lock;
  list_head b_dirty GUARDED_BY(list_lock);  // inode::i_io_list, by dirtied_when
  wait_queue_head_t wb_wait;                // the flusher sleeps here
  wait_queue_head_t sync_wait;              // an inode's I_SYNC cleared (inode_wait_for_writeback())
  std::atomic<bool> kicked{false};          // wakeup_flusher_threads() asked for a pass
  std::atomic<bool> stopping{false};
  std::atomic<task_struct*> task{nullptr};  // the flusher ("flush-<dev>")
  std::atomic<uint64_t> interval_ns{0};     // periodic passes (0: only when kicked)
  std::atomic<uint64_t> nr_started{0};      // passes the flusher started
  std::atomic<uint64_t> nr_passes{0};       // passes the flusher finished
  std::atomic<uint64_t> nr_written{0};      // pages its passes started writing
};

struct super_operations {
  inode* (*alloc_inode)(super_block* sb) = nullptr;
  void (*destroy_inode)(inode* ino) = nullptr;
  /** write_inode() - put @ino's metadata where the next commit writes it. */
  int (*write_inode)(inode* ino, writeback_control* wbc) = nullptr;
  /** evict_inode() - the last reference to an unlinked inode is gone: free its blocks. */
  void (*evict_inode)(inode* ino) = nullptr;
  /** sync_fs() - make every metadata change durable (@wait: and wait for it). */
  int (*sync_fs)(super_block* sb, int wait) = nullptr;
  void (*put_super)(super_block* sb) = nullptr;
};

struct file_system_type {
  const char* name = "";
  /** fill_super() - read the filesystem on sb->s_bdev, set s_op, s_root, s_fs_info. */
  int (*fill_super)(super_block* sb, const char* data) = nullptr;
};

struct super_block {
  super_block();
  ~super_block();
  super_block(const super_block&) = delete;
  super_block& operator=(const super_block&) = delete;

  Machine* s_machine = nullptr;
  block_device* s_bdev = nullptr;
  std::string s_id;          // the device's name
  std::string s_mountpoint;  // "/mnt"
  unsigned long s_blocksize = 0;
  unsigned char s_blocksize_bits = 0;
  const super_operations* s_op = nullptr;
  const file_system_type* s_type = nullptr;
  void* s_fs_info = nullptr;
  inode* s_root = nullptr;
  spinlock_t s_inode_list_lock;
  list_head s_inodes GUARDED_BY(s_inode_list_lock);  // every in-memory inode
  std::unordered_map<unsigned long, inode*> s_inode_hash GUARDED_BY(s_inode_list_lock);  // by i_ino
  bdi_writeback s_wb;
  std::atomic<bool> s_dying{false};  // umount in progress: no new opens
  std::atomic<int> s_active{0};      // MountTable references (grab_path(), supers())
};

/** new_inode() - a fresh in-memory inode of @sb (I_NEW, i_count 1), on s_inodes. */
inode* new_inode(super_block* sb);
/** ihold() - another reference. REQUIRES: the caller holds one. */
inline void ihold(inode* i) { atomic_inc(&i->i_count); }
/**
 * iput() - drop a reference. The last one of an unlinked inode evicts it: its page cache
 * is truncated (pinned pages leave the cache and live on until unpinned), its blocks
 * freed (s_op->evict_inode) and the inode destroyed.
 */
void iput(inode* i);
/**
 * ilookup() - the in-memory inode @ino of @sb with a reference, or nullptr (none, or
 * being evicted).
 */
inode* ilookup(super_block* sb, unsigned long ino);
/**
 * bmap() - FIBMAP: replace *@block, a block number of file @i (in units of its
 * filesystem's block size), by the device block that holds it (0: a hole).
 * Returns 0, or -EINVAL if the filesystem cannot tell.
 */
int bmap(inode* i, sector_t* block);
/** insert_inode_hash() - make @i findable by ilookup() and clear I_NEW. */
void insert_inode_hash(inode* i);
/**
 * destroy_inode() - take @i off its superblock's lists and free it (eviction, umount).
 * REQUIRES: no references; its page cache empty.
 */
void destroy_inode(inode* i);

}  // namespace guplab
