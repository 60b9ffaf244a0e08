// direct-io.h - O_DIRECT: reads and writes straight between a task's user memory and a
// block device, with no page cache in between (fs/direct-io.c, fs/iomap/direct-io.c,
// block/fops.c).
//
// One call moves @count bytes between user address @ubuf of current->mm and the file
// at iocb->ki_pos. The user pages are pinned with pin_user_pages_fast() (FOLL_WRITE for
// a read: the device writes into them), put into bios as GUP pages (seed 004's
// BVEC_PFN_GUP bit, and upstream's BIO_PAGE_PINNED), and submitted; each bio's
// completion marks its pages dirty (reads) and unpins them with bio_release_pages().
// Every pin taken is released exactly once, on every path: nr_foll_pin_acquired ==
// nr_foll_pin_released once the I/O has completed.
//
// Where the bytes go is asked of a dio_get_block_t callback: file offset -> device sector
// and how far that extent runs. A raw block device maps identically
// (blkdev_dio_get_block()); a filesystem passes its own, with its inode as the host - a
// filesystem whose get_block_t fills a buffer_head wraps it in one (b_size in, BH_Mapped
// and b_blocknr out) - and may report holes: reads of a hole see zeros, writes into one
// with no allocation get -ENOTBLK (the kernel's "fall back to buffered I/O"). A page
// that straddles two extents goes into two bios and is pinned once for each, as the
// kernel's bio_iov_iter_get_pages() does.
//
// Errors, as the kernel's O_DIRECT: a buffer address, length or offset that is not a
// multiple of the device's logical block size (or misaligned for its DMA) -> -EINVAL;
// a bad user address -> -EFAULT; a device error -> the errno of its status (-EIO for
// medium errors and injected faults). The first error wins; a call that fails returns
// the error even if part of the transfer happened, as block/fops.c does. Reads stop at
// i_size (a short count, 0 at or past it); writes past the end of a raw device get
// -ENOSPC, or a short count if they start inside it. @count is capped at MAX_RW_COUNT.
//
// Synchronous and asynchronous: with iocb->ki_complete null the call sleeps until the
// transfer is done and returns its result. With ki_complete set it returns once every
// bio is submitted: -EIOCBQUEUED, and later ki_complete(iocb, result) runs exactly once
// in the device's completion task; or, if the result is known by then (an error found
// before any bio went out, a zero count, EOF, or every bio already completed), it
// returns that result and ki_complete is never called - the kernel's aio contract.
// On success iocb->ki_pos advances by the bytes transferred.
//
// Polled completion (block/blkdev.h's REQ_POLLED), on a device that can_poll(): the last
// bio of a call (its only one, mostly; a task must not sleep elsewhere with a polled bio
// outstanding, so earlier ones are not polled) goes REQ_POLLED if the call is
// synchronous or has IOCB_HIPRI. A synchronous call then reaps its own
// completion with bdev_poll() (on the uring device blocked in the host, one wake-up, the
// host's own, with or without IOCB_HIPRI) instead of sleeping until the completion task
// wakes it;
// an asynchronous IOCB_HIPRI call's ki_complete runs in whichever call of its
// submitter's bdev_poll() reaps it, and the submitter must poll until it does.
//
// Plugging: bios are submitted under the task's plug (blk_start_plug(); an outer plug
// of the caller batches several calls into one submission). Pinning may sleep (the
// slow path takes mmap_lock and faults), and a task must not sleep with plugged
// requests, so while the plug holds requests pins are taken with
// pin_user_pages_fast_only() and the plug is flushed before anything slower - what the
// kernel's schedule() does for a task that sleeps plugged.
//
// Threading: call from a model task whose mm is the buffer's (current->mm), without
// its mmap_lock held. ki_complete runs in the device's completion task: it must not
// sleep waiting for I/O on that device. A dio_file and its device must outlive every
// I/O started on them.
#pragma once
#include <cstddef>
#include <cstdint>

#include "base/flags.h"
#include "block/blk_types.h"

namespace guplab {

class block_device;
struct kiocb;

/** MAX_RW_COUNT - the most one read or write moves (INT_MAX rounded down to a page). */
inline constexpr size_t MAX_RW_COUNT = 0x7ffff000;

/** dio_mapping - where a range of a file lives on its device (dio_get_block_t's answer). */
struct dio_mapping {
  sector_t sector = 0;  // the device sector holding the first byte asked for
  uint64_t len = 0;     // bytes that continue contiguously from there (> 0)
  bool mapped = true;   // false: a hole (no blocks); @sector is then ignored
};

/**
 * dio_get_block_t - map file bytes starting at @pos (at most @len of them) for direct I/O.
 * @host: the dio_file's host (a filesystem's inode; unused for a raw device).
 * @create: the I/O is a write: allocate blocks for a hole if the filesystem can.
 * Fills *@map; @pos and the mapped sector are logical-block aligned, map->len is a
 * positive multiple of the logical block size. Returns 0 or -errno (failing the I/O).
 */
using dio_get_block_t = int (*)(void* host, uint64_t pos, uint64_t len, bool create, dio_mapping* map);

/** blkdev_dio_get_block() - the raw block device's identity mapping: byte @pos is sector @pos >> 9. */
int blkdev_dio_get_block(void* host, uint64_t pos, uint64_t len, bool create, dio_mapping* map);

/**
 * struct dio_file - what O_DIRECT needs of an open file: the device, the size, and how
 * file offsets map to sectors (the kernel's struct file + inode, reduced).
 */
struct dio_file {
  block_device* bdev = nullptr;
  uint64_t i_size = 0;                    // reads stop here
  dio_get_block_t get_block = blkdev_dio_get_block;
  void* host = nullptr;                   // handed to get_block
  bool is_blkdev = true;                  // a raw device: writes past i_size get -ENOSPC
};

/** blkdev_dio_file() - a dio_file for the whole of raw device @bdev. */
dio_file blkdev_dio_file(block_device* bdev);

/** iocb_flags - kiocb->ki_flags (include/linux/fs.h's IOCB_*). */
enum class iocb_flags : uint32_t {
  IOCB_NONE = 0,
  IOCB_HIPRI = 1u << 0,   // RWF_HIPRI: the submitter polls for the completion (spinning, if synchronous)
  IOCB_DSYNC = 1u << 1,   // RWF_DSYNC: durable on completion (writes go out REQ_FUA)
  IOCB_DIRECT = 1u << 17, // O_DIRECT (the only mode here; set or not, it is direct)
  IOCB_WRITE = 1u << 18,  // the I/O writes the file
};
GUPLAB_ENUM_FLAGS(iocb_flags)
using enum iocb_flags;

/** ki_complete_t - an asynchronous I/O is done: @res is bytes transferred or -errno. */
using ki_complete_t = void (*)(kiocb* iocb, long res);

/** struct kiocb - one I/O request on a file (include/linux/fs.h). */
struct kiocb {
  dio_file* ki_filp = nullptr;
  uint64_t ki_pos = 0;                     // file offset; advanced on success
  iocb_flags ki_flags = IOCB_DIRECT;
  ki_complete_t ki_complete = nullptr;     // null: synchronous
  void* ki_private = nullptr;              // the submitter's (kiocb->private)
};

/** init_sync_kiocb() - a synchronous kiocb on @filp at @pos. */
inline void init_sync_kiocb(kiocb* iocb, dio_file* filp, uint64_t pos, iocb_flags flags = IOCB_DIRECT) {
  *iocb = kiocb{};
  iocb->ki_filp = filp;
  iocb->ki_pos = pos;
  iocb->ki_flags = flags | IOCB_DIRECT;
}

/**
 * blockdev_direct_IO() - O_DIRECT transfer of @count bytes between user address @ubuf
 * of current->mm and @iocb->ki_filp at @iocb->ki_pos; a write if IOCB_WRITE is set.
 * Returns bytes transferred or -errno (see the header comment); -EIOCBQUEUED when
 * ki_complete will deliver the result. A null @iocb gets -EINVAL, a kiocb with no file
 * or device -EBADF.
 * REQUIRES: a model task; current->mm's mmap_lock not held by the caller.
 */
long blockdev_direct_IO(kiocb* iocb, unsigned long ubuf, size_t count);

/** dio_pread() - a synchronous O_DIRECT read of @count bytes at @pos into @ubuf. */
long dio_pread(dio_file* filp, unsigned long ubuf, size_t count, uint64_t pos);
/** dio_pwrite() - a synchronous O_DIRECT write of @count bytes from @ubuf at @pos. */
long dio_pwrite(dio_file* filp, unsigned long ubuf, size_t count, uint64_t pos);

}  // namespace guplab
