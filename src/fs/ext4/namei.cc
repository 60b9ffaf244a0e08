// namei.cc - ext4: the root directory (lookup, create, unlink, iterate).
// REQUIRES for every operation: the directory's i_rwsem held (the VFS takes it).
#include <sys/stat.h>

#include <cstring>

#include "base/bug.h"
#include "base/errno.h"
#include "fs/ext4/ext4.h"
#include "fs/writeback.h"

namespace guplab {

namespace {

// Calls @fn(entry, meta block) for every slot of @dir's blocks until it returns true.
template <typename Fn>
int for_each_slot(ext4_sb_info* sbi, inode* dir, Fn&& fn) REQUIRES(sbi->s_meta_sem) {
  const uint32_t nblocks = static_cast<uint32_t>(i_size_read(dir) >> sbi->blkbits);
  for (uint32_t i = 0; i < nblocks; i++) {
    uint32_t blk = 0;
    bool is_new = false;
    if (int err = ext4_map_block(sbi, EXT4_I(dir), i, false, &blk, &is_new)) return err;
    if (!blk) continue;
    int err = 0;
    ext4_meta_block* mb = ext4_meta_get(sbi, blk, &err);
    if (!mb) return err;
    auto* de = reinterpret_cast<ext4_dir_entry*>(mb->data.data());
    for (unsigned k = 0; k < sbi->block_size / EXT4_DIRENT_SIZE; k++)
      if (fn(&de[k], mb)) return 1;
  }
  return 0;
}

bool name_is(const ext4_dir_entry* de, const char* name, size_t len) {
  return de->inode && de->name_len == len && std::memcmp(de->name, name, len) == 0;
}

inode* ext4_lookup(inode* dir, const char* name) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(dir->i_sb);
  const size_t len = std::strlen(name);
  unsigned long ino = 0;
  down_write(&sbi->s_meta_sem);
  for_each_slot(sbi, dir, [&](ext4_dir_entry* de, ext4_meta_block*) {
    if (!name_is(de, name, len)) return false;
    ino = de->inode;
    return true;
  });
  up_write(&sbi->s_meta_sem);
  if (!ino) return nullptr;
  inode* i = ext4_iget(dir->i_sb, ino);
  return IS_ERR(i) ? nullptr : i;
}

int ext4_create(inode* dir, const char* name, umode_t mode, inode** out) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(dir->i_sb);
  const size_t len = std::strlen(name);
  if (len == 0) return -ENOENT;
  if (len > EXT4_NAME_LEN) return -ENAMETOOLONG;
  if (inode* existing = ext4_lookup(dir, name)) {
    iput(existing);
    return -EEXIST;
  }
  inode* i = nullptr;
  if (int err = ext4_new_inode(dir->i_sb, static_cast<umode_t>(S_IFREG | (mode & 07777)), &i)) return err;
  down_write(&sbi->s_meta_sem);
  auto fill = [&](ext4_dir_entry* de, ext4_meta_block* mb) {
    if (de->inode) return false;
    std::memset(de, 0, sizeof(*de));
    de->inode = static_cast<uint32_t>(i->i_ino);
    de->name_len = static_cast<uint16_t>(len);
    std::memcpy(de->name, name, len);
    mb->dirty = true;
    return true;
  };
  int err = for_each_slot(sbi, dir, fill);
  if (err == 0) {  // no free slot: the directory grows by a block
    const uint32_t nblocks = static_cast<uint32_t>(i_size_read(dir) >> sbi->blkbits);
    uint32_t blk = 0;
    bool is_new = false;
    err = ext4_map_block(sbi, EXT4_I(dir), nblocks, true, &blk, &is_new);
    if (!err) {
      ext4_meta_block* mb = ext4_meta_new(sbi, blk);
      fill(reinterpret_cast<ext4_dir_entry*>(mb->data.data()), mb);
      i_size_write(dir, i_size_read(dir) + sbi->block_size);
      err = 1;
    }
  }
  up_write(&sbi->s_meta_sem);
  if (err < 0) {
    i->i_nlink.store(0);  // never linked: the last iput frees it
    iput(i);
    return err;
  }
  ext4_mark_inode_dirty(dir);
  *out = i;
  return 0;
}

int ext4_unlink(inode* dir, const char* name) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(dir->i_sb);
  const size_t len = std::strlen(name);
  unsigned long ino = 0;
  down_write(&sbi->s_meta_sem);
  for_each_slot(sbi, dir, [&](ext4_dir_entry* de, ext4_meta_block* mb) {
    if (!name_is(de, name, len)) return false;
    ino = de->inode;
    std::memset(de, 0, sizeof(*de));
    mb->dirty = true;
    return true;
  });
  up_write(&sbi->s_meta_sem);
  if (!ino) return -ENOENT;
  inode* i = ext4_iget(dir->i_sb, ino);
  if (IS_ERR(i)) return static_cast<int>(PTR_ERR(i));
  if (i->i_nlink.load()) i->i_nlink.fetch_sub(1);
  ext4_mark_inode_dirty(i);
  iput(i);  // the last reference of an unlinked file frees it (after its last close)
  return 0;
}

int ext4_iterate(inode* dir, void (*fn)(void* arg, const char* name, unsigned long ino), void* arg)
    NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(dir->i_sb);
  down_write(&sbi->s_meta_sem);
  int err = for_each_slot(sbi, dir, [&](ext4_dir_entry* de, ext4_meta_block*) {
    if (de->inode) {
      char name[EXT4_NAME_LEN + 1] = {};
      std::memcpy(name, de->name, de->name_len <= EXT4_NAME_LEN ? de->name_len : EXT4_NAME_LEN);
      fn(arg, name, de->inode);
    }
    return false;
  });
  up_write(&sbi->s_meta_sem);
  return err < 0 ? err : 0;
}

}  // namespace

const inode_operations ext4_dir_iops = {
    .lookup = ext4_lookup,
    .create = ext4_create,
    .unlink = ext4_unlink,
    .setattr = nullptr,
    .iterate = ext4_iterate,
};

const file_operations ext4_dir_fops = {};

}  // namespace guplab
