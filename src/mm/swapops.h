// swapops.h - non-present page-table entries that still name a page: migration entries
// (the kernel's include/linux/swapops.h, cut down to what page migration needs; the
// model has no swap).
//
// While a page migrates (mm/migrate.h) every pte that mapped it is replaced by a
// migration entry: not present, so the MMU, GUP-fast and the GUP slow path all fault on
// it, and the fault waits for the migration to end (migration_entry_wait()) instead of
// filling the hole with a new page. The entry keeps the old page's pfn and the pte's
// write, dirty, young and uffd-wp bits, and whether the anon page was exclusive to this
// mapping; remove_migration_ptes() turns it back into a present pte, of the new page
// on success, of the old one on failure.
//
// Who meets one: handle_pte_fault() (waits), zap (clears it, the page's rmap and
// reference were already dropped), fork (copies it, read-only for a COW mapping),
// mprotect (drops the write bit when the vma loses VM_WRITE), unmap_mapping_range()
// (clears it). Everything that wants a present pte skips it.
//
// Threading: entries are written under the mm's page_table_lock, as every pte.
#pragma once
#include "mm/pgtable.h"

namespace guplab {

/** A software bit of a non-present entry: this is a migration entry. */
inline constexpr pteval_t _PAGE_SWP_MIGRATION = 1ull << 11;
/** Set in a migration entry of an anon page that was exclusive to this mapping. */
inline constexpr pteval_t _PAGE_SWP_EXCLUSIVE = 1ull << 58;

/** is_migration_entry() - is @pte a (non-present) migration entry? */
inline bool is_migration_entry(pte_t pte) { return !pte_present(pte) && (pte.val & _PAGE_SWP_MIGRATION); }
/** is_writable_migration_entry() - was the pte it replaced writable? */
inline bool is_writable_migration_entry(pte_t e) { return is_migration_entry(e) && (e.val & _PAGE_RW); }
/** is_exclusive_migration_entry() - was the anon page exclusive to this mapping? */
inline bool is_exclusive_migration_entry(pte_t e) { return is_migration_entry(e) && (e.val & _PAGE_SWP_EXCLUSIVE); }
/** migration_entry_pfn() - the frame of the page being migrated. */
inline unsigned long migration_entry_pfn(pte_t e) { return pte_pfn(e); }

/**
 * make_migration_entry() - the entry that replaces present pte @pte (its pfn and its
 * write/dirty/young/uffd-wp bits), @exclusive for an exclusive anon page.
 */
inline pte_t make_migration_entry(pte_t pte, bool exclusive) {
  constexpr pteval_t keep = _PAGE_PFN_MASK | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_SOFTW_UFFD;
  return pte_t{(pte.val & keep) | _PAGE_SWP_MIGRATION | (exclusive ? _PAGE_SWP_EXCLUSIVE : 0)};
}
/** make_readable_migration_entry() - the same entry, not writable and not exclusive (fork, mprotect). */
inline pte_t make_readable_migration_entry(pte_t e) { return pte_t{e.val & ~(_PAGE_RW | _PAGE_SWP_EXCLUSIVE)}; }

}  // namespace guplab
