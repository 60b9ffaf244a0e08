// gup.h - get_user_pages() and pin_user_pages(): the API of mm/gup.c, and the release
// side (put_user_page*() from seed 000, unpin_user_page*() from upstream).
//
// FOLL_GET takes ordinary page references (release with put_page()). FOLL_PIN takes a
// *pin*, tracked by the machine's pin design (mm/pin.h) so that writeback, reclaim and
// truncate can ask page_maybe_dma_pinned(); release with unpin_user_page*() (or the
// seed-000 names put_user_page*(), which are the same operation). Under the `get`
// design a pin is a plain reference and nothing can tell it apart: the pre-2019 kernel.
// Under `bias_all` (seed 000 as posted) there is no split: FOLL_GET is taken as FOLL_PIN,
// so every page get_user_pages*() returns must be released with put_user_page(); a
// put_page() leaves GUP_PIN_COUNTING_BIAS - 1 references behind (scenario
// gup-put-page-leak).
//
// Returns follow the kernel: a call returns the number of pages it got, possibly fewer
// than asked (it stops at the first page it cannot get and keeps what it got before),
// or a negative errno if it got none: -EFAULT (no vma, or access not allowed), -EINVAL
// (bad flag mix, or *locked != 1 on entry), -ENOMEM, -EOVERFLOW (a pin count would
// overflow), -EINTR / -EAGAIN (killed while waiting, or while retaking mmap_lock). It
// returns 0 only if nr_pages was 0 or with FOLL_NOWAIT when the first page would need
// I/O (the fault says VM_FAULT_RETRY without waiting and keeps mmap_lock), or when a
// *_fast_only walk took nothing.
//
// Threading: get_user_pages()/pin_user_pages() REQUIRE mmap_lock held for read and
// never drop it. The *locked protocol (seed 001): get_user_pages_locked() and the
// *_remote() calls given a non-null @locked REQUIRE mmap_lock held for read and
// *locked == 1, and let a fault drop mmap_lock to wait for I/O (FAULT_FLAG_ALLOW_RETRY).
// If the lock was dropped at any point of the call, the call returns with mmap_lock
// released and *locked == 0 - the caller's vmas may be stale and it must not unlock;
// otherwise *locked stays 1 and the caller unlocks. *_unlocked and *_fast take what
// they need and return with mmap_lock not held. Release functions may be called from
// any context, including completion tasks.
#pragma once
#include <cstdint>

#include "base/flags.h"
#include "mm/mm_types.h"

namespace guplab {

struct mm_struct;

enum class foll_flags : uint32_t {
  FOLL_NONE = 0,
  FOLL_WRITE = 1u << 0,      // check the pte is writable (break COW if needed)
  FOLL_GET = 1u << 1,        // take a page reference
  FOLL_DUMP = 1u << 2,
  FOLL_FORCE = 1u << 3,      // get pages even from a read-only mapping (ptrace): COW copy
  FOLL_NOWAIT = 1u << 4,     // do not wait for I/O: stop short (0 if at the first page)
  FOLL_NOFAULT = 1u << 5,    // do not fault in pages
  FOLL_HWPOISON = 1u << 6,
  FOLL_ANON = 1u << 7,
  FOLL_LONGTERM = 1u << 8,   // the pin may be held indefinitely (RDMA, vfio)
  FOLL_SPLIT_PMD = 1u << 9,
  FOLL_PCI_P2PDMA = 1u << 10,
  FOLL_INTERRUPTIBLE = 1u << 11,
  FOLL_HONOR_NUMA_FAULT = 1u << 12,
  // Internal to gup (upstream's mm/internal.h):
  FOLL_TOUCH = 1u << 16,     // mark the page accessed (and dirty for writes)
  FOLL_TRIED = 1u << 17,     // a retry after VM_FAULT_RETRY
  FOLL_REMOTE = 1u << 18,    // another process's mm
  FOLL_PIN = 1u << 19,       // a FOLL_PIN pin, tracked by the pin design
  FOLL_FAST_ONLY = 1u << 20, // GUP-fast only; never fall back to the slow path
  FOLL_UNLOCKABLE = 1u << 21,// the caller allows mmap_lock to be dropped (*locked)
  FOLL_MADV_POPULATE = 1u << 22,
};
GUPLAB_ENUM_FLAGS(foll_flags)
using enum foll_flags;

// ---- getting ------------------------------------------------------------------------
/**
 * get_user_pages() - references to the pages backing [start, start + nr_pages pages)
 * of current's mm, faulting them in as needed.
 * @pages: receives the pages, or nullptr to only fault in.
 * Returns pages got, or -errno. REQUIRES: current->mm's mmap_lock held for read.
 */
long get_user_pages(unsigned long start, unsigned long nr_pages, foll_flags gup_flags, page** pages);
/**
 * get_user_pages_locked() - as get_user_pages() on @mm, but a fault may drop mmap_lock
 * to wait for I/O (FAULT_FLAG_ALLOW_RETRY, seed 001); the call then retakes it and
 * retries that page with FAULT_FLAG_TRIED, keeping the pages it got before the drop.
 * On return *@locked == 0 if the lock was dropped during the call: mmap_lock is not
 * held, and any vma the caller looked up before may be gone. *@locked == 1: it never
 * was dropped and is still held. Usage: `if (locked) mmap_read_unlock(mm);`.
 * REQUIRES: mmap_lock held for read and *@locked == 1 on entry (else WARN, -EINVAL).
 */
long get_user_pages_locked(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags gup_flags,
                           page** pages, int* locked);
/**
 * get_user_pages_unlocked() - takes mmap_lock for read itself, lets faults drop it for
 * I/O (retrying as get_user_pages_locked() does), and returns with it released.
 * REQUIRES: mmap_lock not held.
 */
long get_user_pages_unlocked(unsigned long start, unsigned long nr_pages, page** pages, foll_flags gup_flags);
/**
 * get_user_pages_remote() - on another task's @mm (FOLL_REMOTE, FAULT_FLAG_REMOTE).
 * @locked: nullptr (mmap_lock held throughout, never dropped) or the *locked protocol
 * of get_user_pages_locked() (*@locked == 1 on entry; 0 on return if it was dropped).
 */
long get_user_pages_remote(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags gup_flags,
                           page** pages, int* locked);
/**
 * get_user_pages_fast() - walk current's page tables without mmap_lock (under RCU),
 * falling back to the slow path for whatever that cannot do.
 * REQUIRES: mmap_lock not held.
 */
int get_user_pages_fast(unsigned long start, int nr_pages, foll_flags gup_flags, page** pages);
/**
 * get_user_pages_fast_only() - the lockless walk only: takes references up to the first
 * page it cannot take without the slow path, never faults and never sleeps. Returns how
 * many it got (>= 0; 0 also for a bad range or another flag it refuses), or -EINVAL if
 * @nr_pages < 0 or @gup_flags holds FOLL_PIN, FOLL_GET or FOLL_FAST_ONLY (with a WARN).
 */
int get_user_pages_fast_only(unsigned long start, int nr_pages, foll_flags gup_flags, page** pages);

// ---- pinning (FOLL_PIN) ---------------------------------------------------------------
long pin_user_pages(unsigned long start, unsigned long nr_pages, foll_flags gup_flags, page** pages);
int pin_user_pages_fast(unsigned long start, int nr_pages, foll_flags gup_flags, page** pages);
/**
 * pin_user_pages_fast_only() - pin_user_pages_fast() without the slow path (upstream
 * 5.9-6.4): the lockless walk pins what it can and stops at the first page it cannot
 * take; it never sleeps. Returns how many pages it pinned (>= 0). A caller that must not
 * sleep right now (a task holding plugged I/O) tries this first and falls back to
 * pin_user_pages_fast() for the rest once it may sleep.
 */
int pin_user_pages_fast_only(unsigned long start, int nr_pages, foll_flags gup_flags, page** pages);
/** pin_user_pages_remote() - FOLL_PIN form of get_user_pages_remote(), same @locked rules. */
long pin_user_pages_remote(mm_struct* mm, unsigned long start, unsigned long nr_pages, foll_flags gup_flags,
                           page** pages, int* locked);
/** pin_user_pages_unlocked() - FOLL_PIN form of get_user_pages_unlocked(). */
long pin_user_pages_unlocked(unsigned long start, unsigned long nr_pages, page** pages, foll_flags gup_flags);

// ---- releasing -----------------------------------------------------------------------
/**
 * unpin_user_page() - release one FOLL_PIN pin. Under a design that tracks pins, a page
 * that is not pinned gets a WARN and is left alone (bias, and small folios under
 * folio_pincount, can tell only while _refcount is below the bias); under `get` a pin is
 * a reference and the call drops one.
 */
void unpin_user_page(page* p);
void unpin_user_pages(page** pages, unsigned long npages);
/** unpin_user_pages_dirty_lock() - if @make_dirty, set_page_dirty_lock() each, then unpin. */
void unpin_user_pages_dirty_lock(page** pages, unsigned long npages, bool make_dirty);
/** unpin_user_page_range_dirty_lock() - @npages consecutive pages from @p. */
void unpin_user_page_range_dirty_lock(page* p, unsigned long npages, bool make_dirty);
/** unpin_folio() - release one pin on @f. */
void unpin_folio(folio* f);

// Seed 000's names for the same operations.
inline void put_user_page(page* p) { unpin_user_page(p); }
inline void put_user_pages(page** pages, unsigned long npages) { unpin_user_pages(pages, npages); }
/** put_user_pages_dirty() - set_page_dirty() (no page lock) each, then release. */
void put_user_pages_dirty(page** pages, unsigned long npages);
inline void put_user_pages_dirty_lock(page** pages, unsigned long npages) {
  unpin_user_pages_dirty_lock(pages, npages, true);
}

// ---- asking ---------------------------------------------------------------------------
/**
 * page_maybe_dma_pinned() / folio_maybe_dma_pinned() - might this page be pinned for
 * DMA? Never false for a pinned page (no false negatives) under every tracking design;
 * may be true for an unpinned one (false positive) under bias/folio_pincount when it
 * has ~1024 ordinary references. Always false under `get` (nothing is tracked).
 */
bool page_maybe_dma_pinned(page* p);
bool folio_maybe_dma_pinned(folio* f);
/** page_gup_pinned() - seed 000's spelling. */
inline bool page_gup_pinned(page* p) { return page_maybe_dma_pinned(p); }

/** check_foll_flags() - the upstream flag rules: 0 or -EINVAL. */
int check_foll_flags(foll_flags gup_flags);

}  // namespace guplab
