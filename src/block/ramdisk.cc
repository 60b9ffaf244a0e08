// ramdisk.cc - the in-memory block device and its DMA engine.
#include "base/buggify.h"
#include "block/ramdisk.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "base/errno.h"
#include "machine/boot_cache.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "base/bug.h"
#include "machine/sync_point_names.h"

namespace guplab {

namespace {

void* map_host(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, bytes, MADV_HUGEPAGE);  // fewer host faults and TLB misses; best effort
  return p;
}

/** The device reads a page frame the CPU may be writing: relaxed word loads. */
void dma_from_page(char* dst, const char* page_src, size_t n) {
  auto* s = reinterpret_cast<const uint64_t*>(page_src);
  auto* d = reinterpret_cast<uint64_t*>(dst);
  for (size_t i = 0; i < n / 8; i++) d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}
/** The device writes a page frame the CPU may be reading: relaxed word stores. */
void dma_to_page(char* page_dst, const char* src, size_t n) {
  auto* s = reinterpret_cast<const uint64_t*>(src);
  auto* d = reinterpret_cast<uint64_t*>(page_dst);
  for (size_t i = 0; i < n / 8; i++) __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

std::string fmt_ns(uint64_t ns) {
  if (ns == 0) return "0";
  if (ns % NSEC_PER_MSEC == 0) return fmt::format("{}ms", ns / NSEC_PER_MSEC);
  if (ns % NSEC_PER_USEC == 0) return fmt::format("{}us", ns / NSEC_PER_USEC);
  return fmt::format("{}ns", ns);
}

}  // namespace

int ramdisk::create(Machine* m, std::string name, const ramdisk_config& cfg, std::unique_ptr<ramdisk>* out) {
  const queue_limits& lim = cfg.limits;
  const unsigned lbs = lim.logical_block_size;
  if (!m || name.empty() || cfg.queue_depth == 0 || cfg.queue_depth > 4096) return -EINVAL;
  if (lbs < SECTOR_SIZE || (lbs & (lbs - 1)) || lbs > 64 * 1024) return -EINVAL;
  if (cfg.size_bytes == 0 || cfg.size_bytes % lbs) return -EINVAL;
  if (lim.max_sectors == 0 || (static_cast<uint64_t>(lim.max_sectors) << SECTOR_SHIFT) % lbs) return -EINVAL;
  if (lim.max_segments == 0 || lim.dma_alignment < 7 || ((lim.dma_alignment + 1) & lim.dma_alignment)) return -EINVAL;
  if (cfg.dma_chunk == 0 || cfg.dma_chunk % 8) return -EINVAL;
  // Machines booted from a BootCache (the explorer) take zeroed buffers from it.
  HostBufferCache* bufs = m->config().boot_cache ? &m->config().boot_cache->bufs : nullptr;
  auto get = [bufs](uint64_t bytes) {
    void* p = bufs ? bufs->take(bytes) : nullptr;
    return p ? p : map_host(bytes);
  };
  char* storage = cfg.storage ? cfg.storage : static_cast<char*>(get(cfg.size_bytes));
  if (!storage) return -ENOMEM;
  uint64_t* gens = nullptr;
  if (cfg.track_generations) {
    gens = static_cast<uint64_t*>(get(gens_bytes(cfg)));
    if (!gens) {
      if (!cfg.storage) munmap(storage, cfg.size_bytes);
      return -ENOMEM;
    }
  }
  std::unique_ptr<ramdisk> rd(new ramdisk(m, std::move(name), cfg, storage, gens, bufs));
  rd->start();
  *out = std::move(rd);
  return 0;
}

ramdisk::ramdisk(Machine* m, std::string name, const ramdisk_config& cfg, char* storage, uint64_t* gens,
                 HostBufferCache* bufs)
    : block_device(m, std::move(name), cfg.size_bytes >> SECTOR_SHIFT, cfg.limits, cfg.queue_depth),
      cfg_(cfg),
      storage_(storage),
      gens_(gens),
      bufs_(bufs) {
  spin_lock_init(&queue_lock_, "ramdisk queue");
  spin_lock_init(&storage_lock_, "ramdisk storage");
  init_waitqueue_head(&wq_, "ramdisk irq");
  if (bufs_) dirty_.assign((cfg.size_bytes / kDirtyBlock + 1 + 63) / 64, 0);
}

ramdisk::~ramdisk() {
  stop();
  if (!bufs_) {
    if (!cfg_.storage) munmap(storage_, cfg_.size_bytes);
    if (gens_) munmap(gens_, gens_bytes(cfg_));
    return;
  }
  // Back to the cache as a fresh mapping reads: zero every block a write touched. The
  // device is stopped, nobody else reaches the buffers: no lock (a lock would be a
  // scheduling point under sim, which a fresh mapping's unmap is not).
  const uint64_t sectors_per_block = kDirtyBlock >> SECTOR_SHIFT;
  for (size_t w = 0; w < dirty_.size(); w++) {
    for (uint64_t bits = dirty_[w]; bits; bits &= bits - 1) {
      const uint64_t blk = w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
      const uint64_t off = blk * kDirtyBlock;
      if (off >= cfg_.size_bytes) continue;
      const uint64_t len = std::min<uint64_t>(kDirtyBlock, cfg_.size_bytes - off);
      if (!cfg_.storage) std::memset(storage_ + off, 0, len);
      if (gens_) std::memset(gens_ + blk * sectors_per_block, 0, (len >> SECTOR_SHIFT) * sizeof(uint64_t));
    }
  }
  if (!cfg_.storage) bufs_->give(storage_, cfg_.size_bytes);
  if (gens_) bufs_->give(gens_, gens_bytes(cfg_));
}

void ramdisk::mark_dirty(sector_t sector, uint64_t bytes) {
  if (dirty_.empty() || bytes == 0) return;
  const uint64_t first = (sector << SECTOR_SHIFT) / kDirtyBlock;
  const uint64_t last = ((sector << SECTOR_SHIFT) + bytes - 1) / kDirtyBlock;
  for (uint64_t b = first; b <= last; b++) dirty_[b / 64] |= 1ull << (b % 64);
}

std::string ramdisk::describe() const {
  return fmt::format("{}: {} {} MiB, lbs {}, depth {}, latency {}, generations {}", name(),
                     cfg_.storage ? "pmem (frames of the machine's RAM)" : "ramdisk",
                     cfg_.size_bytes >> 20, limits().logical_block_size, queue_depth(), fmt_ns(cfg_.latency_ns),
                     cfg_.track_generations ? "on" : "off");
}

void ramdisk::queue_rq(request* rq, bool last) {
  rq->deadline_ns = rq->start_ns + cfg_.latency_ns;
  {
    SpinGuard g(&queue_lock_);
    if (tail_)
      tail_->rq_next = rq;
    else
      head_ = rq;
    tail_ = rq;
  }
  if (last) wake_up(&wq_);
}

void ramdisk::commit_rqs() { wake_up(&wq_); }

void ramdisk::wake_completion_task() { wake_up(&wq_); }

void ramdisk::completion_loop() {
  for (;;) {
    request* batch;
    wait_event(&wq_, [this] {
      SpinGuard g(&queue_lock_);
      return head_ != nullptr || kthread_should_stop();
    });
    {
      SpinGuard g(&queue_lock_);
      batch = head_;
      head_ = tail_ = nullptr;
    }
    if (!batch) {
      if (kthread_should_stop()) return;
      continue;
    }
    while (batch) {
      request* rq = batch;
      batch = rq->rq_next;
      if (cfg_.latency_ns) {
        const uint64_t now = ktime_get_ns();
        if (rq->deadline_ns > now) sleep_ns(rq->deadline_ns - now);
      }
      // Fault injection (sim): a slow device, or a request that fails as a dying disk's does.
      if (sim_buggify("ramdisk:delay")) sleep_ns(20 * NSEC_PER_USEC);
      blk_status_t st = rq->status;
      if (st == BLK_STS_OK) st = sim_buggify("ramdisk:eio") ? BLK_STS_IOERR : do_request(rq);
      end_request(rq, st);
    }
  }
}

blk_status_t ramdisk::do_request(request* rq) {
  bio* b = rq->rq_bio;
  const blk_opf_t op = bio_op(b);
  if (op == REQ_OP_FLUSH) return BLK_STS_OK;  // no volatile cache
  const bool write = op == REQ_OP_WRITE;
  sector_t sector = b->bi_iter.bi_sector;
  if (machine()->tracing())
    machine()->trace(fmt::format("{}: dma {} sector {} +{} bytes", name(), write ? "write to" : "read from", sector,
                                 b->bi_iter.bi_size));
  SpinGuard g(&storage_lock_);
  const uint64_t gen = write ? ++write_seq_ : 0;
  cursor_ = dma_cursor_t{true, write, sector, 0, nullptr};
  bio_vec bv;
  bvec_iter iter;
  bio_for_each_segment(bv, b, iter) {
    char* frame = bvec_virt(&bv);
    cursor_.page_ = bvec_page(&bv);
    for (unsigned done = 0; done < bv.bv_len;) {
      const unsigned n = std::min(cfg_.dma_chunk, bv.bv_len - done);
      char* disk = storage_ + (sector << SECTOR_SHIFT) + done;
      if (write) {
        dma_from_page(disk, frame + done, n);
        if (gens_) {
          const sector_t first = sector + (done >> SECTOR_SHIFT);
          const sector_t last = sector + ((done + n - 1) >> SECTOR_SHIFT);
          for (sector_t s = first; s <= last; s++) gens_[s] = gen;
        }
      } else {
        dma_to_page(frame + done, disk, n);
      }
      done += n;
      cursor_.bytes_done += n;
      TEST_SYNC_POINT(sp::kRamdiskDmaChunk);
      cond_resched();  // a CPU store may land between two chunks
    }
    if (write) mark_dirty(sector, bv.bv_len);
    sector += bv.bv_len >> SECTOR_SHIFT;
  }
  cursor_ = dma_cursor_t{};
  return BLK_STS_OK;
}

int ramdisk::read_sectors(sector_t sector, unsigned nr, void* buf, uint64_t* gens) const {
  if (sector > nr_sectors() || nr > nr_sectors() - sector) return -EINVAL;
  SpinGuard g(&storage_lock_);
  std::memcpy(buf, storage_ + (sector << SECTOR_SHIFT), static_cast<size_t>(nr) << SECTOR_SHIFT);
  if (gens) {
    if (gens_)
      std::memcpy(gens, gens_ + sector, nr * sizeof(uint64_t));
    else
      std::memset(gens, 0, nr * sizeof(uint64_t));
  }
  return 0;
}

int ramdisk::write_sectors(sector_t sector, unsigned nr, const void* buf) {
  if (sector > nr_sectors() || nr > nr_sectors() - sector) return -EINVAL;
  SpinGuard g(&storage_lock_);
  const uint64_t gen = ++write_seq_;
  std::memcpy(storage_ + (sector << SECTOR_SHIFT), buf, static_cast<size_t>(nr) << SECTOR_SHIFT);
  mark_dirty(sector, static_cast<uint64_t>(nr) << SECTOR_SHIFT);
  if (gens_)
    for (unsigned i = 0; i < nr; i++) gens_[sector + i] = gen;
  return 0;
}

ramdisk::dma_cursor_t ramdisk::dma_cursor() const {
  VM_BUG_ON(!(in_completion_context() && "dma_cursor() belongs to the completion task"));
  return cursor_;
}

uint64_t ramdisk::sector_generation(sector_t sector) const {
  if (!gens_ || sector >= nr_sectors()) return 0;
  SpinGuard g(&storage_lock_);
  return gens_[sector];
}

uint64_t ramdisk::write_generation() const {
  SpinGuard g(&storage_lock_);
  return write_seq_;
}

}  // namespace guplab
