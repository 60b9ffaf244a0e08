// bio.h - struct bio: one block I/O (include/linux/bio.h, block/bio.c), in seed 004's
// form: bio_add_page(..., is_gup) records per page whether it came from GUP, and
// bio_release_pages() releases each page the way it was taken (unpin_user_page() or
// put_page()). Upstream's BIO_PAGE_PINNED (every page is a FOLL_PIN pin) is kept too.
//
// Ownership of pages: bio_add_page() hands the bio one reference to the page (is_gup
// false: a page reference the caller took, e.g. with get_page()) or one pin (is_gup
// true: from pin_user_pages*() / get_user_pages*()). bio_release_pages() drops exactly
// those. A bio whose owner keeps its pages some other way (page-cache writeback holds
// PG_writeback) simply never calls bio_release_pages(), as in the kernel.
//
// Life of a bio: bio_alloc() -> bio_add_page()... -> submit_bio() -> the device's
// completion task calls bio_endio(), which calls bi_end_io(bio) -> the owner, typically
// in bi_end_io, calls bio_release_pages() and bio_put(). bi_end_io runs in interrupt
// context (block/blkdev.h): bio_release_pages() there releases inline only what cannot
// sleep; if any page's release may (a pin under the fake_vma design, whose unpin takes
// i_mmap_rwsem / the anon_vma lock; a page to dirty that is not dirty yet, which needs
// its page lock) the whole bio's release is queued to the device's worker, as the
// kernel's bio_check_pages_dirty() does. The pages stay held (pinned) until it runs.
//
// Threading: a bio belongs to its submitter until submit_bio(), to the block layer and
// its device until bi_end_io is called, then to whoever bi_end_io hands it to. bi_end_io
// runs in the device's completion task (block/blkdev.h); it may sleep (on a page lock,
// say) but must not wait for I/O on the same device.
#pragma once
#include <cstdint>

#include "base/atomic.h"
#include "base/bitops.h"
#include "block/blk_types.h"
#include "block/bvec.h"

namespace guplab {

struct bio;
class block_device;

/** bio_end_io_t - called once when the bio has completed, in the device's completion task. */
using bio_end_io_t = void (*)(bio* bio);

/** BIO_MAX_VECS - the most bio_vecs one bio can hold. */
inline constexpr unsigned BIO_MAX_VECS = 256;

struct bio {
  bio* bi_next = nullptr;            // the block layer's lists
  block_device* bi_bdev = nullptr;   // target device
  blk_opf_t bi_opf = REQ_OP_READ;    // operation and flags
  bitword_t bi_flags{0};             // enum bio_flag bits
  blk_status_t bi_status = BLK_STS_OK;  // set before bi_end_io is called
  atomic_t __bi_remaining;           // completions still due when BIO_CHAIN (self + children)
  bvec_iter bi_iter;                 // what is left to do: sector, bytes, position
  bio_end_io_t bi_end_io = nullptr;
  void* bi_private = nullptr;        // the owner's
  unsigned short bi_vcnt = 0;        // bio_vecs in use
  unsigned short bi_max_vecs = 0;    // room in bi_io_vec
  atomic_t __bi_cnt;                 // references (bio_get/bio_put)
  bio_vec* bi_io_vec = nullptr;      // the vector (inline after the bio, or a parent's for clones)
};

// ---- flags and queries ---------------------------------------------------------------
inline bool bio_flagged(const bio* bio, bio_flag bit) { return test_bit(bit, &bio->bi_flags); }
inline void bio_set_flag(bio* bio, bio_flag bit) { set_bit(bit, &bio->bi_flags); }
inline void bio_clear_flag(bio* bio, bio_flag bit) { clear_bit(bit, &bio->bi_flags); }
/** bio_op() - the REQ_OP_* of @bio. */
inline blk_opf_t bio_op(const bio* bio) { return op_of(bio->bi_opf); }
inline bool bio_is_write(const bio* bio) { return op_is_write(bio->bi_opf); }
/** bio_sectors() - 512-byte sectors still covered. */
inline unsigned bio_sectors(const bio* bio) { return bio->bi_iter.bi_size >> SECTOR_SHIFT; }
inline sector_t bio_end_sector(const bio* bio) { return bio->bi_iter.bi_sector + bio_sectors(bio); }
inline bool bio_has_data(const bio* bio) {
  return bio->bi_iter.bi_size != 0 && (bio_op(bio) == REQ_OP_READ || bio_op(bio) == REQ_OP_WRITE);
}
/** bio_iter_iovec() - the segment of @bio at @iter. */
inline bio_vec bio_iter_iovec(const bio* bio, const bvec_iter& iter) { return bvec_iter_bvec(bio->bi_io_vec, iter); }
/** bio_advance_iter() - move @iter of @bio forward by @bytes (sector included). */
inline void bio_advance_iter(const bio* bio, bvec_iter* iter, unsigned bytes) {
  iter->bi_sector += bytes >> SECTOR_SHIFT;
  bvec_iter_advance(bio->bi_io_vec, iter, bytes);
}

/**
 * bio_for_each_segment() - walk the segments still covered by @bio (its bi_iter), each
 * a bio_vec value @bvl; @iter is a struct bvec_iter. Works on split clones too.
 */
#define bio_for_each_segment(bvl, bio, iter)                                             \
  for (iter = (bio)->bi_iter; (iter).bi_size && (((bvl) = bio_iter_iovec((bio), (iter))), true); \
       bio_advance_iter((bio), &(iter), (bvl).bv_len))

/** bio_segments() - how many segments bio_for_each_segment() visits. */
unsigned bio_segments(const bio* bio);

// ---- building ------------------------------------------------------------------------
/**
 * bio_alloc() - a new bio with room for @nr_vecs pages, for @opf on @bdev (may be
 * nullptr: set it later with bio_set_dev()). One reference, for the caller.
 * Returns nullptr if @nr_vecs > BIO_MAX_VECS.
 */
bio* bio_alloc(block_device* bdev, unsigned short nr_vecs, blk_opf_t opf);
/** bio_get() - take another reference. */
void bio_get(bio* bio);
/**
 * bio_put() - drop a reference; the last one frees the bio (never its pages: see
 * bio_release_pages()). A bio still in flight is not freed: WARN, and it leaks.
 */
void bio_put(bio* bio);
/** bio_set_dev() - aim @bio at @bdev. REQUIRES: not in flight (else WARN). */
void bio_set_dev(bio* bio, block_device* bdev);

/**
 * bio_add_page() - append @len bytes at @off of @page to @bio.
 * @is_gup: the page comes from GUP; the caller hands the bio that pin (BVEC_PFN_GUP).
 *          Otherwise the caller hands it one page reference.
 * Returns @len, or 0 if the bio is full (bi_max_vecs bio_vecs, or 4 GiB). Misuse
 * (no page, @len 0, crossing the page end, a free page, a page of another machine than
 * the bio's device, a clone, a submitted bio) returns 0 with a WARN. is_gup for a page
 * that does not look pinned under a design that tracks pins gets a WARN, but the page is
 * added (returns @len).
 */
unsigned bio_add_page(bio* bio, page* page, unsigned len, unsigned off, bool is_gup);

/**
 * bio_advance() - mark the first @bytes of @bio done: its bi_iter moves past them.
 * More than is left: WARN, and the bio is left empty.
 */
void bio_advance(bio* bio, unsigned bytes);

/**
 * bio_split() - split off the first @sectors of @bio as a new bio, which shares @bio's
 * bio_vecs (BIO_CLONED; it owns no pages); @bio is advanced past them. The caller chains
 * the split to @bio (bio_chain()) so @bio completes only after it.
 * Returns the split, or ERR_PTR(-EINVAL) (with a WARN) unless 0 < @sectors < bio_sectors(@bio).
 */
bio* bio_split(bio* bio, int sectors);

/**
 * bio_chain() - make @parent complete only after @bio: @bio's completion passes its
 * error (the first one wins) to @parent, puts @bio and completes @parent once every
 * chained bio and @parent itself have completed.
 * Returns 0, or -EINVAL (WARN) if @bio already has an end_io or a private value.
 */
int bio_chain(bio* bio, struct bio* parent);
/** bio_chain_endio() - the bi_end_io bio_chain() installs (compare, don't call). */
void bio_chain_endio(bio* bio);

// ---- completing ----------------------------------------------------------------------
/**
 * bio_endio() - @bio has completed with bi_status: unless children chained to it are
 * still due, call bi_end_io. Devices call this from their completion task.
 */
void bio_endio(bio* bio);
/** bio_io_error() - complete @bio with BLK_STS_IOERR. */
inline void bio_io_error(bio* bio) {
  bio->bi_status = BLK_STS_IOERR;
  bio_endio(bio);
}

/**
 * bio_release_pages() - give back what the bio holds of its pages, the same way
 * whatever the I/O's status: for each bio_vec, if its page came from GUP (bvec_is_gup(),
 * or the whole bio is BIO_PAGE_PINNED), unpin_user_pages_dirty_lock() it - dirtied when
 * @mark_dirty (a device wrote into user memory), under the page lock unless it is
 * dirty already: writeback under the `wait` policy sleeps for this very pin holding the
 * page lock of a dirty page; otherwise put_page() (a kernel page the bio held a
 * reference to; never dirtied here, its owner tracks it).
 * In interrupt context (a bi_end_io), if any release may sleep (see the top of this
 * file), the whole bio's release is queued to the device's deferred-completion worker
 * (unless the device is set_release_inline(), a lab knob) and this returns at once;
 * when none may, every page to dirty was dirty when checked and the release is inline
 * without dirtying again (a page writeback cleaned meanwhile stays clean, as after the
 * kernel's bio_check_pages_dirty()); elsewhere it releases inline and may sleep (page
 * lock, fake vma unlinking). A second
 * call on the same bio, or a call on a split clone, does nothing but WARN.
 */
void bio_release_pages(bio* bio, bool mark_dirty);
/**
 * bio_set_pages_dirty() - dirty every page of a read bio before submitting it (process
 * context: takes each clean page's lock, flushing the task's plug before it sleeps), so
 * that bio_release_pages(bio, true) at completion normally finds them dirty.
 */
void bio_set_pages_dirty(bio* bio);

// ---- submitting (block/blk_core.cc) ---------------------------------------------------
/**
 * submit_bio() - start @bio on its device. The device completes it later, in its
 * completion task, by bio_endio(). Oversized bios are split to the device's limits;
 * bad ones (past the end, misaligned, unsupported op) complete with an error status.
 * May sleep until the device has a free queue slot (unless REQ_NOWAIT: BLK_STS_AGAIN).
 * A bio with no device completes at once, in the caller, with BLK_STS_IOERR and a WARN.
 * REQUIRES: running in a model task; @bio not already in flight.
 */
void submit_bio(bio* bio);
/**
 * submit_bio_wait() - submit @bio and sleep until it completes (uses bi_end_io and
 * bi_private). Returns 0 or the negative errno of its status (-EIO, -EINVAL, ...).
 * Called from @bio's device's own completion task it would never return:
 * -EDEADLK with a WARN, nothing submitted; on a bio already in flight: -EBUSY, WARN.
 */
int submit_bio_wait(bio* bio);

}  // namespace guplab
