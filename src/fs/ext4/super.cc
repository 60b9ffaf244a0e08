// super.cc - ext4: device I/O for metadata, the metadata cache, mkfs, mount, commit.
#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/bug.h"
#include "base/errno.h"
#include "block/bio.h"
#include "block/blkdev.h"
#include "block/genhd.h"
#include "block/pmem.h"
#include "fs/buffer_head.h"
#include "fs/ext4/ext4.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/filemap.h"
#include "mm/internal.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/swap.h"

namespace guplab {

// ---- device I/O of metadata -----------------------------------------------------------

int ext4_dev_rw(block_device* bdev, uint64_t byte_off, void* buf, unsigned len, bool write) {
  BUG_ON(len == 0 || len > EXT4_DEV_RW_MAX || (byte_off & (SECTOR_SIZE - 1)) || (len & (SECTOR_SIZE - 1)));
  const unsigned nr = (len + PAGE_SIZE - 1) / PAGE_SIZE;
  page* pages[EXT4_DEV_RW_MAX / PAGE_SIZE];
  for (unsigned i = 0; i < nr; i++) {
    pages[i] = alloc_pages_on(bdev->machine(), gfp_t::GFP_KERNEL, 0);
    if (!pages[i]) {
      while (i) put_page(pages[--i]);
      return -ENOMEM;
    }
  }
  auto part = [&](unsigned i) { return std::min<unsigned>(PAGE_SIZE, len - i * PAGE_SIZE); };
  char* bytes = static_cast<char*>(buf);
  if (write)
    for (unsigned i = 0; i < nr; i++) std::memcpy(page_address(pages[i]), bytes + i * PAGE_SIZE, part(i));
  bio* b = bio_alloc(bdev, static_cast<unsigned short>(nr), (write ? REQ_OP_WRITE : REQ_OP_READ) | REQ_META | REQ_SYNC);
  b->bi_iter.bi_sector = byte_off >> SECTOR_SHIFT;
  for (unsigned i = 0; i < nr; i++) {
    get_page(pages[i]);  // the bio's reference
    bio_add_page(b, pages[i], part(i), 0, false);
  }
  int err = submit_bio_wait(b);
  bio_release_pages(b, false);
  bio_put(b);
  for (unsigned i = 0; i < nr; i++) {
    if (!err && !write) std::memcpy(bytes + i * PAGE_SIZE, page_address(pages[i]), part(i));
    put_page(pages[i]);
  }
  return err;
}

namespace {

int dev_flush(block_device* bdev) {
  bio* b = bio_alloc(bdev, 0, REQ_OP_FLUSH | REQ_SYNC);
  int err = submit_bio_wait(b);
  bio_put(b);
  return err;
}

inline uint64_t block_off(const ext4_sb_info* sbi, uint32_t block) { return static_cast<uint64_t>(block) << sbi->blkbits; }

// The superblock occupies the first sector.
int sb_rw(block_device* bdev, ext4_super_block* es, bool write) {
  char sector[SECTOR_SIZE] = {};
  if (write) std::memcpy(sector, es, sizeof(*es));
  int err = ext4_dev_rw(bdev, 0, sector, SECTOR_SIZE, write);
  if (!err && !write) std::memcpy(es, sector, sizeof(*es));
  return err;
}

}  // namespace

// ---- the metadata cache ---------------------------------------------------------------

ext4_meta_block* ext4_meta_get(ext4_sb_info* sbi, uint32_t block, int* err) {
  *err = 0;
  auto it = sbi->meta.find(block);
  if (it != sbi->meta.end()) return &it->second;
  ext4_meta_block mb;
  mb.data.resize(sbi->block_size);
  *err = ext4_dev_rw(sbi->sb->s_bdev, block_off(sbi, block), mb.data.data(), sbi->block_size, false);
  if (*err) return nullptr;
  return &sbi->meta.emplace(block, std::move(mb)).first->second;
}

ext4_meta_block* ext4_meta_new(ext4_sb_info* sbi, uint32_t block) {
  ext4_meta_block& mb = sbi->meta[block];
  mb.data.assign(sbi->block_size, 0);
  mb.dirty = true;
  return &mb;
}

void ext4_meta_forget(ext4_sb_info* sbi, uint32_t block) { sbi->meta.erase(block); }

// ---- commit ---------------------------------------------------------------------------

namespace {

// After the ordered data of @i was written and waited for: a page still dirty (left so
// by the writeback policy: pinned) whose buffer maps one of @fresh, the blocks allocated
// since the last commit, has never had its data written there. Zero such a block on the
// disk before the commit points at it. The page lock keeps writeback from starting on
// the page meanwhile (a zeroing racing the page's own write could land after it).
int zero_unwritten_new_blocks(ext4_sb_info* sbi, inode* i, const std::vector<uint32_t>& fresh) {
  if (fresh.empty()) return 0;
  address_space* mapping = i->i_mapping;
  std::vector<uint8_t> zeroes(sbi->block_size, 0);
  int ret = 0;
  pgoff_t index = 0;
  folio_batch fb;
  while (filemap_get_folios_tag(mapping, &index, ~0ul, PAGECACHE_TAG_DIRTY, &fb)) {
    for (unsigned k = 0; k < fb.nr; k++) {
      folio* f = fb.folios[k];
      folio_lock(f);
      if (folio_mapping_read(f) == mapping && PageDirty(f) && !PageWriteback(f) && PagePrivate(f)) {
        buffer_head* head = reinterpret_cast<buffer_head*>(f->private_);
        buffer_head* bh = head;
        do {
          if (buffer_mapped(bh) && buffer_unwritten(bh) &&
              std::find(fresh.begin(), fresh.end(), static_cast<uint32_t>(bh->b_blocknr)) != fresh.end()) {
            int err = ext4_dev_rw(sbi->sb->s_bdev, block_off(sbi, static_cast<uint32_t>(bh->b_blocknr)),
                                  zeroes.data(), sbi->block_size, true);
            if (err && !ret) ret = err;
            Machine* m = sbi->sb->s_machine;
            if (m->tracing())
              m->trace(fmt::format("ext4: commit: ino {} index {} left dirty (pinned?): new block {} zeroed",
                                   i->i_ino, f->index, bh->b_blocknr));
          }
          bh = bh->b_this_page;
        } while (bh != head);
      }
      folio_unlock(f);
    }
    folio_batch_release(&fb);
  }
  return ret;
}

}  // namespace

int ext4_commit(super_block* sb) {
  ext4_sb_info* sbi = EXT4_SB(sb);
  // 1. Ordered data: what new blocks will point at is written first.
  std::vector<unsigned long> ordered;
  {
    SpinGuard g(&sbi->ordered_lock);
    ordered.swap(sbi->ordered);
  }
  int ret = 0;
  for (unsigned long ino : ordered) {
    inode* i = ilookup(sb, ino);
    if (!i) continue;  // evicted: its blocks went with it
    EXT4_I(i)->i_ordered.store(false);
    std::vector<uint32_t> fresh;
    down_write(&sbi->s_meta_sem);
    fresh.swap(EXT4_I(i)->i_new_blocks);
    up_write(&sbi->s_meta_sem);
    int err = filemap_write_and_wait_range(i->i_mapping, 0, LLONG_MAX);
    if (err && !ret) ret = err;
    err = zero_unwritten_new_blocks(sbi, i, fresh);
    if (err && !ret) ret = err;
    iput(i);
  }
  // 2. Inodes into the table.
  std::vector<inode*> dirty;
  {
    SpinGuard g(&sb->s_inode_list_lock);
    for (list_head* e = sb->s_inodes.next; e != &sb->s_inodes; e = e->next) {
      inode* i = list_entry(e, inode, i_sb_list);
      if (!EXT4_I(i)->i_meta_dirty.load()) continue;
      SpinGuard gi(&i->i_lock);
      if (i->i_state & (I_FREEING | I_NEW)) continue;
      atomic_inc(&i->i_count);
      dirty.push_back(i);
    }
  }
  down_write(&sbi->s_meta_sem);
  for (inode* i : dirty) {
    int err = ext4_write_inode_locked(sbi, EXT4_I(i));
    if (err && !ret) ret = err;
  }
  // 3. Every dirty metadata block, the superblock last, then a flush.
  sbi->s_es.s_commits++;
  std::vector<uint32_t> blocks;
  for (auto& [b, mb] : sbi->meta)
    if (mb.dirty) blocks.push_back(b);
  std::sort(blocks.begin(), blocks.end());
  for (uint32_t b : blocks) {
    ext4_meta_block& mb = sbi->meta[b];
    int err = ext4_dev_rw(sb->s_bdev, block_off(sbi, b), mb.data.data(), sbi->block_size, true);
    if (err) {
      if (!ret) ret = err;
      continue;
    }
    mb.dirty = false;
  }
  ext4_super_block es = sbi->s_es;
  int err = sb_rw(sb->s_bdev, &es, true);
  if (err && !ret) ret = err;
  up_write(&sbi->s_meta_sem);
  for (inode* i : dirty) iput(i);
  err = dev_flush(sb->s_bdev);
  if (err && !ret) ret = err;
  sbi->commits.fetch_add(1, std::memory_order_relaxed);
  Machine* m = sb->s_machine;
  if (m->tracing()) m->trace(fmt::format("ext4: commit on {}: {} metadata blocks{}", sb->s_id, blocks.size(), ret ? " (error)" : ""));
  return ret;
}

uint64_t ext4_commits(super_block* sb) { return EXT4_SB(sb)->commits.load(std::memory_order_relaxed); }

uint32_t ext4_free_blocks_count(super_block* sb) NO_THREAD_SAFETY_ANALYSIS {
  ext4_sb_info* sbi = EXT4_SB(sb);
  down_read(&sbi->s_meta_sem);
  uint32_t n = sbi->s_es.s_free_blocks;
  up_read(&sbi->s_meta_sem);
  return n;
}

// ---- mkfs -------------------------------------------------------------------------------

int ext4_mkfs(Machine* m, std::string_view dev_spec, const ext4_mkfs_options& opt) {
  if (opt.block_size != 1024 && opt.block_size != 2048 && opt.block_size != 4096) return -EINVAL;
  std::string err;
  block_device* bdev = blkdev_get_by_path(m, dev_spec, &err);
  if (IS_ERR(bdev)) return -ENODEV;
  int ret = 0;
  const unsigned bs = opt.block_size;
  const uint64_t bytes = bdev_nr_sectors(bdev) << SECTOR_SHIFT;
  const uint32_t blocks = static_cast<uint32_t>(std::min<uint64_t>(bytes / bs, 0xffffffffu));
  uint32_t inodes = opt.inodes ? opt.inodes : std::max<uint32_t>(64, blocks / 8);
  ext4_super_block es = {};
  es.s_magic = EXT4_LAB_MAGIC;
  es.s_log_block_size = bs == 1024 ? 0 : bs == 2048 ? 1 : 2;
  es.s_blocks_count = blocks;
  es.s_inodes_count = inodes;
  es.s_bitmap_start = 1;
  es.s_bitmap_blocks = (blocks + bs * 8 - 1) / (bs * 8);
  es.s_itable_start = es.s_bitmap_start + es.s_bitmap_blocks;
  es.s_itable_blocks = (inodes * EXT4_INODE_SIZE + bs - 1) / bs;
  es.s_first_data_block = es.s_itable_start + es.s_itable_blocks;
  es.s_root_ino = EXT4_ROOT_INO;
  if (bdev_logical_block_size(bdev) > bs || es.s_first_data_block + 16 > blocks) {
    blkdev_put(bdev);
    return -EINVAL;
  }
  es.s_free_blocks = blocks - es.s_first_data_block;
  es.s_free_inodes = inodes - 2;  // 1 is reserved, 2 is the root
  // The metadata area (superblock, bitmap, inode table), built whole and written in as
  // few requests as ext4_dev_rw() takes, the one with the superblock last: a mkfs cut
  // short leaves no valid superblock.
  const uint64_t area = static_cast<uint64_t>(es.s_first_data_block) * bs;
  std::vector<uint8_t> img(area, 0);
  std::memcpy(img.data(), &es, sizeof(es));
  // Bitmap: the metadata blocks are in use, and the bits past the device.
  uint8_t* bitmap = img.data() + static_cast<uint64_t>(es.s_bitmap_start) * bs;
  const uint64_t bitmap_bits = static_cast<uint64_t>(es.s_bitmap_blocks) * bs * 8;
  auto set_bits = [&](uint64_t lo, uint64_t hi) {
    for (uint64_t bit = lo; bit < hi;) {
      if (bit % 8 == 0 && hi - bit >= 8) {
        const uint64_t bytes_n = (hi - bit) / 8;
        std::fill_n(bitmap + bit / 8, bytes_n, 0xff);
        bit += bytes_n * 8;
      } else {
        bitmap[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
        bit++;
      }
    }
  };
  set_bits(0, es.s_first_data_block);
  set_bits(blocks, bitmap_bits);
  // Inode table: empty but for the root directory.
  auto* itable = reinterpret_cast<ext4_inode*>(img.data() + static_cast<uint64_t>(es.s_itable_start) * bs);
  itable[EXT4_ROOT_INO - 1].i_mode = S_IFDIR | 0755;
  itable[EXT4_ROOT_INO - 1].i_links_count = 2;
  itable[0].i_mode = S_IFREG;  // inode 1: reserved, never handed out
  const uint64_t pieces = (area + EXT4_DEV_RW_MAX - 1) / EXT4_DEV_RW_MAX;
  for (uint64_t i = pieces; i-- > 0 && !ret;) {
    const uint64_t off = i * EXT4_DEV_RW_MAX;
    ret = ext4_dev_rw(bdev, off, img.data() + off, static_cast<unsigned>(std::min<uint64_t>(EXT4_DEV_RW_MAX, area - off)),
                      true);
  }
  if (!ret) ret = dev_flush(bdev);
  blkdev_put(bdev);
  return ret;
}

// ---- mount ------------------------------------------------------------------------------

namespace {

int ext4_fill_super(super_block* sb, const char* data) NO_THREAD_SAFETY_ANALYSIS /* sbi not yet shared */ {
  // Options: dax (or dax=always), dax=never.
  bool dax = false;
  for (std::string_view rest = data ? data : ""; !rest.empty();) {
    const size_t c = rest.find(',');
    const std::string_view opt = rest.substr(0, c);
    rest = c == std::string_view::npos ? std::string_view{} : rest.substr(c + 1);
    if (opt == "dax" || opt == "dax=always")
      dax = true;
    else if (opt == "dax=never")
      dax = false;
    else
      return -EINVAL;
  }
  ext4_super_block es = {};
  if (int err = sb_rw(sb->s_bdev, &es, false)) return err;
  if (es.s_magic != EXT4_LAB_MAGIC || es.s_log_block_size > 2) return -EINVAL;
  auto* sbi = new ext4_sb_info;
  sbi->sb = sb;
  sbi->block_size = 1024u << es.s_log_block_size;
  sbi->blkbits = 10 + es.s_log_block_size;
  init_rwsem(&sbi->s_meta_sem, "ext4->s_meta_sem");
  spin_lock_init(&sbi->ordered_lock, "ext4->ordered_lock");
  sbi->s_es = es;
  sbi->alloc_goal = es.s_first_data_block;
  sb->s_fs_info = sbi;
  sb->s_blocksize = sbi->block_size;
  sb->s_blocksize_bits = static_cast<unsigned char>(sbi->blkbits);
  sb->s_op = &ext4_sops;
  // fs-DAX maps blocks as pages: a DAX-capable device and PAGE_SIZE blocks, or no mount.
  sbi->s_dax = dax;
  if (dax && (!fs_dax_get_by_bdev(sb->s_bdev) || sbi->block_size != PAGE_SIZE)) {
    delete sbi;
    sb->s_fs_info = nullptr;
    return -EINVAL;
  }
  if (bdev_logical_block_size(sb->s_bdev) > sbi->block_size) {
    delete sbi;
    sb->s_fs_info = nullptr;
    return -EINVAL;
  }
  int err = 0;
  down_write(&sbi->s_meta_sem);
  for (uint32_t b = 0; b < es.s_bitmap_blocks && !err; b++) ext4_meta_get(sbi, es.s_bitmap_start + b, &err);
  up_write(&sbi->s_meta_sem);
  inode* root = err ? nullptr : ext4_iget(sb, EXT4_ROOT_INO);
  if (!root || IS_ERR(root)) {
    delete sbi;
    sb->s_fs_info = nullptr;
    return err ? err : -EINVAL;
  }
  sb->s_root = root;
  iput(root);  // cached (nlink 2): stays until umount; s_root is not a reference
  return 0;
}

}  // namespace

int ext4_sync_fs(super_block* sb, int wait) { return ext4_commit(sb); }

void ext4_put_super(super_block* sb) {
  delete EXT4_SB(sb);
  sb->s_fs_info = nullptr;
}

const file_system_type ext4_fs_type = {.name = "ext4", .fill_super = ext4_fill_super};

}  // namespace guplab
