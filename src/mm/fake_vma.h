// fake_vma.h - the fake_vma pin design (seed 003, Glisse/Kara/Williams): a GUP pin is a
// *mapping* of the page, so rmap sees it.
//
// Each slow-path pin_user_pages*() call inserts, for every vma it pins pages of, one
// fake vma covering the pinned range into the rmap that the real vma's pages are found
// through: the file's i_mmap (kept first in the list, so rmap walkers meet the pin
// before any pte) and, for anonymous or private memory, the vma's anon_vma chains (an
// anon_vma_chain child, as fork gives a child vma). Each pinned page counts its fake
// mappings in page->lab_private of its folio, and the mapcount functions of mm/rmap.h
// add that in: a pinned page is mapped. page_mkclean() meets the fake vma and skips or
// waits (writeback policy); try_to_unmap() meets it and fails, so reclaim keeps the
// page. page_maybe_dma_pinned() is lab_private != 0 (set before the pin is handed out:
// no false negatives). A fake vma has no page tables and no mm of its own; walkers
// that do not ask for fake vmas (rmap_walk_control::fake_one) never see one.
//
// The costs Jan Kara pointed out are real here: a fake vma is allocated and linked
// under i_mmap_rwsem / the anon_vma lock for every pinning call (a 1-page call pays
// all of it), and GUP-fast cannot take those locks, so pin_user_pages_fast() always
// falls back to the slow path under this design.
//
// Releasing: the kernel proposal has the pinner hand the fake vma back; unpin_user_page()
// only has the page, so the machine keeps a table folio -> (fake vma, pins) that
// unpinning consults. A fake vma leaves rmap when the last pin made through it goes
// (and holds a reference to its file until then, as a real vma does).
//
// Threading: fake_vma_insert() REQUIRES mmap_lock of @vma's mm held (read is enough);
// it sleeps (i_mmap_rwsem, anon_vma lock). Unpinning may sleep for the same locks; it
// drops the pin count (and wakes sleepers in page_mkclean()) before taking them.
#pragma once
#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/spinlock.h"
#include "mm/mm_types.h"
#include "mm/vma.h"

namespace guplab {

class Machine;
struct fake_vma;

/**
 * FakeVmaTable - which fake vmas hold the pins of each folio (Machine::fake_vmas()).
 * Threading: sharded spinlocks; any task.
 */
class FakeVmaTable {
 public:
  FakeVmaTable();
  FakeVmaTable(const FakeVmaTable&) = delete;
  FakeVmaTable& operator=(const FakeVmaTable&) = delete;
  /** add() - @refs pins of @f were made through @fv. */
  void add(folio* f, fake_vma* fv, int refs);
  /** take() - forget up to @refs pins of @f; appends (fake vma, pins) to @out. */
  void take(folio* f, int refs, std::vector<std::pair<fake_vma*, int>>* out);
  /** records() - (folio, fake vma) records held. */
  uint64_t records() const;

  std::atomic<uint64_t> inserted{0}, removed{0};

 private:
  static constexpr unsigned kShards = 64;
  struct Shard {
    mutable spinlock_t lock;
    std::unordered_map<folio*, std::vector<std::pair<fake_vma*, int>>> map GUARDED_BY(lock);
  };
  Shard& shard(const folio* f) { return shards_[(reinterpret_cast<uintptr_t>(f) / sizeof(page)) % kShards]; }
  Shard shards_[kShards];
};

/** vma_is_gup_fake() - is @vma a fake vma (a GUP pin in rmap)? */
bool vma_is_gup_fake(const vm_area_struct* vma);

/** folio_fake_mapcount() - fake mappings (fake_vma pins) of @f; 0 under other designs. */
inline unsigned long folio_fake_mapcount(const folio* f) {
  return __atomic_load_n(&f->lab_private, __ATOMIC_ACQUIRE);
}

/**
 * fake_vma_insert() - a fake vma for pinning [@start, @end) of @vma, linked into rmap,
 * holding one "building" reference (fake_vma_put()). Returns nullptr on -ENOMEM.
 * REQUIRES: mmap_lock held; [@start, @end) inside @vma.
 */
fake_vma* fake_vma_insert(vm_area_struct* vma, unsigned long start, unsigned long end);
/** fake_vma_account() - @refs pins just taken on @f belong to @fv. */
void fake_vma_account(fake_vma* fv, folio* f, int refs);
/** fake_vma_put() - drop the building reference; @fv leaves rmap if it holds no pins. */
void fake_vma_put(fake_vma* fv);

/** fake_vma_grab() - the design's grab: @refs references and @refs fake mappings. */
int fake_vma_grab(folio* f, int refs);
/**
 * fake_vma_unpin() - the design's unpin: @refs fake mappings of @f released (the fake
 * vmas they were made through lose them; emptied ones leave rmap), then @refs references.
 */
void fake_vma_unpin(folio* f, int refs);

/** FakeVmaStats - what the design did on machine @m (tests, benchmarks). */
struct FakeVmaStats {
  uint64_t inserted = 0;    // fake vmas linked into rmap
  uint64_t removed = 0;     // fake vmas unlinked and freed
  uint64_t live = 0;        // still linked
  uint64_t attributed = 0;  // (folio, fake vma) records live in the table
};
FakeVmaStats fake_vma_stats(Machine* m);

}  // namespace guplab
