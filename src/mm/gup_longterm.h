// gup_longterm.h - upstream's rules for FOLL_LONGTERM pins (mm/gup.c), applied when the
// machine boots with MachineConfig::longterm_rules == upstream (fs-DAX is refused under
// both rule sets: the seed-era get_user_pages_longterm() refused it already).
//
//  - check_and_migrate_movable_pages(): a page a long-term pin must not hold
//    (ZONE_MOVABLE, the CMA-like area) is migrated out before the pin is kept: the
//    pins are dropped, the pages migrated to ZONE_NORMAL outside CMA (MMU_NOTIFY_MIGRATE
//    for every mapping), and GUP retries.
//  - writable_file_mapping_allowed(): a FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE pin of a
//    shared file mapping that needs dirty tracking is refused (-EFAULT); shmem (the
//    model's shared anonymous memory and memfd) does not, and is allowed.
//  - fs-DAX mappings: refused (-EOPNOTSUPP) by check_vma_flags() in gup.cc (vma_is_fsdax(),
//    mm/memremap.h), unless the writeback policy revokes long-term pins at truncate.
//
// Threading: any task; see each function.
#pragma once
#include "mm/gup.h"
#include "mm/mm_types.h"

namespace guplab {

struct mm_struct;
struct vm_area_struct;

/** longterm_rules_upstream() - does @mm's machine apply upstream's FOLL_LONGTERM rules? */
bool longterm_rules_upstream(const mm_struct* mm);

/** is_migrate_cma_page() - is @p in the machine's CMA-like area (MachineConfig::cma_bytes)? */
bool is_migrate_cma_page(const page* p);

/**
 * folio_is_longterm_pinnable() - may a long-term pin hold @f where it is? Not in
 * ZONE_MOVABLE or the CMA area (the zero page always may).
 */
bool folio_is_longterm_pinnable(const folio* f);


/**
 * vma_needs_dirty_tracking() - is @vma a shared writable mapping whose writes its
 * backing must see (->page_mkwrite, or a file mapping that writes back)? shmem: no.
 */
bool vma_needs_dirty_tracking(const vm_area_struct* vma);

/**
 * writable_file_mapping_allowed() - false for a FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE
 * pin of a vma that needs dirty tracking (upstream 6.5+), true otherwise.
 */
bool writable_file_mapping_allowed(const vm_area_struct* vma, foll_flags flags);

/**
 * check_longterm_vma() - the vma checks of a FOLL_LONGTERM GUP: 0, -EOPNOTSUPP (fs-DAX),
 * or -EFAULT (a writable pin of a file mapping that needs dirty tracking, under the
 * upstream rules only).
 */
int check_longterm_vma(const vm_area_struct* vma, foll_flags flags);

/**
 * check_and_migrate_movable_pages() - after a FOLL_LONGTERM GUP got @nr_pages pages in
 * @pages: 0 if each may stay pinned where it is; otherwise every page is released (pins
 * unpinned, FOLL_GET references put), the unpinnable ones migrated to ZONE_NORMAL
 * outside the CMA area, and -EAGAIN says "pin again". -ENOMEM (also released) if a page
 * could not be migrated. Pages the model cannot migrate at all (large folios, shmem,
 * mappings that keep pages outside i_pages: folio_migration_supported()) stay pinned
 * where they are (docs/seeds.md D-migrate-2).
 * REQUIRES: mmap_lock not held for write; no page-table lock or folio lock held.
 */
int check_and_migrate_movable_pages(unsigned long nr_pages, page** pages, foll_flags flags);

}  // namespace guplab
