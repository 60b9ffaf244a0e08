// ext4.h - "ext4", the lab's small ext4-like filesystem: what seed 002's crash needs
// (buffer heads on page-cache pages, ext4_writepage() asserting them), on a guplab
// block device, with an on-disk format of its own (ext2-like, no journal).
//
// On disk (block size 1 KiB, 2 KiB or 4 KiB; little-endian):
//   block 0             superblock (struct ext4_super_block)
//   blocks 1..          block bitmap (1 bit per block)
//   then                inode table (128-byte struct ext4_inode, inode numbers from 1;
//                       2 is the root directory, a mode of 0 is a free inode)
//   then                data: file blocks, indirect blocks, directory blocks
// A file maps blocks ext2-style: 12 direct, one indirect, one double indirect block
// (4 KiB blocks: files up to 4 GiB). The root directory is the only directory; its
// blocks hold 64-byte entries (inode number, name up to 55 bytes).
//
// Mounted with -o dax (fs/ext4/dax.cc) on a DAX-capable device (block/pmem.h) with 4 KiB
// blocks, regular files are S_DAX: no page cache, their blocks are mapped directly.
//
// In memory: file data lives in the page cache with buffer heads (fs/buffer_head.h);
// blocks are allocated when a buffered write or a page_mkwrite() first dirties them (no
// delayed allocation). Metadata (superblock, bitmap, inode table, indirect and directory
// blocks) lives in a cache of its own, outside the machine's RAM, and reaches the disk
// only at a commit: fsync(), sync(), umount. A commit first writes and waits for the
// data of every file that got new blocks since the last commit ("ordered" mode: a
// crash never exposes a block the metadata points at but nobody wrote), then the
// metadata, then flushes the device. So what a new machine mounting the same device
// contents sees is exactly the last commit. A new block whose page that data write
// left dirty (a pinned page under the skip or keep_dirty policy) is zeroed on the disk
// before the commit points at it: it reads back as the hole it was until its page is
// written, never as what an earlier owner of the block left there.
//
// Locking: s_meta_sem (an rw_semaphore held for write) guards all metadata and every
// inode's block map; it nests inside the folio lock and i_rwsem, and is held across
// metadata I/O. Directory operations hold the root's i_rwsem.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/rwsem.h"
#include "base/spinlock.h"
#include "block/blk_types.h"
#include "fs/fs.h"
#include "mm/vma.h"

namespace guplab {

struct buffer_head;

class Machine;
class block_device;

inline constexpr uint32_t EXT4_LAB_MAGIC = 0x4c414234;  // "4BAL"
inline constexpr unsigned long EXT4_ROOT_INO = 2;
inline constexpr unsigned EXT4_NDIR_BLOCKS = 12;
inline constexpr unsigned EXT4_IND_BLOCK = 12;
inline constexpr unsigned EXT4_DIND_BLOCK = 13;
inline constexpr unsigned EXT4_N_BLOCKS = 15;
inline constexpr unsigned EXT4_INODE_SIZE = 128;
inline constexpr unsigned EXT4_DIRENT_SIZE = 64;
inline constexpr unsigned EXT4_NAME_LEN = 55;

struct ext4_super_block {
  uint32_t s_magic;
  uint32_t s_log_block_size;  // block size = 1024 << s_log_block_size
  uint32_t s_blocks_count;
  uint32_t s_inodes_count;
  uint32_t s_bitmap_start;
  uint32_t s_bitmap_blocks;
  uint32_t s_itable_start;
  uint32_t s_itable_blocks;
  uint32_t s_first_data_block;
  uint32_t s_free_blocks;
  uint32_t s_free_inodes;
  uint32_t s_root_ino;
  uint64_t s_commits;  // commits ever made (each one bumps it)
  uint32_t s_pad[18];
};
static_assert(sizeof(ext4_super_block) == 128);

struct ext4_inode {
  uint16_t i_mode;
  uint16_t i_links_count;
  uint32_t i_blocks;  // blocks held (data and index)
  uint64_t i_size;
  uint32_t i_block[EXT4_N_BLOCKS];
  uint32_t i_pad[13];
};
static_assert(sizeof(ext4_inode) == EXT4_INODE_SIZE);

struct ext4_dir_entry {
  uint32_t inode;
  uint16_t name_len;
  uint16_t pad;
  char name[EXT4_NAME_LEN + 1];
};
static_assert(sizeof(ext4_dir_entry) == EXT4_DIRENT_SIZE);

/** mkfs options. */
struct ext4_mkfs_options {
  unsigned block_size = 4096;  // 1024, 2048 or 4096
  uint32_t inodes = 0;         // 0: one per 8 blocks, at least 64
};

/**
 * ext4_mkfs() - write an empty filesystem (a root directory) on the device @dev_spec
 * of machine @m. Returns 0, -ENODEV, -EINVAL (bad options, device too small) or -EIO.
 * REQUIRES: a task of @m; the device not mounted.
 */
int ext4_mkfs(Machine* m, std::string_view dev_spec, const ext4_mkfs_options& opt = {});

/** ext4_fs_type - "ext4" for MountTable::mount(). */
extern const file_system_type ext4_fs_type;

/** ext4_commits() - commits made on the filesystem of @sb since mkfs (tests). */
uint64_t ext4_commits(super_block* sb);
/** ext4_free_blocks_count() - free blocks of the filesystem of @sb (tests). */
uint32_t ext4_free_blocks_count(super_block* sb);

// ---- internals shared by fs/ext4/*.cc ---------------------------------------------------

/** A cached metadata block. */
struct ext4_meta_block {
  std::vector<uint8_t> data;
  bool dirty = false;
};

struct ext4_inode_info;

struct ext4_sb_info {
  super_block* sb = nullptr;
  unsigned block_size = 0;
  unsigned blkbits = 0;
  rw_semaphore s_meta_sem;
  ext4_super_block s_es GUARDED_BY(s_meta_sem) = {};
  std::unordered_map<uint32_t, ext4_meta_block> meta GUARDED_BY(s_meta_sem);
  uint32_t alloc_goal GUARDED_BY(s_meta_sem) = 0;
  bool sb_dirty GUARDED_BY(s_meta_sem) = false;
  spinlock_t ordered_lock;
  std::vector<unsigned long> ordered GUARDED_BY(ordered_lock);  // inodes with uncommitted new blocks
  std::atomic<uint64_t> commits{0};
  bool s_dax = false;  // mounted with -o dax: regular files are S_DAX (fs/ext4/dax.cc); set at mount
};

struct ext4_inode_info : inode {
  uint32_t i_data[EXT4_N_BLOCKS] = {};  // under the filesystem's s_meta_sem
  uint32_t i_blocks = 0;                // likewise
  std::vector<uint32_t> i_new_blocks;   // likewise: data blocks allocated since the last commit
  std::atomic<bool> i_meta_dirty{false};  // the table copy is stale
  std::atomic<bool> i_ordered{false};     // on the ordered list
};

inline ext4_sb_info* EXT4_SB(const super_block* sb) { return static_cast<ext4_sb_info*>(sb->s_fs_info); }
inline ext4_inode_info* EXT4_I(inode* i) { return static_cast<ext4_inode_info*>(i); }

// super.cc: metadata blocks and commits
ext4_meta_block* ext4_meta_get(ext4_sb_info* sbi, uint32_t block, int* err) REQUIRES(sbi->s_meta_sem);
ext4_meta_block* ext4_meta_new(ext4_sb_info* sbi, uint32_t block) REQUIRES(sbi->s_meta_sem);
void ext4_meta_forget(ext4_sb_info* sbi, uint32_t block) REQUIRES(sbi->s_meta_sem);
int ext4_commit(super_block* sb);
int ext4_sync_fs(super_block* sb, int wait);
void ext4_put_super(super_block* sb);
/** ext4_dev_rw() - one synchronous metadata request of @len bytes at @byte_off (both
 * sector multiples; @len at most EXT4_DEV_RW_MAX), through bounce pages. 0 or -errno. */
inline constexpr unsigned EXT4_DEV_RW_MAX = 64 * 1024;
int ext4_dev_rw(block_device* bdev, uint64_t byte_off, void* buf, unsigned len, bool write);
// balloc.cc: blocks and block maps
int ext4_new_block(ext4_sb_info* sbi, uint32_t* out) REQUIRES(sbi->s_meta_sem);
void ext4_free_block(ext4_sb_info* sbi, uint32_t block) REQUIRES(sbi->s_meta_sem);
/** ext4_map_block() - the disk block of file block @iblock (0: a hole), allocating it
 * (and index blocks) with @create; *@is_new if it was just allocated. 0, -ENOSPC, -EFBIG. */
int ext4_map_block(ext4_sb_info* sbi, ext4_inode_info* ei, uint32_t iblock, bool create, uint32_t* out,
                   bool* is_new) REQUIRES(sbi->s_meta_sem);
/** ext4_truncate_blocks() - free every block (and index block) past @size. */
void ext4_truncate_blocks(ext4_sb_info* sbi, ext4_inode_info* ei, loff_t size) REQUIRES(sbi->s_meta_sem);
// inode.cc: inodes
inode* ext4_iget(super_block* sb, unsigned long ino);
int ext4_new_inode(super_block* sb, umode_t mode, inode** out);
void ext4_mark_inode_dirty(inode* ino);
int ext4_write_inode_locked(ext4_sb_info* sbi, ext4_inode_info* ei) REQUIRES(sbi->s_meta_sem);
int ext4_get_block(inode* ino, sector_t iblock, struct buffer_head* bh, bool create);
vm_fault_t ext4_page_mkwrite(vm_fault* vmf);
extern const super_operations ext4_sops;
extern const address_space_operations ext4_aops;
extern const inode_operations ext4_file_iops;
extern const file_operations ext4_file_fops;
// dax.cc: fs-DAX files (mount option dax; block size PAGE_SIZE on a DAX-capable device)
extern const file_operations ext4_dax_file_fops;
extern const address_space_operations ext4_dax_aops;
/** ext4_dax_setsize() - truncate/extend a DAX file: break layouts, zero, free. REQUIRES: i_rwsem. */
int ext4_dax_setsize(inode* ino, loff_t new_size);
/** ext4_dax_evict() - an unlinked DAX file's last reference: wait for its pages to go idle, unbind them. */
void ext4_dax_evict(inode* ino);
// namei.cc: the root directory
extern const inode_operations ext4_dir_iops;
extern const file_operations ext4_dir_fops;

}  // namespace guplab
