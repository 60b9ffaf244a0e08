// blk_core.cc - submitting bios: checks, splitting to the device's limits, queue slots,
// plugging, synchronous submission; status codes.
#include <memory>

#include "base/completion.h"
#include "base/errno.h"
#include "block/blkdev.h"
#include "machine/machine.h"
#include "base/bug.h"

namespace guplab {

// Internal entry points (friends of block_device).
void blk_mq_submit_bio(block_device* bdev, bio* bio, blk_status_t preset);
void blk_count_split(block_device* bdev);

namespace {

struct status_entry {
  blk_status_t status;
  int err;
  const char* name;
};
constexpr status_entry kStatusTable[] = {
    {BLK_STS_OK, 0, "BLK_STS_OK"},
    {BLK_STS_NOTSUPP, -EOPNOTSUPP, "BLK_STS_NOTSUPP"},
    {BLK_STS_TIMEOUT, -ETIMEDOUT, "BLK_STS_TIMEOUT"},
    {BLK_STS_NOSPC, -ENOSPC, "BLK_STS_NOSPC"},
    {BLK_STS_TRANSPORT, -ENOLINK, "BLK_STS_TRANSPORT"},
    {BLK_STS_TARGET, -EREMOTEIO, "BLK_STS_TARGET"},
    {BLK_STS_MEDIUM, -ENODATA, "BLK_STS_MEDIUM"},
    {BLK_STS_PROTECTION, -EILSEQ, "BLK_STS_PROTECTION"},
    {BLK_STS_RESOURCE, -ENOMEM, "BLK_STS_RESOURCE"},
    {BLK_STS_IOERR, -EIO, "BLK_STS_IOERR"},
    {BLK_STS_AGAIN, -EAGAIN, "BLK_STS_AGAIN"},
    {BLK_STS_DEV_RESOURCE, -EBUSY, "BLK_STS_DEV_RESOURCE"},
    {BLK_STS_OFFLINE, -ENODEV, "BLK_STS_OFFLINE"},
    {BLK_STS_INVAL, -EINVAL, "BLK_STS_INVAL"},
};

/** blk_check_bio() - can @bdev do @bio at all? BLK_STS_OK or why not. */
blk_status_t blk_check_bio(const block_device* bdev, const bio* b) {
  const queue_limits& lim = bdev->limits();
  switch (bio_op(b)) {
    case REQ_OP_READ:
    case REQ_OP_WRITE:
      break;
    case REQ_OP_FLUSH:
      if (b->bi_iter.bi_size) return BLK_STS_INVAL;  // a flush carries no data
      return BLK_STS_OK;
    default:
      return BLK_STS_NOTSUPP;
  }
  // bio_check_eod(): nothing past the end of the device.
  const sector_t cap = bdev->nr_sectors();
  const sector_t nr = bio_sectors(b);
  if (b->bi_iter.bi_sector > cap || nr > cap - b->bi_iter.bi_sector) return BLK_STS_IOERR;
  const unsigned lbs_mask = lim.logical_block_size - 1;
  if (((b->bi_iter.bi_sector << SECTOR_SHIFT) & lbs_mask) || (b->bi_iter.bi_size & lbs_mask)) return BLK_STS_INVAL;
  bio_vec bv;
  bvec_iter iter;
  bio_for_each_segment(bv, b, iter) {
    if ((bv.bv_offset | bv.bv_len) & lim.dma_alignment) return BLK_STS_INVAL;
  }
  return BLK_STS_OK;
}

/**
 * blk_split_bytes() - where @b must be split to fit @lim: the bytes of the first part,
 * or 0 if it fits whole. Splits fall on segment boundaries when the segment count is the
 * limit, and on a logical-block boundary when the size is.
 */
unsigned blk_split_bytes(const queue_limits& lim, const bio* b) {
  const unsigned max_bytes = (lim.max_sectors << SECTOR_SHIFT) & ~(lim.logical_block_size - 1);
  unsigned bytes = 0, segs = 0;
  bio_vec bv;
  bvec_iter iter;
  bio_for_each_segment(bv, b, iter) {
    if (segs == lim.max_segments) return bytes;
    if (bv.bv_len > max_bytes - bytes) return max_bytes;
    bytes += bv.bv_len;
    segs++;
  }
  return 0;
}

/** A waiter of submit_bio_wait(), shared with the bio so that neither side outlives the other's use. */
struct bio_waiter {
  completion done;
  std::atomic<int> refs{2};
  void put() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

void submit_bio_wait_endio(bio* b) {
  auto* w = static_cast<bio_waiter*>(b->bi_private);
  complete(&w->done);
  w->put();
}

/** blk_plug_add() - remember that @bdev has requests waiting in @plug. */
void blk_plug_add(blk_plug* plug, block_device* bdev) {
  for (unsigned i = 0; i < plug->nr_devs; i++)
    if (plug->devs[i] == bdev) return;
  if (plug->nr_devs == blk_plug::kMaxDevs) blk_flush_plug(plug);
  plug->devs[plug->nr_devs++] = bdev;
}

}  // namespace

int blk_status_to_errno(blk_status_t status) {
  for (const auto& e : kStatusTable)
    if (e.status == status) return e.err;
  return -EIO;
}

blk_status_t errno_to_blk_status(int err) {
  for (const auto& e : kStatusTable)
    if (e.err == err) return e.status;
  return BLK_STS_IOERR;
}

const char* blk_status_name(blk_status_t status) {
  for (const auto& e : kStatusTable)
    if (e.status == status) return e.name;
  return "BLK_STS_?";
}

const char* op_name(blk_opf_t opf) {
  switch (op_of(opf)) {
    case REQ_OP_READ: return "READ";
    case REQ_OP_WRITE: return "WRITE";
    case REQ_OP_FLUSH: return "FLUSH";
    case REQ_OP_DISCARD: return "DISCARD";
    default: return "OP?";
  }
}

void blk_count_split(block_device* bdev) { bdev->st_.splits.fetch_add(1, std::memory_order_relaxed); }

/**
 * blk_mq_submit_bio() - give @bio (already checked and split) a request on @bdev and
 * start it; @preset, if not OK, makes the request end with that status untouched.
 */
void blk_mq_submit_bio(block_device* bdev, bio* b, blk_status_t preset) {
  // The completion task frees the slots: it must never sleep waiting for one.
  const bool in_irq = bdev->in_completion_context();
  const bool nowait = any(b->bi_opf, REQ_NOWAIT) || in_irq;
  bool offline = false;
  request* rq = bdev->get_request(nowait, &offline);
  if (!rq) {
    // Refused before reaching the device: completes here, in the submitter.
    WARN_ON_ONCE(in_irq && !offline);
    b->bi_status = offline ? BLK_STS_OFFLINE : BLK_STS_AGAIN;
    bio_endio(b);
    return;
  }
  rq->rq_bio = b;
  rq->bytes = b->bi_iter.bi_size;
  rq->start_ns = ktime_get_ns();
  rq->deadline_ns = 0;
  rq->rq_next = nullptr;
  rq->status = preset != BLK_STS_OK ? preset : bdev->fault_check(b);

  auto& st = bdev->st_;
  switch (bio_op(b)) {
    case REQ_OP_READ:
      st.reads.fetch_add(1, std::memory_order_relaxed);
      st.read_bytes.fetch_add(rq->bytes, std::memory_order_relaxed);
      break;
    case REQ_OP_WRITE:
      st.writes.fetch_add(1, std::memory_order_relaxed);
      st.write_bytes.fetch_add(rq->bytes, std::memory_order_relaxed);
      break;
    case REQ_OP_FLUSH:
      st.flushes.fetch_add(1, std::memory_order_relaxed);
      break;
    default:  // refused (BLK_STS_NOTSUPP); counted only as completed and failed
      break;
  }

  task_struct* t = current();
  blk_plug* plug = t ? t->plug : nullptr;
  if (!plug) {
    bdev->queue_rq(rq, true);
    return;
  }
  blk_plug_add(plug, bdev);
  bdev->queue_rq(rq, false);
  if (++plug->rq_count >= BLK_MAX_REQUEST_COUNT) blk_flush_plug(plug);
}

void submit_bio(bio* b) {
  block_device* bdev = b->bi_bdev;
  if (WARN_ON_ONCE(!bdev)) {
    b->bi_status = BLK_STS_IOERR;
    bio_endio(b);
    return;
  }
  // Submitting a bio that is already in flight would complete it twice: refuse.
  if (WARN_ON_ONCE(test_and_set_bit(BIO_INFLIGHT, &b->bi_flags))) return;
  const blk_status_t st = blk_check_bio(bdev, b);
  if (st != BLK_STS_OK) {
    blk_mq_submit_bio(bdev, b, st);
    return;
  }
  // __bio_split_to_limits(): peel off what fits, chained to the rest, until the rest fits.
  while (unsigned bytes = blk_split_bytes(bdev->limits(), b)) {
    // Only a bio that goes out as one request is polled (as iomap polls only single-bio
    // I/O): the parts of a split one complete in the completion task.
    b->bi_opf = b->bi_opf & ~REQ_POLLED;
    bio* split = bio_split(b, static_cast<int>(bytes >> SECTOR_SHIFT));
    if (IS_ERR(split)) break;  // cannot happen for a checked bio; the WARN is recorded
    bio_chain(split, b);
    bio_set_flag(split, BIO_INFLIGHT);
    blk_count_split(bdev);
    blk_mq_submit_bio(bdev, split, BLK_STS_OK);
  }
  blk_mq_submit_bio(bdev, b, BLK_STS_OK);
}

int submit_bio_wait(bio* b) {
  if (b->bi_bdev && WARN_ON_ONCE(b->bi_bdev->in_completion_context())) return -EDEADLK;
  if (WARN_ON_ONCE(bio_flagged(b, BIO_INFLIGHT))) return -EBUSY;
  auto* w = new bio_waiter;
  b->bi_private = w;
  b->bi_end_io = submit_bio_wait_endio;
  submit_bio(b);
  if (task_struct* t = current(); t && t->plug) blk_flush_plug(t->plug);
  try {
    wait_for_completion(&w->done);
  } catch (...) {
    w->put();  // the completion, if it ever comes, frees the waiter
    throw;
  }
  w->put();
  return blk_status_to_errno(b->bi_status);
}

void blk_start_plug(blk_plug* plug) {
  task_struct* t = current();
  VM_BUG_ON(!(t && "blk_start_plug() outside a model task"));
  if (!t || t->plug) return;  // nested: the outer plug owns the batch
  *plug = blk_plug{};
  t->plug = plug;
}

void blk_flush_plug(blk_plug* plug) {
  // Commit each device once; a device's commit may not add to the plug.
  const unsigned n = plug->nr_devs;
  block_device* devs[blk_plug::kMaxDevs];
  for (unsigned i = 0; i < n; i++) devs[i] = plug->devs[i];
  plug->nr_devs = 0;
  plug->rq_count = 0;
  for (unsigned i = 0; i < n; i++) devs[i]->commit_rqs();
}

void blk_finish_plug(blk_plug* plug) {
  task_struct* t = current();
  if (!t || t->plug != plug) return;
  blk_flush_plug(plug);
  t->plug = nullptr;
}

}  // namespace guplab
