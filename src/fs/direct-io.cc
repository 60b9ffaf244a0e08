// direct-io.cc - O_DIRECT: pinning user pages into bios, submitting them, completing.
#include "fs/direct-io.h"

#include <algorithm>

#include "base/atomic.h"
#include "base/completion.h"
#include "base/errno.h"
#include "base/task.h"
#include "block/bio.h"
#include "block/blkdev.h"
#include "mm/gup.h"
#include "mm/pin.h"
#include "mm/uaccess.h"
#include "base/bug.h"

namespace guplab {

namespace {

/**
 * struct dio - one blockdev_direct_IO() call while its bios are in flight.
 * @ref: one for the submitter until it has submitted everything, one per bio in
 * flight; whoever drops the last completes the dio. @lifetime (synchronous calls
 * only): the waiter and the last bio completion each hold one, so that the struct
 * outlives complete()'s last touch of @done.
 */
struct dio {
  kiocb* iocb = nullptr;
  atomic_t ref;
  atomic_t error;         // the first error (-errno), 0 while none
  uint64_t size = 0;      // bytes submitted; written by the submitter before its last put
  uint64_t cap = 0;       // most bytes to report (a read ending past i_size is cut there)
  bool is_read = false;
  bool is_sync = false;
  bool poll = false;      // send the call's last bio REQ_POLLED
  completion done;
  atomic_t lifetime;
};

void dio_set_error(dio* d, int err) {
  VM_BUG_ON(!(err < 0));
  atomic_cmpxchg(&d->error, 0, err);
}

/** dio_result() - what the call returns; advances ki_pos by the bytes transferred. */
long dio_result(dio* d) {
  const int err = atomic_read(&d->error);
  if (err) return err;
  const uint64_t n = std::min(d->size, d->cap);
  d->iocb->ki_pos += n;
  return static_cast<long>(n);
}

void dio_put_lifetime(dio* d) {
  if (atomic_dec_and_test(&d->lifetime)) delete d;
}

/** dio_put() - a bio's reference; the last one completes the dio (the submitter is done). */
void dio_put(dio* d) {
  if (!atomic_dec_and_test(&d->ref)) return;
  if (d->is_sync) {
    complete(&d->done);
    dio_put_lifetime(d);
    return;
  }
  kiocb* iocb = d->iocb;
  const long res = dio_result(d);
  delete d;
  iocb->ki_complete(iocb, res);
}

/** dio_bio_end_io() - in the device's completion task: release the pages, drop the ref. */
void dio_bio_end_io(bio* b) {
  dio* d = static_cast<dio*>(b->bi_private);
  if (b->bi_status != BLK_STS_OK) dio_set_error(d, blk_status_to_errno(b->bi_status));
  // The device wrote into user memory on a read: dirty the pages (even on error, as
  // the kernel does: part of the page may have been written). Then unpin.
  bio_release_pages(b, d->is_read);
  bio_put(b);
  dio_put(d);
}

/** plugged_requests() - does the running task's plug hold requests not yet started? */
blk_plug* plug_with_requests() {
  task_struct* t = current();
  return t && t->plug && t->plug->rq_count ? t->plug : nullptr;
}

/**
 * dio_pin_pages() - pin @nr pages from @start. A task with plugged requests must not
 * sleep: try the lockless walk first and flush the plug before the slow path. The slow
 * path is the unlocked form (seed 001: O_DIRECT is "fully covered"): a fault may drop
 * mmap_lock for I/O or wait for a userfaultfd handler.
 * Returns pages pinned (possibly fewer than @nr) or -errno.
 */
int dio_pin_pages(unsigned long start, int nr, foll_flags flags, page** pages) {
  if (blk_plug* plug = plug_with_requests()) {
    const int got = pin_user_pages_fast_only(start, nr, flags, pages);
    if (got > 0) return got;
    blk_flush_plug(plug);
  }
  return pin_user_pages_fast(start, nr, flags, pages);
}

/** dio_zero_user() - a read of a hole: zeros into @n bytes of user memory at @uaddr. */
int dio_zero_user(unsigned long uaddr, uint64_t n) {
  static constexpr char kZeros[PAGE_SIZE] = {};
  if (blk_plug* plug = plug_with_requests()) blk_flush_plug(plug);  // the copy may fault and sleep
  while (n) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, PAGE_SIZE));
    if (copy_to_user(uaddr, kZeros, chunk)) return -EFAULT;
    uaddr += chunk;
    n -= chunk;
  }
  return 0;
}

/**
 * dio_submit_one() - pin what fits in one bio of [@uaddr, @uaddr + @len) and submit it
 * at @sector; @whole: [@uaddr, @uaddr + @len) is all the call has left to submit.
 * Returns the bytes submitted (> 0, a multiple of @lbs) or -errno, with no
 * pin left behind on error.
 */
long dio_submit_one(dio* d, block_device* bdev, blk_opf_t opf, unsigned long uaddr, uint64_t len, sector_t sector,
                    unsigned lbs, bool whole) {
  page* pages[BIO_MAX_VECS];
  const unsigned off = static_cast<unsigned>(uaddr & ~PAGE_MASK);
  const uint64_t want = std::min<uint64_t>(len, uint64_t{BIO_MAX_VECS} * PAGE_SIZE - off);
  const int nr = static_cast<int>((off + want + PAGE_SIZE - 1) >> PAGE_SHIFT);
  const int got = dio_pin_pages(uaddr & PAGE_MASK, nr, d->is_read ? FOLL_WRITE : FOLL_NONE, pages);
  if (got <= 0) return got < 0 ? got : -EFAULT;
  VM_BUG_ON(!(got <= nr));
  // A short pin: use the whole logical blocks it covers, release the rest.
  uint64_t bytes = std::min<uint64_t>(want, static_cast<uint64_t>(got) * PAGE_SIZE - off);
  bytes -= bytes % lbs;
  const int used = static_cast<int>((off + bytes + PAGE_SIZE - 1) >> PAGE_SHIFT);
  if (used < got) unpin_user_pages(pages + used, static_cast<unsigned long>(got - used));
  if (bytes == 0) return -EFAULT;  // the pin stopped inside a logical block

  // Poll only for the call's last bio: with more to pin, the task could sleep (in the
  // slow path) while a polled bio waits for its poll.
  if (d->poll && whole && bytes == len) opf |= REQ_POLLED;
  bio* b = bio_alloc(bdev, static_cast<unsigned short>(used), opf);
  b->bi_iter.bi_sector = sector;
  b->bi_end_io = dio_bio_end_io;
  b->bi_private = d;
  bio_set_flag(b, BIO_PAGE_PINNED);
  uint64_t left = bytes;
  for (int i = 0; i < used; i++) {
    const unsigned poff = i == 0 ? off : 0;
    const unsigned plen = static_cast<unsigned>(std::min<uint64_t>(left, PAGE_SIZE - poff));
    // The zero page (a write from never-touched memory) is never pin-accounted: it
    // goes in without the GUP bit; BIO_PAGE_PINNED still routes it to unpin, a no-op.
    const bool is_gup = !is_zero_folio(page_folio(pages[i]));
    const unsigned added = bio_add_page(b, pages[i], plen, poff, is_gup);
    VM_BUG_ON(!(added == plen));
    (void)added;
    left -= plen;
  }
  // The kernel's bio_set_pages_dirty(): dirty the pages a read fills now, in process
  // context, so that the completion (interrupt context) finds them dirty and need not
  // take their locks (bio_release_pages() defers to a worker if one was cleaned since).
  if (d->is_read) bio_set_pages_dirty(b);
  atomic_inc(&d->ref);
  submit_bio(b);
  return static_cast<long>(bytes);
}

bool is_aligned(uint64_t v, uint64_t mask) { return (v & mask) == 0; }

/** mapping_ok() - is get_block's answer usable: a positive, block-aligned extent? */
bool mapping_ok(const dio_mapping& map, uint64_t lbs_mask) {
  if (map.len == 0 || !is_aligned(map.len, lbs_mask)) return false;
  return !map.mapped || is_aligned(map.sector << SECTOR_SHIFT, lbs_mask);
}

}  // namespace

int blkdev_dio_get_block(void* host, uint64_t pos, uint64_t len, bool create, dio_mapping* map) {
  map->sector = pos >> SECTOR_SHIFT;
  map->len = len;
  map->mapped = true;
  return 0;
}

dio_file blkdev_dio_file(block_device* bdev) {
  dio_file f;
  f.bdev = bdev;
  f.i_size = bdev ? bdev_nr_sectors(bdev) << SECTOR_SHIFT : 0;
  f.get_block = blkdev_dio_get_block;
  f.is_blkdev = true;
  return f;
}

long blockdev_direct_IO(kiocb* iocb, unsigned long ubuf, size_t count) {
  if (!iocb) return -EINVAL;
  dio_file* f = iocb->ki_filp;
  if (!f || !f->bdev || !f->get_block) return -EBADF;
  block_device* bdev = f->bdev;
  const bool write = any(iocb->ki_flags, IOCB_WRITE);
  const uint64_t pos = iocb->ki_pos;
  const unsigned lbs = bdev_logical_block_size(bdev);
  const uint64_t lbs_mask = lbs - 1;
  count = std::min<size_t>(count, MAX_RW_COUNT & ~lbs_mask);

  // Size first, as block/fops.c: EOF reads return 0, writes past a device's end -ENOSPC.
  uint64_t io_count = count, cap = count;
  if (!write || f->is_blkdev) {
    if (pos >= f->i_size) return write ? -ENOSPC : 0;
    const uint64_t to_eof = f->i_size - pos;
    cap = std::min<uint64_t>(count, to_eof);
    // The transfer is whole blocks; a read's result stops at i_size.
    const uint64_t to_block_end = ((f->i_size + lbs - 1) / lbs) * lbs - pos;
    io_count = std::min<uint64_t>(count, to_block_end);
  }
  // Alignment, as blkdev_dio_invalid(): offset and length to the logical block size,
  // the buffer to that and to the device's DMA alignment.
  if (!is_aligned(pos, lbs_mask) || !is_aligned(io_count, lbs_mask) ||
      !is_aligned(ubuf, lbs_mask | bdev_dma_alignment(bdev)))
    return -EINVAL;
  if (io_count == 0) return 0;

  auto* d = new dio;
  d->iocb = iocb;
  d->is_read = !write;
  d->is_sync = iocb->ki_complete == nullptr;
  d->poll = bdev->can_poll() && (d->is_sync || any(iocb->ki_flags, IOCB_HIPRI));
  d->cap = cap;
  atomic_set(&d->ref, 1);
  atomic_set(&d->lifetime, 2);
  init_completion(&d->done);
  blk_opf_t opf = REQ_OP_READ;
  if (write) {
    opf = REQ_OP_WRITE | REQ_SYNC | REQ_IDLE;
    if (any(iocb->ki_flags, IOCB_DSYNC)) opf |= REQ_FUA;
  }

  blk_plug plug;
  blk_start_plug(&plug);
  uint64_t done = 0;
  while (done < io_count) {
    dio_mapping map;
    int err = f->get_block(f->host, pos + done, io_count - done, write, &map);
    if (!err && WARN_ON_ONCE(!mapping_ok(map, lbs_mask))) err = -EIO;  // a filesystem bug
    if (err) {
      dio_set_error(d, err);
      break;
    }
    uint64_t ext = std::min(map.len, io_count - done);
    if (!map.mapped) {
      err = write ? -ENOTBLK : dio_zero_user(ubuf + done, ext);
      if (err) {
        dio_set_error(d, err);
        break;
      }
      done += ext;
      continue;
    }
    sector_t sector = map.sector;
    while (ext) {
      const long n = dio_submit_one(d, bdev, opf, ubuf + done, ext, sector, lbs, done + ext == io_count);
      if (n < 0) {
        dio_set_error(d, static_cast<int>(n));
        break;
      }
      done += static_cast<uint64_t>(n);
      ext -= static_cast<uint64_t>(n);
      sector += static_cast<uint64_t>(n) >> SECTOR_SHIFT;
    }
    if (ext) break;
  }
  blk_finish_plug(&plug);
  d->size = done;

  const bool is_sync = d->is_sync;  // once our reference is gone, an async dio may be too
  if (atomic_dec_and_test(&d->ref)) {
    // Every bio has completed already (or none went out): the result is known now.
    const long res = dio_result(d);
    delete d;
    return res;
  }
  if (!is_sync) return -EIOCBQUEUED;
  // Reap our own completion while it is polled (bdev_poll() ends it in this task);
  // anything else completes in the completion task, which wakes us.
  if (d->poll) {
    const bool spin = any(iocb->ki_flags, IOCB_HIPRI);
    while (!completion_done(&d->done) && bdev_poll(bdev, spin) > 0) {
    }
  }
  wait_for_completion(&d->done);
  const long res = dio_result(d);
  dio_put_lifetime(d);
  return res;
}

long dio_pread(dio_file* filp, unsigned long ubuf, size_t count, uint64_t pos) {
  kiocb iocb;
  init_sync_kiocb(&iocb, filp, pos);
  return blockdev_direct_IO(&iocb, ubuf, count);
}

long dio_pwrite(dio_file* filp, unsigned long ubuf, size_t count, uint64_t pos) {
  kiocb iocb;
  init_sync_kiocb(&iocb, filp, pos, IOCB_WRITE);
  return blockdev_direct_IO(&iocb, ubuf, count);
}

}  // namespace guplab
