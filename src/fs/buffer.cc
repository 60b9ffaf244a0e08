// buffer.cc - buffer heads: attaching, dropping, dirtying, and block I/O through them.
#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "base/bit_wait.h"
#include "base/bug.h"
#include "base/errno.h"
#include "block/bio.h"
#include "fs/buffer_head.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/filemap.h"
#include "mm/internal.h"
#include "mm/pagemap.h"
#include "mm/swap.h"

namespace guplab {

namespace {

BitWaitTable* bh_wait_table(const buffer_head* bh) { return page_machine(bh->b_page)->bit_wait_table(); }

inline unsigned blkbits_of(size_t size) {
  unsigned b = 0;
  while ((1ul << b) < size) b++;
  return b;
}

void free_buffer_ring(buffer_head* head) {
  buffer_head* bh = head;
  do {
    buffer_head* next = bh->b_this_page;
    delete bh;
    bh = next;
  } while (bh != head);
}

bool buffer_busy(const buffer_head* bh) {
  return atomic_read(&bh->b_count) != 0 || buffer_dirty(bh) || buffer_locked(bh);
}

buffer_head* detach_buffers(folio* f) {
  auto* head = reinterpret_cast<buffer_head*>(f->private_);
  f->private_ = 0;
  ClearPagePrivate(f);
  folio_put(f);  // the reference create_empty_buffers() took; never the last
  return head;
}

// Detach @f's buffers if none is busy; returns the ring to free, or nullptr.
// REQUIRES: @f locked; its mapping's private_lock held (if it has a mapping).
buffer_head* drop_buffers(folio* f) {
  auto* head = reinterpret_cast<buffer_head*>(f->private_);
  buffer_head* bh = head;
  do {
    if (buffer_busy(bh)) return nullptr;
    bh = bh->b_this_page;
  } while (bh != head);
  return detach_buffers(f);
}

void end_bio_bh_io(bio* b) {
  auto* bh = static_cast<buffer_head*>(b->bi_private);
  const bool ok = b->bi_status == BLK_STS_OK;
  bio_put(b);
  bh->b_end_io(bh, ok);
}

void end_buffer_read_sync(buffer_head* bh, bool uptodate) {
  if (uptodate) set_buffer_uptodate(bh);
  else clear_buffer_uptodate(bh);
  unlock_buffer(bh);
}

void end_buffer_async_read(buffer_head* bh, bool uptodate) {
  folio* f = page_folio(bh->b_page);
  if (uptodate) set_buffer_uptodate(bh);
  else {
    clear_buffer_uptodate(bh);
    SetPageError(f);
  }
  auto* first = reinterpret_cast<buffer_head*>(f->private_);
  bool page_uptodate = true;
  {
    SpinGuard g(&first->b_uptodate_lock);
    clear_buffer_async_read(bh);
    unlock_buffer(bh);
    buffer_head* t = bh;
    do {
      if (!buffer_uptodate(t)) page_uptodate = false;
      if (buffer_async_read(t)) return;  // another block of the page is still coming
      t = t->b_this_page;
    } while (t != bh);
  }
  if (page_uptodate && !PageError(f)) SetPageUptodate(f);
  folio_unlock(f);
}

void end_buffer_async_write(buffer_head* bh, bool uptodate) {
  folio* f = page_folio(bh->b_page);
  if (!uptodate) {
    set_buffer_write_io_error(bh);
    clear_buffer_uptodate(bh);
    SetPageError(f);
    if (address_space* mapping = page_mapping(f)) mapping_set_error(mapping, -EIO);
  }
  auto* first = reinterpret_cast<buffer_head*>(f->private_);
  page* bounce = nullptr;
  {
    SpinGuard g(&first->b_uptodate_lock);
    clear_buffer_async_write(bh);
    unlock_buffer(bh);
    buffer_head* t = bh->b_this_page;
    while (t != bh) {
      if (buffer_async_write(t)) return;  // another block of the page is still being written
      t = t->b_this_page;
    }
    bounce = first->b_bounce;
    first->b_bounce = nullptr;
  }
  if (bounce) bounce_page_free(bounce);
  folio_end_writeback(f);
}

// Zero [@from, @to) of @p.
void zero_segment(page* p, unsigned from, unsigned to) {
  if (from < to) std::memset(static_cast<char*>(page_address(p)) + from, 0, to - from);
}

}  // namespace

buffer_head* __page_buffers(page* p, const char* file, int line, const char* func) {
  if (unlikely(!PagePrivate(p)))
    bug_hit(file, line, func, "!PagePrivate(page)",
            fmt::format("page_buffers: pfn {:#x} index {} has no buffer heads (flags {:#x})", page_to_pfn(p), p->index,
                        p->flags.load(std::memory_order_relaxed)));
  return reinterpret_cast<buffer_head*>(p->private_);
}

// A buffer's lock waiters queue by its page (a stable key: see base/bit_wait.h).
const void* bh_wait_key(const buffer_head* bh) { return &bh->b_page->private_; }

void lock_buffer(buffer_head* bh) { wait_on_bit_lock(bh_wait_table(bh), &bh->b_state, BH_Lock, bh_wait_key(bh)); }

void unlock_buffer(buffer_head* bh) {
  clear_bit_unlock(BH_Lock, &bh->b_state);
  wake_up_bit(bh_wait_table(bh), &bh->b_state, BH_Lock, bh_wait_key(bh));
}

void wait_on_buffer(buffer_head* bh) {
  // (wait_on_bit() itself tests first, with acquire: the I/O's data is visible after.)
  wait_on_bit(bh_wait_table(bh), &bh->b_state, BH_Lock, bh_wait_key(bh));
}

buffer_head* create_empty_buffers(page* p, unsigned long blocksize, unsigned long b_state) {
  BUG_ON(!PageLocked(p) || PagePrivate(p));
  BUG_ON(blocksize == 0 || blocksize > PAGE_SIZE || PAGE_SIZE % blocksize);
  buffer_head* head = nullptr;
  buffer_head* tail = nullptr;
  for (unsigned long off = 0; off < PAGE_SIZE; off += blocksize) {
    auto* bh = new buffer_head;
    bh->b_page = p;
    bh->b_size = blocksize;
    bh->b_offset = static_cast<unsigned>(off);
    bh->b_state.store(b_state, std::memory_order_relaxed);
    if (!head) head = bh;
    else tail->b_this_page = bh;
    tail = bh;
  }
  tail->b_this_page = head;
  address_space* mapping = page_mapping(p);
  auto attach = [&] {
    get_page(p);
    p->private_ = reinterpret_cast<unsigned long>(head);
    SetPagePrivate(p);
  };
  if (mapping) {
    SpinGuard g(&mapping->private_lock);
    attach();
  } else {
    attach();
  }
  return head;
}

bool try_to_free_buffers(folio* f) {
  BUG_ON(!PageLocked(f));
  if (PageWriteback(f)) return false;
  if (!PagePrivate(f)) return true;
  address_space* mapping = folio_mapping_read(f);
  buffer_head* ring;
  if (mapping) {
    SpinGuard g(&mapping->private_lock);
    ring = drop_buffers(f);
  } else {
    ring = drop_buffers(f);
  }
  if (!ring) return false;
  // Every buffer was clean, so is the page (a dirty page here had its buffers cleaned
  // by invalidation).
  if (PageDirty(f)) folio_cancel_dirty(f);
  free_buffer_ring(ring);
  return true;
}

void block_invalidate_folio(folio* f, size_t offset, size_t len) {
  BUG_ON(!PageLocked(f));
  if (!PagePrivate(f)) return;
  const size_t stop = offset + len;
  buffer_head* head = reinterpret_cast<buffer_head*>(f->private_);
  buffer_head* bh = head;
  size_t curr = 0;
  do {
    const size_t next = curr + bh->b_size;
    if (curr >= offset && next <= stop) {  // wholly truncated away
      lock_buffer(bh);
      clear_buffer_dirty(bh);
      clear_buffer_mapped(bh);
      clear_buffer_uptodate(bh);
      clear_buffer_new(bh);
      unlock_buffer(bh);
    }
    curr = next;
    bh = bh->b_this_page;
  } while (bh != head);
  if (offset == 0 && len >= PAGE_SIZE) try_to_free_buffers(f);
}

bool block_dirty_folio(address_space* mapping, folio* f) {
  {
    SpinGuard g(&mapping->private_lock);
    if (PagePrivate(f)) {
      buffer_head* head = reinterpret_cast<buffer_head*>(f->private_);
      buffer_head* bh = head;
      do {
        set_buffer_dirty(bh);
        bh = bh->b_this_page;
      } while (bh != head);
    }
  }
  return filemap_dirty_folio(mapping, f);
}

void mark_buffer_dirty(buffer_head* bh) {
  if (test_set_buffer_dirty(bh)) return;
  folio* f = page_folio(bh->b_page);
  if (address_space* mapping = folio_mapping_read(f)) filemap_dirty_folio(mapping, f);
  else SetPageDirty(f);
}

void submit_bh(blk_opf_t op, buffer_head* bh, page* data) {
  BUG_ON(!buffer_locked(bh) || !buffer_mapped(bh) || !bh->b_end_io);
  bio* b = bio_alloc(bh->b_bdev, 1, op);
  b->bi_iter.bi_sector = bh->b_blocknr * (bh->b_size >> SECTOR_SHIFT);
  b->bi_end_io = end_bio_bh_io;
  b->bi_private = bh;
  const unsigned added = bio_add_page(b, data, static_cast<unsigned>(bh->b_size), bh->b_offset, false);
  BUG_ON(added != bh->b_size);
  submit_bio(b);
}

int block_read_full_folio(folio* f, get_block_t get_block) {
  BUG_ON(!PageLocked(f));
  address_space* mapping = folio_mapping_read(f);
  inode* ino = mapping_inode(mapping);
  const unsigned long blocksize = ino->i_sb->s_blocksize;
  const unsigned bbits = blkbits_of(blocksize);
  buffer_head* head = PagePrivate(f) ? reinterpret_cast<buffer_head*>(f->private_)
                                     : create_empty_buffers(f, blocksize, 0);
  const sector_t lblock = static_cast<sector_t>((i_size_read(ino) + static_cast<loff_t>(blocksize) - 1) >> bbits);
  sector_t iblock = static_cast<sector_t>(f->index) << (PAGE_SHIFT - bbits);
  std::vector<buffer_head*> reads;
  buffer_head* bh = head;
  do {
    if (!buffer_uptodate(bh)) {
      if (!buffer_mapped(bh) && iblock < lblock) {
        if (get_block(ino, iblock, bh, false)) SetPageError(f);
      }
      if (!buffer_mapped(bh)) {  // a hole, or past EOF: zeroes
        zero_segment(f, bh->b_offset, bh->b_offset + static_cast<unsigned>(bh->b_size));
        set_buffer_uptodate(bh);
      } else {
        reads.push_back(bh);
      }
    }
    iblock++;
    bh = bh->b_this_page;
  } while (bh != head);
  if (reads.empty()) {  // nothing to read: every buffer is uptodate now
    if (!PageError(f)) SetPageUptodate(f);
    folio_unlock(f);
    return 0;
  }
  for (buffer_head* r : reads) {
    lock_buffer(r);
    r->b_end_io = end_buffer_async_read;
    set_buffer_async_read(r);
  }
  for (buffer_head* r : reads) submit_bh(REQ_OP_READ, r, f);
  return 0;
}

int __block_write_begin(folio* f, loff_t pos, unsigned len, get_block_t get_block) {
  BUG_ON(!PageLocked(f));
  inode* ino = mapping_inode(folio_mapping_read(f));
  const unsigned long blocksize = ino->i_sb->s_blocksize;
  const unsigned bbits = blkbits_of(blocksize);
  const unsigned from = static_cast<unsigned>(pos & ~PAGE_MASK);
  const unsigned to = from + len;
  buffer_head* head = PagePrivate(f) ? reinterpret_cast<buffer_head*>(f->private_)
                                     : create_empty_buffers(f, blocksize, 0);
  sector_t block = static_cast<sector_t>(f->index) << (PAGE_SHIFT - bbits);
  std::vector<buffer_head*> reads;
  int err = 0;
  buffer_head* bh = head;
  do {
    const unsigned bstart = bh->b_offset;
    const unsigned bend = bstart + static_cast<unsigned>(bh->b_size);
    if (bend <= from || bstart >= to) {
      if (PageUptodate(f)) set_buffer_uptodate(bh);
      // A block the write does not touch stays as it is (read later if needed).
    } else {
      clear_buffer_new(bh);
      if (!buffer_mapped(bh)) {
        err = get_block(ino, block, bh, true);
        if (err) break;
        if (buffer_new(bh)) {
          // Fresh block: what the write does not cover must read as zeroes.
          if (!PageUptodate(f)) {
            zero_segment(f, bstart, from > bstart ? from : bstart);
            zero_segment(f, to < bend ? to : bend, bend);
          }
          clear_buffer_new(bh);
          set_buffer_uptodate(bh);
        }
      }
      if (PageUptodate(f)) set_buffer_uptodate(bh);
      else if (!buffer_uptodate(bh) && (bstart < from || bend > to)) reads.push_back(bh);
    }
    block++;
    bh = bh->b_this_page;
  } while (bh != head);
  for (buffer_head* r : reads) {
    lock_buffer(r);
    r->b_end_io = end_buffer_read_sync;
    submit_bh(REQ_OP_READ | REQ_SYNC, r, f);
  }
  for (buffer_head* r : reads) {
    wait_on_buffer(r);
    if (!buffer_uptodate(r) && !err) err = -EIO;
  }
  return err;
}

void block_commit_write(folio* f, unsigned from, unsigned to) {
  buffer_head* head = reinterpret_cast<buffer_head*>(f->private_);
  buffer_head* bh = head;
  bool partial = false;
  do {
    const unsigned bstart = bh->b_offset;
    const unsigned bend = bstart + static_cast<unsigned>(bh->b_size);
    if (bend <= from || bstart >= to) {
      if (!buffer_uptodate(bh)) partial = true;
    } else {
      set_buffer_uptodate(bh);
      mark_buffer_dirty(bh);
    }
    bh = bh->b_this_page;
  } while (bh != head);
  if (!partial) SetPageUptodate(f);
}

int block_truncate_page(address_space* mapping, loff_t from, get_block_t get_block) {
  inode* ino = mapping_inode(mapping);
  const unsigned long blocksize = ino->i_sb->s_blocksize;
  const unsigned bbits = blkbits_of(blocksize);
  const unsigned offset = static_cast<unsigned>(from & ~PAGE_MASK);
  if (!(offset & (blocksize - 1))) return 0;  // on a block boundary: nothing is cut
  const pgoff_t index = static_cast<pgoff_t>(from >> PAGE_SHIFT);
  folio* f = __filemap_get_folio(mapping, index, FGP_LOCK | FGP_CREAT, gfp_t::GFP_HIGHUSER_MOVABLE);
  if (IS_ERR(f)) return static_cast<int>(PTR_ERR(f));
  buffer_head* bh = PagePrivate(f) ? reinterpret_cast<buffer_head*>(f->private_) : create_empty_buffers(f, blocksize, 0);
  sector_t iblock = static_cast<sector_t>(index) << (PAGE_SHIFT - bbits);
  while (bh->b_offset + bh->b_size <= offset) {
    bh = bh->b_this_page;
    iblock++;
  }
  int err = 0;
  if (!buffer_mapped(bh)) err = get_block(ino, iblock, bh, false);
  if (!err && buffer_mapped(bh)) {  // (unmapped: a hole, which reads as zeroes)
    if (PageUptodate(f)) set_buffer_uptodate(bh);
    if (!buffer_uptodate(bh)) {
      lock_buffer(bh);
      bh->b_end_io = end_buffer_read_sync;
      submit_bh(REQ_OP_READ | REQ_SYNC, bh, f);
      wait_on_buffer(bh);
      if (!buffer_uptodate(bh)) err = -EIO;
    }
    if (!err) {
      folio_wait_stable(f);
      zero_segment(f, offset, bh->b_offset + static_cast<unsigned>(bh->b_size));
      mark_buffer_dirty(bh);
    }
  }
  folio_unlock(f);
  folio_put(f);
  return err;
}

int block_write_full_folio(folio* f, get_block_t get_block, writeback_control* wbc) {
  BUG_ON(!PageLocked(f) || !PagePrivate(f));
  address_space* mapping = folio_mapping_read(f);
  inode* ino = mapping_inode(mapping);
  const loff_t isize = i_size_read(ino);
  const pgoff_t end_index = static_cast<pgoff_t>(isize >> PAGE_SHIFT);
  const unsigned tail = static_cast<unsigned>(isize & ~PAGE_MASK);
  if (f->index > end_index || (f->index == end_index && !tail)) {
    // Wholly past EOF: a truncate is on its way to remove it.
    block_invalidate_folio(f, 0, PAGE_SIZE);
    folio_unlock(f);
    return 0;
  }
  // The part of the last page past EOF is written as zeroes (it may be mmap'ed).
  if (f->index == end_index) zero_segment(f, tail, PAGE_SIZE);
  const unsigned long blocksize = ino->i_sb->s_blocksize;
  const unsigned bbits = blkbits_of(blocksize);
  const sector_t last_block = static_cast<sector_t>((isize - 1) >> bbits);
  sector_t block = static_cast<sector_t>(f->index) << (PAGE_SHIFT - bbits);
  buffer_head* head = reinterpret_cast<buffer_head*>(f->private_);
  std::vector<buffer_head*> writes;
  buffer_head* bh = head;
  do {
    if (block > last_block) {  // past EOF: nothing to write
      clear_buffer_dirty(bh);
      set_buffer_uptodate(bh);
    } else if (buffer_dirty(bh)) {
      if (!buffer_mapped(bh)) {
        if (int err = get_block(ino, block, bh, true)) {
          folio_redirty_for_writepage(wbc, f);
          folio_unlock(f);
          mapping_set_error(mapping, err);
          return err;
        }
        clear_buffer_new(bh);
      }
      lock_buffer(bh);
      if (test_clear_buffer_dirty(bh)) {
        clear_buffer_unwritten(bh);  // its data (or a bounce copy of it) goes there now
        bh->b_end_io = end_buffer_async_write;
        set_buffer_async_write(bh);
        writes.push_back(bh);
      } else {
        unlock_buffer(bh);
      }
    }
    block++;
    bh = bh->b_this_page;
  } while (bh != head);
  page* bounce = writes.empty() ? nullptr : folio_bounce_for_write(f, wbc);
  head->b_bounce = bounce;
  folio_start_writeback(f);
  folio_unlock(f);
  TEST_SYNC_POINT(sp::kWritebackSubmit);
  Machine* m = page_machine(f);
  if (m->tracing())
    m->trace(fmt::format("writeback: ino {} index {} {} block(s) submitted{}", ino->i_ino, f->index, writes.size(),
                         bounce ? " (bounce copy)" : ""));
  if (writes.empty()) {
    folio_end_writeback(f);
    return 0;
  }
  m->vmstat().mod(PGPGOUT, 1);
  const blk_opf_t op = REQ_OP_WRITE | (wbc->sync_mode == WB_SYNC_ALL ? REQ_SYNC : REQ_BACKGROUND);
  for (buffer_head* w : writes) submit_bh(op, w, bounce ? bounce : static_cast<page*>(f));
  return 0;
}

}  // namespace guplab
