// bio.cc - allocating, building, splitting, chaining, completing and releasing bios.
#include "block/bio.h"

#include <climits>
#include <new>
#include <vector>

#include "base/errno.h"
#include "base/preempt.h"
#include "block/blkdev.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/fake_vma.h"
#include "mm/gup.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"
#include "mm/pagemap.h"
#include "mm/pin_design.h"
#include "mm/swap.h"

namespace guplab {

namespace {

/** How a bio was allocated: the bio, then its inline bio_vecs. */
size_t bio_alloc_size(unsigned nr_vecs) { return sizeof(bio) + nr_vecs * sizeof(bio_vec); }

bio* bio_new(block_device* bdev, unsigned short nr_vecs, blk_opf_t opf) {
  void* mem = ::operator new(bio_alloc_size(nr_vecs));
  auto* b = new (mem) bio;
  b->bi_bdev = bdev;
  b->bi_opf = opf;
  atomic_set(&b->__bi_remaining, 1);
  atomic_set(&b->__bi_cnt, 1);
  b->bi_max_vecs = nr_vecs;
  b->bi_io_vec = nr_vecs ? reinterpret_cast<bio_vec*>(b + 1) : nullptr;
  return b;
}

void bio_free(bio* b) {
  b->~bio();
  ::operator delete(b);
}

/** bio_remaining_done() - account one completion; true when none is still due. */
bool bio_remaining_done(bio* b) {
  if (!bio_flagged(b, BIO_CHAIN)) return true;
  if (WARN_ON_ONCE(atomic_read(&b->__bi_remaining) <= 0)) return true;
  if (atomic_dec_and_test(&b->__bi_remaining)) {
    bio_clear_flag(b, BIO_CHAIN);
    return true;
  }
  return false;
}

/** The first error wins: set @parent's status only while it is still OK. */
void bio_set_status_once(bio* parent, blk_status_t st) {
  auto* p = reinterpret_cast<uint8_t*>(&parent->bi_status);
  uint8_t expected = static_cast<uint8_t>(BLK_STS_OK);
  __atomic_compare_exchange_n(p, &expected, static_cast<uint8_t>(st), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/** __bio_chain_endio() - a chained child completed: pass its error up, put it. */
bio* __bio_chain_endio(bio* child) {
  bio* parent = static_cast<bio*>(child->bi_private);
  const blk_status_t st = child->bi_status;
  if (st != BLK_STS_OK) bio_set_status_once(parent, st);
  bio_put(child);
  return parent;
}

}  // namespace

unsigned bio_segments(const bio* b) {
  unsigned n = 0;
  bio_vec bv;
  bvec_iter iter;
  bio_for_each_segment(bv, b, iter) n++;
  return n;
}

bio* bio_alloc(block_device* bdev, unsigned short nr_vecs, blk_opf_t opf) {
  if (nr_vecs > BIO_MAX_VECS) return nullptr;
  return bio_new(bdev, nr_vecs, opf);
}

void bio_get(bio* b) { atomic_inc(&b->__bi_cnt); }

void bio_put(bio* b) {
  if (WARN_ON_ONCE(atomic_read(&b->__bi_cnt) <= 0)) return;
  if (!atomic_dec_and_test(&b->__bi_cnt)) return;
  if (WARN_ON_ONCE(bio_flagged(b, BIO_INFLIGHT))) return;  // the device still has it: leak, not free
  bio_free(b);
}

void bio_set_dev(bio* b, block_device* bdev) {
  WARN_ON_ONCE(bio_flagged(b, BIO_INFLIGHT));
  b->bi_bdev = bdev;
}

unsigned bio_add_page(bio* b, page* p, unsigned len, unsigned off, bool is_gup) {
  if (WARN_ON_ONCE(!p || len == 0 || off >= PAGE_SIZE || len > PAGE_SIZE - off)) return 0;
  if (WARN_ON_ONCE(bio_flagged(b, BIO_CLONED) || bio_flagged(b, BIO_INFLIGHT))) return 0;
  // The caller hands over a reference or a pin, so the page cannot be free.
  if (WARN_ON_ONCE(page_ref_count(compound_head(p)) <= 0)) return 0;
  // A device DMAs into its own machine's RAM only.
  if (WARN_ON_ONCE(b->bi_bdev && page_machine(p) != b->bi_bdev->machine())) return 0;
  if (b->bi_vcnt >= b->bi_max_vecs) return 0;
  if (b->bi_iter.bi_size > UINT_MAX - len) return 0;
  // A page said to come from GUP must look pinned to every design that tracks pins
  // (no false negatives); under `get` nothing is tracked.
  if (is_gup && pin_design_props(page_machine(p)->pin_design()).tracks_pins) WARN_ON_ONCE(!page_maybe_dma_pinned(p));
  bvec_set_page(&b->bi_io_vec[b->bi_vcnt++], p, len, off, is_gup);
  b->bi_iter.bi_size += len;
  return len;
}

void bio_advance(bio* b, unsigned bytes) {
  if (!bytes) return;
  bio_advance_iter(b, &b->bi_iter, bytes);
}

bio* bio_split(bio* b, int sectors) {
  if (WARN_ON_ONCE(sectors <= 0 || static_cast<unsigned>(sectors) >= bio_sectors(b))) return ERR_PTR<bio>(-EINVAL);
  bio* split = bio_new(b->bi_bdev, 0, b->bi_opf);
  split->bi_io_vec = b->bi_io_vec;
  split->bi_iter = b->bi_iter;
  split->bi_iter.bi_size = static_cast<unsigned>(sectors) << SECTOR_SHIFT;
  bio_set_flag(split, BIO_CLONED);
  bio_advance(b, split->bi_iter.bi_size);
  return split;
}

void bio_chain_endio(bio* b) { bio_endio(__bio_chain_endio(b)); }

int bio_chain(bio* b, bio* parent) {
  if (WARN_ON_ONCE(b->bi_private || b->bi_end_io || b == parent)) return -EINVAL;
  b->bi_private = parent;
  b->bi_end_io = bio_chain_endio;
  // bio_inc_remaining(): the parent now waits for one more completion.
  bio_set_flag(parent, BIO_CHAIN);
  smp_mb();
  atomic_inc(&parent->__bi_remaining);
  return 0;
}

void bio_endio(bio* b) {
  for (;;) {
    if (!bio_remaining_done(b)) return;
    bio_clear_flag(b, BIO_INFLIGHT);
    // Walk up chains iteratively rather than recursing through bio_chain_endio().
    if (b->bi_end_io == bio_chain_endio) {
      b = __bio_chain_endio(b);
      continue;
    }
    if (b->bi_end_io) b->bi_end_io(b);
    return;
  }
}

namespace {

/** One page of a bio to release: how it was taken. */
struct released_page {
  page* p;
  bool pinned;
};

void release_now(const released_page* v, unsigned n, bool mark_dirty) {
  for (unsigned i = 0; i < n; i++) {
    page* p = v[i].p;
    if (v[i].pinned) {
      // Not set_page_dirty_lock() + unpin: a page already dirty must not need its lock
      // here (page_mkclean() may hold it, waiting for this unpin).
      unpin_user_pages_dirty_lock(&p, 1, mark_dirty);
    } else {
      put_page(p);
    }
  }
}

/**
 * release_may_sleep() - could releasing @rp sleep? A pin under a design whose unpin
 * takes sleeping locks (fake_vma), or a page to dirty that is not dirty yet (its lock).
 */
bool release_may_sleep(const released_page& rp, bool mark_dirty) {
  if (rp.pinned && pin_release_may_sleep(rp.p)) return true;
  return mark_dirty && !PageDirty(compound_head(rp.p));
}

}  // namespace

void bio_set_pages_dirty(bio* b) {
  for (unsigned i = 0; i < b->bi_vcnt; i++) {
    folio* f = page_folio(bvec_page(&b->bi_io_vec[i]));
    if (PageDirty(f) || PageZero(f)) continue;
    if (!folio_trylock(f)) {
      // Sleeping for the lock with requests of ours still plugged could wait for them.
      if (task_struct* t = current(); t && t->plug) blk_flush_plug(t->plug);
      folio_lock(f);
    }
    folio_mark_dirty(f);
    folio_unlock(f);
  }
}

void bio_release_pages(bio* b, bool mark_dirty) {
  if (WARN_ON_ONCE(bio_flagged(b, BIO_CLONED))) return;
  if (WARN_ON_ONCE(test_and_set_bit(BIO_PAGES_RELEASED, &b->bi_flags))) return;
  const bool all_pinned = bio_flagged(b, BIO_PAGE_PINNED);
  constexpr unsigned kOnStack = 16;
  released_page stack[kOnStack];
  std::vector<released_page> heap;
  released_page* v = stack;
  if (b->bi_vcnt > kOnStack) {
    heap.resize(b->bi_vcnt);
    v = heap.data();
  }
  bool may_sleep = false;
  for (unsigned i = 0; i < b->bi_vcnt; i++) {
    const bio_vec* bv = &b->bi_io_vec[i];
    v[i] = released_page{bvec_page(bv), all_pinned || bvec_is_gup(bv)};
    may_sleep = may_sleep || release_may_sleep(v[i], mark_dirty);
  }
  block_device* bdev = b->bi_bdev;
  if (may_sleep && in_interrupt() && bdev && !bdev->release_inline()) {
    // As the kernel's bio_check_pages_dirty() punts to a worker: the pages (and their
    // pins) stay held until the device's worker releases them in process context.
    std::vector<released_page> work(v, v + b->bi_vcnt);
    bdev->deferred_work().queue_work(
        [work = std::move(work), mark_dirty] { release_now(work.data(), static_cast<unsigned>(work.size()), mark_dirty); });
    return;
  }
  if (!may_sleep && in_interrupt()) {
    // Every page to dirty was dirty when checked: as bio_check_pages_dirty(), release
    // them without dirtying again. One that writeback cleans from here on stays clean:
    // the DMA was over before that writeback read it. Dirtying it here would take its
    // lock in interrupt context.
    TEST_SYNC_POINT(sp::kBioReleaseChecked);
    release_now(v, b->bi_vcnt, false);
    return;
  }
  release_now(v, b->bi_vcnt, mark_dirty);
}

}  // namespace guplab
