// balloc.cc - ext4: the block bitmap, and mapping file blocks (direct, indirect,
// double indirect), allocating and freeing them.
#include "base/bug.h"
#include "base/errno.h"
#include "fs/ext4/ext4.h"

namespace guplab {

namespace {

// The bitmap byte holding @block's bit. REQUIRES: s_meta_sem.
uint8_t* bitmap_byte(ext4_sb_info* sbi, uint32_t block, ext4_meta_block** mbp) REQUIRES(sbi->s_meta_sem) {
  const uint32_t bits_per_block = sbi->block_size * 8;
  int err = 0;
  ext4_meta_block* mb = ext4_meta_get(sbi, sbi->s_es.s_bitmap_start + block / bits_per_block, &err);
  BUG_ON_MSG(!mb, "ext4: bitmap blocks are loaded at mount");
  *mbp = mb;
  return &mb->data[(block % bits_per_block) / 8];
}

inline uint32_t* entries(ext4_meta_block* mb) { return reinterpret_cast<uint32_t*>(mb->data.data()); }

// An index block for a new branch: zeroed, dirty, counted.
int new_index_block(ext4_sb_info* sbi, ext4_inode_info* ei, uint32_t* out) REQUIRES(sbi->s_meta_sem) {
  if (int err = ext4_new_block(sbi, out)) return err;
  ext4_meta_new(sbi, *out);
  ei->i_blocks++;
  return 0;
}

// Follow (and with @create, fill) slot @slot of index block @blk.
int walk_index(ext4_sb_info* sbi, ext4_inode_info* ei, uint32_t blk, uint32_t slot, bool create, bool leaf,
               uint32_t* out, bool* is_new) REQUIRES(sbi->s_meta_sem) {
  int err = 0;
  ext4_meta_block* mb = ext4_meta_get(sbi, blk, &err);
  if (!mb) return err;
  uint32_t v = entries(mb)[slot];
  if (!v && create) {
    if (leaf) {
      if ((err = ext4_new_block(sbi, &v))) return err;
      ei->i_blocks++;
      *is_new = true;
    } else if ((err = new_index_block(sbi, ei, &v))) {
      return err;
    }
    mb = ext4_meta_get(sbi, blk, &err);  // (the cache may have grown: look again)
    entries(mb)[slot] = v;
    mb->dirty = true;
  }
  *out = v;
  return 0;
}

// Free what index block @blk (at @level: 1 points at data) maps for file blocks at or
// past @first; @base is the file block of its first slot. Returns true if it is empty.
bool free_branch(ext4_sb_info* sbi, ext4_inode_info* ei, uint32_t blk, unsigned level, uint64_t base, uint64_t first)
    REQUIRES(sbi->s_meta_sem) {
  int err = 0;
  ext4_meta_block* mb = ext4_meta_get(sbi, blk, &err);
  if (!mb) return false;  // unreadable: leak rather than guess
  const uint32_t per = sbi->block_size / 4;
  uint64_t span = 1;
  for (unsigned l = 1; l < level; l++) span *= per;
  bool empty = true;
  for (uint32_t k = 0; k < per; k++) {
    mb = ext4_meta_get(sbi, blk, &err);
    const uint32_t e = entries(mb)[k];
    if (!e) continue;
    const uint64_t lo = base + k * span;
    bool drop;
    if (level == 1) drop = lo >= first;
    else drop = lo + span > first && free_branch(sbi, ei, e, level - 1, lo, first);
    if (level > 1 && lo + span <= first) drop = false;
    if (drop) {
      if (level > 1) ext4_meta_forget(sbi, e);
      ext4_free_block(sbi, e);
      ei->i_blocks--;
      mb = ext4_meta_get(sbi, blk, &err);
      entries(mb)[k] = 0;
      mb->dirty = true;
    } else {
      empty = false;
    }
  }
  return empty;
}

}  // namespace

int ext4_new_block(ext4_sb_info* sbi, uint32_t* out) {
  ext4_super_block& es = sbi->s_es;
  if (!es.s_free_blocks) return -ENOSPC;
  const uint32_t n = es.s_blocks_count - es.s_first_data_block;
  uint32_t b = sbi->alloc_goal;
  for (uint32_t tries = 0; tries < n; tries++, b++) {
    if (b >= es.s_blocks_count || b < es.s_first_data_block) b = es.s_first_data_block;
    ext4_meta_block* mb;
    uint8_t* byte = bitmap_byte(sbi, b, &mb);
    const uint8_t bit = static_cast<uint8_t>(1u << (b % 8));
    if (*byte & bit) continue;
    *byte |= bit;
    mb->dirty = true;
    es.s_free_blocks--;
    sbi->sb_dirty = true;
    sbi->alloc_goal = b + 1;
    *out = b;
    return 0;
  }
  return -ENOSPC;
}

void ext4_free_block(ext4_sb_info* sbi, uint32_t block) {
  ext4_super_block& es = sbi->s_es;
  if (WARN_ON_ONCE(block < es.s_first_data_block || block >= es.s_blocks_count)) return;
  ext4_meta_block* mb;
  uint8_t* byte = bitmap_byte(sbi, block, &mb);
  const uint8_t bit = static_cast<uint8_t>(1u << (block % 8));
  if (WARN_ON_ONCE(!(*byte & bit))) return;  // freeing a free block
  *byte &= static_cast<uint8_t>(~bit);
  mb->dirty = true;
  es.s_free_blocks++;
  sbi->sb_dirty = true;
}

int ext4_map_block(ext4_sb_info* sbi, ext4_inode_info* ei, uint32_t iblock, bool create, uint32_t* out,
                   bool* is_new) {
  *out = 0;
  *is_new = false;
  const uint32_t per = sbi->block_size / 4;
  int err = 0;
  if (iblock < EXT4_NDIR_BLOCKS) {
    uint32_t& slot = ei->i_data[iblock];
    if (!slot && create) {
      if ((err = ext4_new_block(sbi, &slot))) return err;
      ei->i_blocks++;
      *is_new = true;
      ei->i_meta_dirty.store(true);
    }
    *out = slot;
    return 0;
  }
  uint64_t rel = iblock - EXT4_NDIR_BLOCKS;
  if (rel < per) {
    uint32_t& ind = ei->i_data[EXT4_IND_BLOCK];
    if (!ind) {
      if (!create) return 0;
      if ((err = new_index_block(sbi, ei, &ind))) return err;
      ei->i_meta_dirty.store(true);
    }
    return walk_index(sbi, ei, ind, static_cast<uint32_t>(rel), create, true, out, is_new);
  }
  rel -= per;
  if (rel >= static_cast<uint64_t>(per) * per) return -EFBIG;
  uint32_t& dind = ei->i_data[EXT4_DIND_BLOCK];
  if (!dind) {
    if (!create) return 0;
    if ((err = new_index_block(sbi, ei, &dind))) return err;
    ei->i_meta_dirty.store(true);
  }
  uint32_t ind = 0;
  bool dummy = false;
  if ((err = walk_index(sbi, ei, dind, static_cast<uint32_t>(rel / per), create, false, &ind, &dummy))) return err;
  if (!ind) return 0;
  return walk_index(sbi, ei, ind, static_cast<uint32_t>(rel % per), create, true, out, is_new);
}

void ext4_truncate_blocks(ext4_sb_info* sbi, ext4_inode_info* ei, loff_t size) {
  const uint64_t first = (static_cast<uint64_t>(size) + sbi->block_size - 1) >> sbi->blkbits;
  const uint32_t per = sbi->block_size / 4;
  for (unsigned i = 0; i < EXT4_NDIR_BLOCKS; i++) {
    if (i >= first && ei->i_data[i]) {
      ext4_free_block(sbi, ei->i_data[i]);
      ei->i_data[i] = 0;
      ei->i_blocks--;
    }
  }
  struct {
    unsigned slot;
    unsigned level;
    uint64_t base;
  } branches[] = {{EXT4_IND_BLOCK, 1, EXT4_NDIR_BLOCKS}, {EXT4_DIND_BLOCK, 2, EXT4_NDIR_BLOCKS + uint64_t{per}}};
  for (const auto& br : branches) {
    uint32_t& root = ei->i_data[br.slot];
    if (root && free_branch(sbi, ei, root, br.level, br.base, first)) {
      ext4_meta_forget(sbi, root);
      ext4_free_block(sbi, root);
      root = 0;
      ei->i_blocks--;
    }
  }
  ei->i_meta_dirty.store(true);
}

}  // namespace guplab
