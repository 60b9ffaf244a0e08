// mm_types.h - struct page and the basic memory-management types and constants.
//
// struct page is 64 bytes, as in the kernel, and lives in the machine's mem_map. Its
// unions are reused exactly as the designs in the seeds reuse them: the lru field holds
// a tail page's compound_head, or seed 002's dma_pinned_count while a page is pinned
// and off its LRU; the first tail page of a large folio holds the folio's order,
// entire mapcount and (upstream) _pincount.
//
// Threading: flags, _refcount and _mapcount are atomics any task may touch; lru is
// guarded by the owning list's lock (zone lock or LRU lock); mapping/index/private are
// set under the page lock or before the page is visible.
#pragma once
#include <cstddef>
#include <cstdint>

#include "base/atomic.h"
#include "base/bitops.h"
#include "base/list.h"

namespace guplab {

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr unsigned long PAGE_SIZE = 1ul << PAGE_SHIFT;
inline constexpr unsigned long PAGE_MASK = ~(PAGE_SIZE - 1);
inline constexpr unsigned PMD_SHIFT = 21;
inline constexpr unsigned long PMD_SIZE = 1ul << PMD_SHIFT;
inline constexpr unsigned long PMD_MASK = ~(PMD_SIZE - 1);
inline constexpr unsigned PUD_SHIFT = 30;
inline constexpr unsigned long PUD_SIZE = 1ul << PUD_SHIFT;
inline constexpr unsigned long PUD_MASK = ~(PUD_SIZE - 1);
inline constexpr unsigned PGDIR_SHIFT = 39;
inline constexpr unsigned long PGDIR_SIZE = 1ul << PGDIR_SHIFT;
inline constexpr unsigned PTRS_PER_TABLE = 512;
inline constexpr unsigned HPAGE_PMD_ORDER = PMD_SHIFT - PAGE_SHIFT;  // 9
inline constexpr unsigned HPAGE_PMD_NR = 1u << HPAGE_PMD_ORDER;      // 512
inline constexpr unsigned MAX_ORDER = 10;                            // orders 0..MAX_ORDER-1
/** TASK_SIZE - top of a model user address space (47-bit, as x86-64 4-level). */
inline constexpr unsigned long TASK_SIZE = (1ul << 47) - PAGE_SIZE;

using pgoff_t = unsigned long;

struct address_space;
struct anon_vma;

/** Page flag bit numbers (bits of page->flags). */
enum pageflags : unsigned {
  PG_locked,
  PG_writeback,
  PG_referenced,
  PG_uptodate,
  PG_dirty,
  PG_lru,
  PG_head,
  PG_active,
  PG_workingset,
  PG_error,
  PG_reserved,
  PG_private,     // page->private holds buffer heads (file pages)
  PG_reclaim,
  PG_swapbacked,
  PG_unevictable,
  PG_mlocked,
  PG_anon_exclusive,  // this anon page is mapped by exactly one process (upstream COW rules)
  PG_dma_pinned,      // seed 002's PageDmaPinned (design dma_count)
  PG_buddy,           // free, on a buddy free list (a page type in the kernel)
  PG_pgtable,         // a page-table page
  PG_zero,            // the shared zero page
  PG_bounce,          // lab: a stable copy made for writeback (policy bounce)
  PG_pin_waiters,     // someone sleeps until this folio is unpinned (like PG_waiters)
  PG_hugetlb,         // a hugetlb folio (head page): freed to its hstate's pool, never to the buddy
  PG_zone_device,     // a ZONE_DEVICE page (fs-DAX: a pmem frame, mm/memremap.h); never in the buddy
  __NR_PAGEFLAGS,
};

/** The zone number is kept in the top bits of page->flags, as in the kernel. */
inline constexpr unsigned ZONES_PGSHIFT = 62;

struct page {
  bitword_t flags;
  union {
    list_head lru;  // LRU list, buddy free list, or a private list of pages
    struct {        // tail page of a compound page
      uintptr_t compound_head;  // head page address | 1
      uintptr_t compound_order_word;  // first tail: the folio's order
    };
    struct {  // seed 002: while DMA-pinned the page is off the LRU and this is free
      uintptr_t dma_pinned_flags;  // bit 0 must stay clear (it means "tail page")
      uintptr_t dma_pinned_count;
    };
  };
  union {
    struct {
      address_space* mapping;  // file: the address_space; anon: anon_vma | PAGE_MAPPING_ANON
      pgoff_t index;           // offset in the file, or in the anon_vma's linear space
    };
    struct {  // first tail page of a large folio (upstream's struct folio layout)
      int _entire_mapcount;  // PMD mappings of the whole folio, minus one
      int _nr_pages_mapped;
      int _pincount;  // FOLL_PIN pins of a large folio (design folio_pincount)
      unsigned _folio_order_unused;
    };
  };
  unsigned long private_;  // buffer heads (PagePrivate), buddy order, ...
  atomic_t _mapcount;      // page-table mappings of this page, minus one
  atomic_t _refcount;      // references; pins under the bias designs
  unsigned long lab_private;  // lab-only word (design fake_vma: fake-mapping count)
};

static_assert(sizeof(page) == 64, "struct page must be 64 bytes, as in the kernel");
static_assert(offsetof(page, _refcount) == 52);

/** A folio is its head page (the kernel's struct folio overlays the first pages). */
struct folio : page {};
static_assert(sizeof(folio) == sizeof(page));

inline folio* page_folio_of_head(page* head) { return static_cast<folio*>(head); }
inline page* folio_page(folio* f, unsigned long n) { return static_cast<page*>(f) + n; }

inline constexpr uintptr_t PAGE_MAPPING_ANON = 1;

}  // namespace guplab
