// blk_types.h - the block layer's basic types (include/linux/blk_types.h): sectors,
// completion status codes, the operation and flags of a bio, and bio flag bits.
//
// Threading: plain values.
#pragma once
#include <cstdint>

#include "base/flags.h"

namespace guplab {

/** sector_t - a 512-byte sector number, whatever the device's logical block size. */
using sector_t = uint64_t;
inline constexpr unsigned SECTOR_SHIFT = 9;
inline constexpr unsigned SECTOR_SIZE = 1u << SECTOR_SHIFT;

/**
 * blk_status_t - how an I/O ended, as the block layer reports it to a bio's owner.
 * Values are the kernel's; blk_status_to_errno() maps them to errnos.
 */
enum class blk_status_t : uint8_t {
  BLK_STS_OK = 0,
  BLK_STS_NOTSUPP = 1,     // -EOPNOTSUPP: the device does not do this operation
  BLK_STS_TIMEOUT = 2,     // -ETIMEDOUT
  BLK_STS_NOSPC = 3,       // -ENOSPC
  BLK_STS_TRANSPORT = 4,   // -ENOLINK
  BLK_STS_TARGET = 5,      // -EREMOTEIO
  BLK_STS_MEDIUM = 7,      // -ENODATA
  BLK_STS_PROTECTION = 8,  // -EILSEQ
  BLK_STS_RESOURCE = 9,    // -ENOMEM
  BLK_STS_IOERR = 10,      // -EIO: the medium failed (and injected errors)
  BLK_STS_AGAIN = 12,      // -EAGAIN: REQ_NOWAIT and the queue is full
  BLK_STS_DEV_RESOURCE = 13,  // -EBUSY
  BLK_STS_OFFLINE = 16,    // -ENODEV: the device is going away
  BLK_STS_INVAL = 19,      // -EINVAL: misaligned or malformed I/O
};
using enum blk_status_t;

/** blk_status_to_errno() - 0 or the negative errno for @status (-EIO if unknown). */
int blk_status_to_errno(blk_status_t status);
/** errno_to_blk_status() - the status for a (negative) errno; BLK_STS_IOERR if unknown. */
blk_status_t errno_to_blk_status(int err);
/** blk_status_name() - "BLK_STS_IOERR" etc., for messages. */
const char* blk_status_name(blk_status_t status);

/**
 * blk_opf_t - a bio's operation (the low 8 bits, REQ_OP_*) and its flags (REQ_*).
 * Compare operations through bio_op() / op_of(), flags with any().
 */
enum class blk_opf_t : uint32_t {
  REQ_OP_READ = 0,
  REQ_OP_WRITE = 1,
  REQ_OP_FLUSH = 2,    // make completed writes durable; carries no data
  REQ_OP_DISCARD = 3,  // not supported by the lab's devices: BLK_STS_NOTSUPP
  REQ_OP_MASK = 0xff,
  REQ_SYNC = 1u << 11,      // a waiter is waiting for it
  REQ_META = 1u << 12,      // filesystem metadata
  REQ_IDLE = 1u << 15,
  REQ_FUA = 1u << 17,       // durable when it completes
  REQ_PREFLUSH = 1u << 18,  // flush earlier completed writes before this one
  REQ_RAHEAD = 1u << 19,    // readahead: may fail
  REQ_BACKGROUND = 1u << 20,
  REQ_NOWAIT = 1u << 21,    // never sleep for a queue slot: BLK_STS_AGAIN instead
  REQ_POLLED = 1u << 22,    // the submitter reaps its completion itself (bdev_poll()); see block/blkdev.h
};
GUPLAB_ENUM_FLAGS(blk_opf_t)
using enum blk_opf_t;

/** op_of() - the REQ_OP_* part of @opf. */
constexpr blk_opf_t op_of(blk_opf_t opf) { return opf & REQ_OP_MASK; }
/** op_is_write() - does @opf move data to the device? (REQ_OP_WRITE, odd ops) */
constexpr bool op_is_write(blk_opf_t opf) { return (static_cast<uint32_t>(opf) & 1u) != 0; }
/** op_name() - "READ", "WRITE", "FLUSH", "DISCARD" or "OP?" */
const char* op_name(blk_opf_t opf);

/** Bit numbers of bio->bi_flags (bio_flagged(), bio_set_flag()). */
enum bio_flag : unsigned {
  BIO_PAGE_PINNED,  // upstream: every page of the bio is a FOLL_PIN pin (release unpins)
  BIO_CLONED,       // shares another bio's bi_io_vec (a split); owns no pages
  BIO_CHAIN,        // children are chained to it: __bi_remaining counts them
  BIO_QUIET,        // do not log errors
  // lab-only:
  BIO_INFLIGHT,        // between submit_bio() and bio_endio()
  BIO_PAGES_RELEASED,  // bio_release_pages() has run
};

}  // namespace guplab
