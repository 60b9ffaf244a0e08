// fake_vma.h - the fake_vma pin design (seed 003, Glisse/Kara/Williams): a GUP pin is a
// *mapping* of the page, so rmap and the mapcounts see it.
//
// Each slow-path pin_user_pages*() call inserts, for every vma it pins pages of, one
// fake vma covering the pinned range into the rmap that the real vma's pages are found
// through: the file's i_mmap (kept first in the list, so rmap walkers meet the pin
// before any pte) and, for anonymous or private memory, the vma's anon_vma chains (an
// anon_vma_chain child, as fork gives a child vma). As Glisse wrote, the pin then
// counts in the page's mapcount: each pinned page gets one more _mapcount, through the
// same accounting a pte mapping uses (page_add_fake_rmap(), mm/rmap.h), so
// page_mapcount(), folio_mapped() and NR_ANON_MAPPED count it, and a pinned page whose
// ptes are all gone is still mapped. page_mkclean() meets the fake vma and skips or
// waits (writeback policy); try_to_unmap() meets it and fails, so reclaim keeps the page.
//
// Like every mapping (a pte mapping holds a page reference besides its _mapcount), a
// fake mapping also holds one reference: without it the frame would be freed under the
// device once the last pte and the page cache let go (munmap, truncate, exit), and the
// page allocator would find a freed page still mapped. Glisse's "inc mapcount and not
// refcount" is the departure the model does not make (docs/seeds.md).
//
// Bookkeeping, in page->lab_private (a lab-only word): the low 32 bits of each page
// count its fake mappings (the part of its _mapcount that is pins, so folio_pte_mapped()
// can tell real mappings from fake ones); the high 32 bits of a folio's head count the
// pins held on the folio (set by the grab, before the pin is handed out, so
// page_maybe_dma_pinned() has no false negative; attributed to a fake vma once the call
// has linked one). folio_fake_mapcount() reads the latter.
//
// The costs Jan Kara pointed out are real here: a fake vma is allocated and linked
// under i_mmap_rwsem / the anon_vma lock for every pinning call (a 1-page call pays
// all of it), GUP-fast cannot take those locks (pin_user_pages_fast() always falls back
// to the slow path under this design), and an unpin takes them again to unlink the fake
// vma, so it may sleep: at I/O completion (interrupt context, base/preempt.h) it must
// be queued to a worker (block/bio.h, pin_release_may_sleep()).
//
// Releasing, two ways. Seed 003's own: the pinner gets a handle from the pin call,
// pin_user_pages_fake(), and unpins through it, unpin_user_pages_fake(): the handle
// names the fake vmas the call linked and exactly which page each pin mapped. The
// generic unpin_user_page*() only has the page: the machine keeps a table folio ->
// (fake vma, page, pins) (Machine::fake_vmas()) that unpinning consults, taking the
// folio's most recent records. A fake vma leaves rmap when the last pin made through it
// goes (and holds a reference to its file until then, as a real vma does).
//
// Threading: fake_vma_insert() REQUIRES mmap_lock of @vma's mm held (read is enough);
// it sleeps (i_mmap_rwsem, anon_vma lock). Unpinning may sleep for the same locks
// (might_sleep() says so); it drops the pin count (and wakes sleepers in
// page_mkclean()) before taking them. The table is sharded under spinlocks.
#pragma once
#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "base/spinlock.h"
#include "mm/gup.h"
#include "mm/mm_types.h"
#include "mm/vma.h"

namespace guplab {

class Machine;
struct fake_vma;

/** One attribution: @pins pins of @p (a page of the folio it is filed under) made through @fv. */
struct fake_pin_record {
  fake_vma* fv;
  page* p;
  int pins;
};

/**
 * FakeVmaTable - which fake vmas hold the pins of each folio (Machine::fake_vmas()).
 * Threading: sharded spinlocks; any task.
 */
class FakeVmaTable {
 public:
  FakeVmaTable();
  FakeVmaTable(const FakeVmaTable&) = delete;
  FakeVmaTable& operator=(const FakeVmaTable&) = delete;
  /** add() - @pins pins of page @p (of folio @f) were made through @fv. */
  void add(folio* f, fake_vma* fv, page* p, int pins);
  /** take() - forget up to @pins pins of @f, most recent first; appends what it took to @out. */
  void take(folio* f, int pins, std::vector<fake_pin_record>* out);
  /** take_exact() - forget @pins pins of @p made through @fv; false (nothing taken) if not all there. */
  bool take_exact(folio* f, fake_vma* fv, page* p, int pins);
  /** records() - (page, fake vma) records held. */
  uint64_t records() const;

  std::atomic<uint64_t> inserted{0}, removed{0};

 private:
  static constexpr unsigned kShards = 64;
  struct Shard {
    mutable spinlock_t lock;
    std::unordered_map<folio*, std::vector<fake_pin_record>> map GUARDED_BY(lock);
  };
  Shard& shard(const folio* f) { return shards_[(reinterpret_cast<uintptr_t>(f) / sizeof(page)) % kShards]; }
  Shard shards_[kShards];
};

/** vma_is_gup_fake() - is @vma a fake vma (a GUP pin in rmap)? */
bool vma_is_gup_fake(const vm_area_struct* vma);

inline constexpr unsigned kFakePinsShift = 32;
inline constexpr unsigned long kFakeMapMask = (1ul << kFakePinsShift) - 1;

/**
 * folio_fake_mapcount() - pins held on @f under the fake_vma design (each one a fake
 * mapping once attributed); 0 under other designs.
 */
inline unsigned long folio_fake_mapcount(const folio* f) {
  return __atomic_load_n(&f->lab_private, __ATOMIC_ACQUIRE) >> kFakePinsShift;
}
/** page_fake_mapcount() - fake mappings of page @p: the part of its _mapcount that is pins. */
inline unsigned long page_fake_mapcount(const page* p) {
  return __atomic_load_n(&p->lab_private, __ATOMIC_ACQUIRE) & kFakeMapMask;
}

/**
 * fake_vma_insert() - a fake vma for pinning [@start, @end) of @vma, linked into rmap,
 * holding one "building" reference (fake_vma_put()). Returns nullptr on -ENOMEM.
 * REQUIRES: mmap_lock held; [@start, @end) inside @vma.
 */
fake_vma* fake_vma_insert(vm_area_struct* vma, unsigned long start, unsigned long end);
/**
 * fake_vma_account() - @pins pins just grabbed on the consecutive pages @p.. of one folio
 * (one each) belong to @fv: each page gets one fake mapping (_mapcount, via
 * page_add_fake_rmap()). REQUIRES: the pins were grabbed (fake_vma_grab()).
 */
void fake_vma_account(fake_vma* fv, page* p, int pins);
/** fake_vma_put() - drop the building reference; @fv leaves rmap if it holds no pins. */
void fake_vma_put(fake_vma* fv);

/** fake_vma_grab() - the design's grab: @refs references (the mappings') and @refs pins on @f. */
int fake_vma_grab(folio* f, int refs);
/**
 * fake_vma_unpin() - the design's unpin: @refs pins of @f released; the fake mappings
 * they made go from the mapcounts, the fake vmas they were made through lose them
 * (emptied ones leave rmap: sleeping locks), then @refs references. May sleep.
 */
void fake_vma_unpin(folio* f, int refs);

/**
 * pin_release_may_sleep() - may releasing a FOLL_PIN pin of @p sleep? The design's
 * kUnpinMaySleep (true under fake_vma: the unpin unlinks fake vmas under i_mmap_rwsem /
 * the anon_vma lock),
 * so a caller in interrupt context must queue the release to a worker (block/bio.h).
 */
bool pin_release_may_sleep(const page* p);

// ---- seed 003's API: the pinner holds the fake vmas ----------------------------------

/** fake_vma_pin - what one pin_user_pages_fake() call made: its fake vmas and pins. */
struct fake_vma_pin;

/**
 * pin_user_pages_fake() - pin_user_pages_fast() of the current mm, returning in
 * *@handle the fake vmas the call linked into rmap and which page each pin mapped
 * (Glisse's GUP(vma, ..., fake_anon, fake_vma)). Release with unpin_user_pages_fake()
 * (unpin_user_pages() of the same pages works too: see above). Under other designs it
 * pins as pin_user_pages_fast() and the handle just remembers the pages.
 * Returns pages pinned (> 0, *@handle set), or 0 / -errno (*@handle null).
 * REQUIRES: mmap_lock not held; @gup_flags without FOLL_PIN/FOLL_GET.
 */
long pin_user_pages_fake(unsigned long start, unsigned long nr_pages, foll_flags gup_flags, page** pages,
                         fake_vma_pin** handle);
/**
 * unpin_user_pages_fake() - release every pin @handle holds, each from the page and
 * through the fake vma it was made with (dirtying the pages first if @make_dirty),
 * unlink the fake vmas they emptied, and free @handle. May sleep. A pin already
 * released through unpin_user_pages() is not released twice (WARN).
 */
void unpin_user_pages_fake(fake_vma_pin* handle, bool make_dirty);
/** fake_vma_pin_nr_vmas() - how many fake vmas @handle's call linked. */
unsigned fake_vma_pin_nr_vmas(const fake_vma_pin* handle);

/** FakeVmaStats - what the design did on machine @m (tests, benchmarks). */
struct FakeVmaStats {
  uint64_t inserted = 0;    // fake vmas linked into rmap
  uint64_t removed = 0;     // fake vmas unlinked and freed
  uint64_t live = 0;        // still linked
  uint64_t attributed = 0;  // (page, fake vma) records live in the table
};
FakeVmaStats fake_vma_stats(Machine* m);

}  // namespace guplab
