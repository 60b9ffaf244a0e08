// migrate.h - page migration (the kernel's mm/migrate.c): move the contents of a page
// to another frame and make every user of the old frame use the new one.
//
// A migration takes an isolated folio (off the LRU, with the isolation reference),
// locks it, replaces each pte mapping it by a migration entry (mm/swapops.h) inside an
// MMU_NOTIFY_MIGRATE invalidation, checks that nobody else holds a reference
// (folio_expected_refs() against the refcount; for a page-cache folio the count is
// frozen while the cache slot is switched to the new folio), copies data and flags,
// and turns the migration entries into ptes of the new folio. A fault on a migration
// entry waits for the folio lock (migration_entry_wait()). What is migrated: small
// anonymous folios and small page-cache folios of mappings that keep their pages in
// i_pages (a folio with buffer heads only if they can be dropped: the kernel's
// fallback_migrate_folio(); a dirty one with buffers is -EBUSY). Refused (-EBUSY): large
// folios (THP; the model does not split them for migration), hugetlb, shmem (its vmas
// are not in an rmap the model can walk), folios under writeback in MIGRATE_ASYNC.
//
// Pins (docs/seeds.md D-migrate-1): under every design that tracks pins a folio that
// folio_maybe_dma_pinned() is refused with -EAGAIN before it is unmapped, and a
// reference nobody accounts for fails the refcount check with -EAGAIN, as upstream.
// Under design `get` (nothing tracked: the pre-2019 kernel as the seeds describe it) a
// pin is an ordinary reference that nothing can tell from a transient one, and the
// model's migration does not check references there: the folio moves, the pinner keeps
// its reference on the old frame, which stays allocated (unmapped, out of the page
// cache) until that reference goes, and whatever a device DMAs into it is lost.
//
// Threading: any task with no mmap_lock, page-table lock, folio lock, i_mmap_rwsem or
// anon_vma lock held (migration takes the folio lock, then the rmap locks, then the
// page-table lock). Callbacks of mmu notifiers run in the migrating task.
#pragma once
#include <functional>

#include "base/list.h"
#include "mm/mm_types.h"
#include "mm/pgtable.h"

namespace guplab {

class Machine;
struct mm_struct;

/** How hard migration tries (enum migrate_mode, cut down). */
enum migrate_mode : unsigned {
  MIGRATE_ASYNC,  // never sleep on a folio lock or on writeback
  MIGRATE_SYNC,   // may sleep for both
};

/** Why (enum migrate_reason): for traces. */
enum migrate_reason : unsigned { MR_COMPACTION, MR_LONGTERM_PIN, MR_SYSCALL };
const char* migrate_reason_name(migrate_reason r);

/** new_folio_t - the destination for @src: a new order-0 folio with refcount 1, or nullptr. */
using new_folio_t = std::function<folio*(folio* src)>;

/**
 * migrate_pages() - migrate every folio on @from (isolated folios, linked through their
 * lru field, each holding its isolation reference), each to a folio @get_new returns.
 * Transient failures (-EAGAIN) are retried up to 10 passes, as upstream (not a folio
 * that may be DMA-pinned: a pin is not transient). A folio that
 * moved is gone (its isolation reference dropped); one that did not is put back on the
 * LRU (folio_putback_lru()). @from is empty on return.
 * Returns the number of folios not migrated (0: all), or -ENOMEM if @get_new failed
 * (the rest are put back). *@nr_succeeded (if not null) counts those that moved.
 * Counts PGMIGRATE_SUCCESS / PGMIGRATE_FAIL.
 * REQUIRES: see the header's threading contract.
 */
int migrate_pages(Machine* m, list_head* from, const new_folio_t& get_new, migrate_mode mode,
                  migrate_reason reason, unsigned* nr_succeeded);

/**
 * migrate_folio_to() - migrate one isolated folio @src to @dst (new, order 0, refcount 1,
 * not visible to anyone). On success (0) the users of @src use @dst, @dst is on the LRU
 * and the caller's references on both are consumed. On failure (-EAGAIN: pinned or
 * referenced, or a mapping could not be replaced; -EBUSY: not migratable; -ENOMEM) @src
 * is as it was (still isolated, still referenced by the caller) and @dst is freed.
 */
int migrate_folio_to(folio* src, folio* dst, migrate_mode mode, migrate_reason reason);

/**
 * folio_migration_supported() - is @f of a kind the model migrates (the list above):
 * small, anonymous or in its mapping's i_pages, not shmem, hugetlb or the zero page?
 */
bool folio_migration_supported(const folio* f);

/**
 * isolate_folio_for_migration() - take @p's folio off the LRU for migration onto @list.
 * Returns false if it is not on an LRU (being freed, already isolated, or kept off the
 * LRU: seed 002's pinned pages) or is a large folio.
 */
bool isolate_folio_for_migration(page* p, list_head* list);

/**
 * migration_entry_wait() - a fault found migration entry @orig at @ptep of @mm: sleep
 * until the migrating folio is unlocked (no reference is taken: struct pages are never
 * freed in the model), unless the entry has changed meanwhile. The fault then retries.
 * REQUIRES: mmap_lock held (read); page-table lock not held.
 */
void migration_entry_wait(mm_struct* mm, pgtable_slot* ptep, pte_t orig);

}  // namespace guplab
