// rmap.h - reverse mapping of anonymous memory: from a folio back to every (vma,
// address) that maps it, and the mapcount rules (the kernel's mm/rmap.c).
//
// An anonymous folio's mapping points at an anon_vma (| PAGE_MAPPING_ANON) and its
// index is its page offset in that anon_vma's linear space (vma->vm_pgoff-based). Each
// vma is linked to the anon_vmas whose pages it may map through anon_vma_chain records
// (one list per vma, one per anon_vma); fork gives the child vma links to all of the
// parent's anon_vmas plus an anon_vma of its own, so a page COW-shared between parent
// and child is found in both. anon_vmas of one fork tree share a root, whose rwsem
// guards every chain list of the tree.
//
// Mapcounts (upstream's scheme): a small page's _mapcount counts its pte mappings
// (minus one). A large folio counts PMD mappings in _entire_mapcount and pte mappings
// of each subpage in that subpage's _mapcount; _nr_pages_mapped counts subpages with a
// pte mapping, plus COMPOUND_MAPPED while PMD-mapped, which is how NR_ANON_MAPPED stays
// exact. PageAnonExclusive marks an anon page mapped by exactly one mm (set on the head
// while PMD-mapped, on each subpage once PTE-mapped); it is what lets a pinned page
// survive fork and COW.
//
// File folios are found through their mapping's i_mmap list (every vma mapping the file,
// under i_mmap_rwsem). Under the fake_vma pin design both kinds of rmap also hold fake
// vmas (mm/fake_vma.h): a pin as a mapping, counted in _mapcount like a pte mapping
// (page_add_fake_rmap()), so the mapcounts below include pins; folio_pte_mapped() tells
// the real ones apart (page->lab_private counts the fake share). Walkers see fake vmas
// only if they ask (rmap_walk_control::fake_one).
//
// Built on rmap_walk() and page_vma_mapped_walk(): page_mkclean() (writeback, seed
// 002's skip_pinned_pages form), try_to_unmap() (reclaim; pinned pages are skipped)
// and folio_referenced() (reclaim's aging).
//
// Threading: mapcount changes happen under the mapping mm's page_table_lock (and are
// atomic, so different mms may race). vma->anon_vma is set once (anon_vma_prepare(),
// mmap_lock read + page_table_lock); chain lists change under mmap_lock write (or at
// fork, with both mms write-locked) plus the root anon_vma's rwsem for write.
// anon_vma structs are freed after an RCU grace period, so rmap_walk() may look one up
// from a folio's mapping under rcu_read_lock().
#pragma once
#include "base/atomic.h"
#include "base/list.h"
#include "base/rcu.h"
#include "base/rwsem.h"
#include "base/thread_annotations.h"
#include "mm/mm_struct.h"
#include "mm/vma.h"

namespace guplab {

struct anon_vma {
  anon_vma* root = nullptr;    // the fork tree's root (itself for a root)
  anon_vma* parent = nullptr;  // the anon_vma it was forked from (informational)
  rw_semaphore rwsem;          // used in the root only: guards every head of the tree
  atomic_t refcount;           // 1 while any chain links it, +1 per child's root ref, +1 per walker
  list_head head GUARDED_BY(root->rwsem);  // anon_vma_chain.same_anon_vma entries
  rcu_head rcu;
};

struct anon_vma_chain {
  vm_area_struct* vma = nullptr;
  anon_vma* av = nullptr;
  list_head same_vma;       // in vma->anon_vma_chain
  list_head same_anon_vma;  // in av->head
};

inline void anon_vma_lock_write(anon_vma* av) ACQUIRE(av->root->rwsem) { down_write(&av->root->rwsem); }
inline void anon_vma_unlock_write(anon_vma* av) RELEASE(av->root->rwsem) { up_write(&av->root->rwsem); }
inline void anon_vma_lock_read(anon_vma* av) ACQUIRE_SHARED(av->root->rwsem) { down_read(&av->root->rwsem); }
inline void anon_vma_unlock_read(anon_vma* av) RELEASE_SHARED(av->root->rwsem) { up_read(&av->root->rwsem); }

/** put_anon_vma() - drop a reference; frees (after RCU) on the last. */
void put_anon_vma(anon_vma* av);
/**
 * unlink_anon_vmas_abandoned() - mm_abandon()'s unlink_anon_vmas(): free @vma's chains
 * and the anon_vmas nobody links any more, with no lock and no grace period.
 * REQUIRES: no task of the machine runs any more.
 */
void unlink_anon_vmas_abandoned(vm_area_struct* vma);

/**
 * anon_vma_prepare() - make sure @vma has an anon_vma before its first anon page.
 * Returns 0 or -ENOMEM. REQUIRES: mmap_lock held (read is enough).
 */
int anon_vma_prepare(vm_area_struct* vma);
/**
 * anon_vma_clone() - link @dst to every anon_vma @src is linked to (vma split, fork).
 * Returns 0 or -ENOMEM. REQUIRES: mmap_lock of both held for write.
 */
int anon_vma_clone(vm_area_struct* dst, vm_area_struct* src);
/**
 * anon_vma_fork() - anon_vma_clone() plus a new anon_vma of the child's own, under the
 * parent's root. @vma is the child's copy of @pvma. Returns 0 or -ENOMEM.
 */
int anon_vma_fork(vm_area_struct* vma, vm_area_struct* pvma);
/** unlink_anon_vmas() - drop all of @vma's links (before its tables are freed). */
void unlink_anon_vmas(vm_area_struct* vma);

/** rmap_t - flags for adding an anon mapping. */
enum class rmap_t : unsigned { RMAP_NONE = 0, RMAP_EXCLUSIVE = 1, RMAP_COMPOUND = 2 };
GUPLAB_ENUM_FLAGS(rmap_t)
using enum rmap_t;

/**
 * folio_add_new_anon_rmap() - first mapping of a new anon folio at @address of @vma:
 * sets mapping/index, PG_swapbacked, PageAnonExclusive, mapcount 1 (entire mapcount
 * for a large folio), NR_ANON_MAPPED (+NR_ANON_THPS for a large one).
 * REQUIRES: the folio is not yet visible to anyone else; vma->anon_vma set.
 */
void folio_add_new_anon_rmap(folio* f, vm_area_struct* vma, unsigned long address);
/**
 * page_add_anon_rmap() - one more mapping of an anon page already in the rmap.
 * RMAP_COMPOUND maps the whole folio by PMD; RMAP_EXCLUSIVE sets PageAnonExclusive.
 * REQUIRES: page_table_lock of @vma's mm.
 */
void page_add_anon_rmap(page* p, vm_area_struct* vma, unsigned long address, rmap_t flags);
/** page_add_file_rmap() - one more pte mapping of a file page. */
void page_add_file_rmap(page* p, vm_area_struct* vma, bool compound);
/** page_dup_file_rmap() - fork's extra mapping of a file page. */
inline void page_dup_file_rmap(page* p, vm_area_struct* vma, bool compound) { page_add_file_rmap(p, vma, compound); }
/**
 * page_try_dup_anon_rmap() - fork's extra mapping of an anon page (the child's).
 * Clears PageAnonExclusive, unless the page may be DMA-pinned (the source mm has ever
 * pinned and page_maybe_dma_pinned()), in which case it changes nothing and returns
 * -EBUSY: the caller must give the child a copy. Returns 0 or -EBUSY.
 * REQUIRES: the source's page_table_lock.
 */
int page_try_dup_anon_rmap(page* p, bool compound, vm_area_struct* src_vma);
/**
 * page_remove_rmap() - one mapping of @p (or of its whole folio with @compound) is
 * gone. The caller still drops the mapping's reference. REQUIRES: page_table_lock.
 */
void page_remove_rmap(page* p, vm_area_struct* vma, bool compound);
/**
 * folio_move_anon_rmap() - point an exclusively owned anon folio at @vma's anon_vma
 * (COW reuse). REQUIRES: folio locked.
 */
void folio_move_anon_rmap(folio* f, vm_area_struct* vma);

/**
 * page_add_fake_rmap() / page_remove_fake_rmap() - @nr fake mappings (fake_vma pins) of
 * @p come / go: _mapcount and NR_ANON_MAPPED exactly as @nr pte mappings would. The
 * caller (mm/fake_vma.cc) holds a reference per mapping, as a pte's owner does.
 */
void page_add_fake_rmap(page* p, int nr);
void page_remove_fake_rmap(page* p, int nr);

/**
 * page_mapcount() - mappings of this (sub)page, PMD mappings of its folio included;
 * fake mappings (fake_vma pins of this page) included, as they are in _mapcount.
 */
int page_mapcount(const page* p);
/** folio_entire_mapcount() - PMD mappings of a large folio. */
int folio_entire_mapcount(const folio* f);
/** folio_mapcount() - all mappings of all pages of @f, fake mappings included (in _mapcount). */
int folio_mapcount(const folio* f);
/** folio_mapped() - is any page of @f mapped anywhere (a fake mapping counts)? */
bool folio_mapped(const folio* f);
/** folio_pte_mapped() - is any page of @f mapped by a page table (fake mappings not counted)? */
bool folio_pte_mapped(const folio* f);

/** vma_address() - where @p would be mapped in @vma, or -EFAULT as unsigned if outside. */
unsigned long vma_address(const page* p, const vm_area_struct* vma);

/** rmap_walk_control - what rmap_walk() does at each mapping. */
struct rmap_walk_control {
  void* arg = nullptr;
  /** rmap_one() - @f may be mapped in @vma at @address (its first page's address,
   * possibly below vm_start for a large folio); false stops the walk. */
  bool (*rmap_one)(folio* f, vm_area_struct* vma, unsigned long address, void* arg) = nullptr;
  /** done() - optional: true once there is nothing more to do (e.g. !folio_mapped()). */
  bool (*done)(folio* f) = nullptr;
  /** invalid_vma() - optional: true to skip @vma. */
  bool (*invalid_vma)(vm_area_struct* vma, void* arg) = nullptr;
  /** fake_one() - optional: a fake vma (fake_vma design) covers @f; false stops the walk.
   * Without it fake vmas are skipped. */
  bool (*fake_one)(folio* f, vm_area_struct* fake, unsigned long address, void* arg) = nullptr;
};

/**
 * rmap_walk() - call rwc->rmap_one for every vma that may map @f: an anon folio's
 * anon_vma tree, or a file folio's i_mmap, each vma covering @f's index.
 * REQUIRES: @f locked (its mapping is then stable); no mmap_lock or page_table_lock
 * held by the caller. Takes the anon_vma root's rwsem, or i_mmap_rwsem, for read.
 */
void rmap_walk(folio* f, rmap_walk_control* rwc);

/**
 * page_mkclean() - write-protect and clean every pte mapping @p's folio, so the next
 * CPU store faults (->page_mkwrite) and dirties the page again. Seed 002's form: a page
 * that may be DMA-pinned (the pin design says so; under fake_vma, a fake vma is met) is
 * skipped when @skip_pinned_pages — its ptes stay as they are and the walk stops — and
 * otherwise treated as the writeback policy's row says (WbPolicy::mkclean): waited for
 * until unpinned under `wait` and `rfc002` (sync point "writeback:wait_pinned"), cleaned
 * under `bounce`, skipped under skip, keep_dirty and revoke. Under `ignore` (and the `get`
 * design) pins are not looked at.
 * Returns cleaned && !skipped (seed 002): nonzero if a pte was dirty or writable and no
 * pinned mapping was skipped.
 * REQUIRES: @p locked; no mmap_lock, i_mmap_rwsem or page_table_lock held.
 */
int page_mkclean(page* p, bool skip_pinned_pages);
/** __page_mkclean() - page_mkclean() that also reports how many pinned mappings it skipped. */
int __page_mkclean(page* p, bool skip_pinned_pages, int* skipped);
/**
 * folio_mkclean_wait_pinned() - if page_mkclean(@f, false) would sleep for a pin (the
 * policy's row says wait, @f may be pinned), sleep for it here instead, without the folio lock:
 * unlock @f, wait until it is no longer pinned (sync point "writeback:wait_pinned"),
 * lock it again. For callers whose page may be clean, where the pinner's unpin
 * (set_page_dirty_lock()) needs that lock. Returns true if it slept: the caller
 * re-checks ->mapping, and may call again (a new pin may have come meanwhile).
 * REQUIRES: @f locked and referenced by the caller; no i_mmap_rwsem held.
 */
bool folio_mkclean_wait_pinned(folio* f);

/** ttu_flags - how try_to_unmap() goes about it. */
enum class ttu_flags : unsigned { TTU_NONE = 0 };
GUPLAB_ENUM_FLAGS(ttu_flags)
using enum ttu_flags;
/**
 * try_to_unmap() - remove every pte mapping file folio @f, moving pte dirty bits to the
 * page and dropping the mappings' references. A folio that may be DMA-pinned (seed
 * 002; under fake_vma: a fake vma is met) is left mapped where the writeback policy's
 * row says so (WbPolicy::unmap_skips_pinned: all but ignore, the old kernel, where
 * nobody acts on pins and fake mappings are not counted). Anonymous folios are never unmapped (there is no swap). Returns
 * true if @f is no longer mapped.
 * REQUIRES: @f locked; the caller holds a reference; no mmap_lock or page_table_lock.
 */
bool try_to_unmap(folio* f, ttu_flags flags);

/**
 * folio_referenced() - how many ptes mapping @f were young; clears their young bits
 * (reclaim's aging). Fake vmas are not references. REQUIRES: @f locked.
 */
int folio_referenced(folio* f);

/**
 * struct page_vma_mapped_walk - iterate the entries of one vma that map pages of one
 * folio (a PMD, or ptes). Set folio_, vma and address (from vma_address(), or
 * rmap_one's @address), then call page_vma_mapped_walk() until it returns false.
 */
struct page_vma_mapped_walk {
  folio* folio_ = nullptr;
  vm_area_struct* vma = nullptr;
  unsigned long address = 0;      // out: the address of the current entry
  pgtable_slot* pmd = nullptr;    // out: the pmd entry
  pgtable_slot* pte = nullptr;    // out: the pte entry, or nullptr for a PMD mapping
  unsigned long base = 0;         // internal: where the folio's first page would be mapped
  unsigned long end = 0;          // internal
  bool started = false;           // internal
  bool locked = false;            // internal: page_table_lock held
};
/**
 * page_vma_mapped_walk() - advance to the next entry of pvmw->vma mapping a page of
 * pvmw->folio_. Returns true with the mm's page_table_lock held (the entry is stable
 * until the next call or page_vma_mapped_walk_done()), false when there is none left
 * (lock released).
 */
bool page_vma_mapped_walk(struct page_vma_mapped_walk* pvmw);
/** page_vma_mapped_walk_done() - stop early: release the lock. */
void page_vma_mapped_walk_done(struct page_vma_mapped_walk* pvmw);

/** page_vma_mapped_address() - first address at which @vma maps a page of @f, or 0. */
unsigned long page_vma_mapped_address(folio* f, vm_area_struct* vma);

}  // namespace guplab
