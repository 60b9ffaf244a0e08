// buffer_head.h - buffer heads (include/linux/buffer_head.h, fs/buffer.c): the
// filesystem blocks of a page-cache page, and block I/O through them.
//
// A page whose blocks the filesystem has looked at carries a ring of buffer_heads, one
// per block (blocksize <= PAGE_SIZE), in page->private_ with PG_private set; attaching
// them takes a page reference (as attach_page_private()). Each records where its block
// is on the device (BH_Mapped, b_blocknr), whether its bytes are valid (BH_Uptodate) and
// newer than the disk (BH_Dirty), and I/O in flight (BH_Lock, BH_Async_Read/Write).
//
// Dropping them (try_to_free_buffers(): reclaim's try_to_release_page(), and
// invalidation at truncate) needs every buffer clean, unlocked and unreferenced. Seed
// 002's crash sequence is this: reclaim drops the buffers of a clean page that GUP has
// pinned (under the `get` design nothing says so), the page stays in the cache because
// of the pin's reference, the device writes it and the driver calls set_page_dirty_lock();
// block_dirty_folio() finds no buffers to mark and only sets PG_dirty, and writeback
// then reaches the filesystem's writepage with no buffers: page_buffers() BUGs,
// recorded as an oops at the call site (the kernel's ext4_writepage() BUG_ON).
//
// Threading: the buffer ring of a page changes (attach/detach) under the page lock and
// mapping->private_lock; b_state bits are atomic; BH_Lock is a bit lock (lock_buffer());
// I/O completion runs in the device's completion task.
#pragma once
#include <cstddef>

#include "base/atomic.h"
#include "base/bitops.h"
#include "base/spinlock.h"
#include "block/blk_types.h"
#include "fs/fs.h"
#include "mm/page-flags.h"

namespace guplab {

enum bh_state_bits : unsigned {
  BH_Uptodate,     // contains valid data
  BH_Dirty,        // newer than the disk
  BH_Lock,         // I/O in flight (a bit lock)
  BH_Mapped,       // b_blocknr is valid
  BH_New,          // get_block() just allocated it
  BH_Async_Read,   // part of a page read (end_buffer_async_read())
  BH_Async_Write,  // part of a page write (end_buffer_async_write())
  BH_Write_EIO,    // the last write failed
  BH_Unwritten,    // allocated on disk, never written there yet (ordered mode zeroes it)
};

struct buffer_head;
using bh_end_io_t = void (*)(buffer_head* bh, bool uptodate);

struct buffer_head {
  bitword_t b_state{0};
  buffer_head* b_this_page = nullptr;  // the page's ring
  page* b_page = nullptr;
  sector_t b_blocknr = 0;              // in b_size units
  size_t b_size = 0;
  unsigned b_offset = 0;               // of its bytes in the page
  block_device* b_bdev = nullptr;
  atomic_t b_count;                    // users outside the page (get_bh/put_bh)
  bh_end_io_t b_end_io = nullptr;
  page* b_bounce = nullptr;            // first buffer of a page: the bounce copy being written
  spinlock_t b_uptodate_lock;          // first buffer of a page: end-of-page-I/O decisions
  buffer_head() { spin_lock_init(&b_uptodate_lock, "bh->b_uptodate_lock"); }
};

#define GUPLAB_BUFFER_FNS(name, bit)                                                       \
  inline bool buffer_##name(const buffer_head* bh) { return test_bit(bit, &bh->b_state); } \
  inline void set_buffer_##name(buffer_head* bh) { set_bit(bit, &bh->b_state); }           \
  inline void clear_buffer_##name(buffer_head* bh) { clear_bit(bit, &bh->b_state); }       \
  inline bool test_set_buffer_##name(buffer_head* bh) { return test_and_set_bit(bit, &bh->b_state); } \
  inline bool test_clear_buffer_##name(buffer_head* bh) { return test_and_clear_bit(bit, &bh->b_state); }
GUPLAB_BUFFER_FNS(uptodate, BH_Uptodate)
GUPLAB_BUFFER_FNS(dirty, BH_Dirty)
GUPLAB_BUFFER_FNS(locked, BH_Lock)
GUPLAB_BUFFER_FNS(mapped, BH_Mapped)
GUPLAB_BUFFER_FNS(new, BH_New)
GUPLAB_BUFFER_FNS(async_read, BH_Async_Read)
GUPLAB_BUFFER_FNS(async_write, BH_Async_Write)
GUPLAB_BUFFER_FNS(write_io_error, BH_Write_EIO)
GUPLAB_BUFFER_FNS(unwritten, BH_Unwritten)
#undef GUPLAB_BUFFER_FNS

/** page_has_buffers() - does @p carry buffer heads (PG_private)? */
inline bool page_has_buffers(const page* p) { return PagePrivate(p); }
/** __page_buffers() - the checked accessor behind page_buffers(); BUGs at @file:@line if none. */
buffer_head* __page_buffers(page* p, const char* file, int line, const char* func);
/**
 * page_buffers() - @p's first buffer head. As the kernel's macro it BUGs when the page
 * has none (BUG_ON(!PagePrivate(page))), and the oops names the caller's line.
 */
#define page_buffers(p) (::guplab::__page_buffers((p), __FILE__, __LINE__, __func__))

/** get_block_t - map file block @iblock of @ino into @bh (allocate if @create). */
using get_block_t = int (*)(inode* ino, sector_t iblock, buffer_head* bh, bool create);

/**
 * create_empty_buffers() - attach a ring of unmapped buffers of @blocksize to @p, each
 * with @b_state; takes a page reference. REQUIRES: @p locked, without buffers.
 */
buffer_head* create_empty_buffers(page* p, unsigned long blocksize, unsigned long b_state);
/**
 * try_to_free_buffers() - drop @f's buffers if none is dirty, locked or referenced
 * (drop_buffers()); a dirty page whose buffers were all clean is cleaned too.
 * Returns true if @f has no buffers now. REQUIRES: @f locked, not under writeback.
 */
bool try_to_free_buffers(folio* f);
/**
 * block_invalidate_folio() - a_ops->invalidate_folio: buffers wholly inside
 * [@offset, @offset + @len) are discarded (clean, unmapped); all of them -> dropped.
 */
void block_invalidate_folio(folio* f, size_t offset, size_t len);
/**
 * block_dirty_folio() - a_ops->dirty_folio for pages with buffers: mark every buffer
 * dirty (if the page has any: after drop_buffers() there are none, seed 002), then the
 * page (filemap_dirty_folio()).
 */
bool block_dirty_folio(address_space* mapping, folio* f);
/** mark_buffer_dirty() - one buffer (and its page and inode) dirty. */
void mark_buffer_dirty(buffer_head* bh);

void lock_buffer(buffer_head* bh);
void unlock_buffer(buffer_head* bh);
void wait_on_buffer(buffer_head* bh);

/**
 * submit_bh() - start I/O of @bh's block (@op: REQ_OP_READ or REQ_OP_WRITE, with
 * flags); its bytes come from / go to @data (the page, or a bounce copy of it).
 * bh->b_end_io runs in the device's completion task. REQUIRES: bh locked and mapped.
 */
void submit_bh(blk_opf_t op, buffer_head* bh, page* data);

/**
 * block_read_full_folio() - a_ops->read_folio: read the mapped, !uptodate blocks of
 * locked @f (holes and what lies past EOF are zeroed); the last completion marks it
 * uptodate (unless an error) and unlocks it. Returns 0.
 */
int block_read_full_folio(folio* f, get_block_t get_block);
/**
 * __block_write_begin() - prepare [@pos, @pos + @len) of locked @f for a write: blocks
 * mapped (allocated: -ENOSPC), those the write covers only partly read in (or zeroed if
 * new). Returns 0 or -errno.
 */
int __block_write_begin(folio* f, loff_t pos, unsigned len, get_block_t get_block);
/** block_commit_write() - [@from, @to) of @f was written: uptodate, dirty. */
void block_commit_write(folio* f, unsigned from, unsigned to);
/**
 * block_truncate_page() - the file is being cut at @from, inside a block: zero the rest
 * of that block through the page cache and dirty its buffer, so that the bytes past the
 * new EOF are zeroes on the disk too (a later extension, or a read after the page has
 * left the cache, must not see the old tail). A hole, or @from on a block boundary,
 * needs nothing. Returns 0, -ENOMEM or -EIO (reading the block in).
 * REQUIRES: i_rwsem held for write; no page lock of @mapping held.
 */
int block_truncate_page(address_space* mapping, loff_t from, get_block_t get_block);
/**
 * block_write_full_folio() - write the dirty buffers of locked @f whose dirty bit
 * clear_page_dirty_for_io() cleared: map unmapped ones, set PG_writeback, unlock,
 * submit (through a bounce copy under the bounce policy if it may be pinned). A page
 * wholly past EOF is invalidated instead. Returns 0 or -errno (the page is redirtied).
 * REQUIRES: @f locked, with buffers.
 */
int block_write_full_folio(folio* f, get_block_t get_block, writeback_control* wbc);

}  // namespace guplab
