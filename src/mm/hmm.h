// hmm.h - hmm_range_fault() (include/linux/hmm.h, mm/hmm.c): a device driver that
// mirrors part of a process's address space in its own page table asks for the pfns
// that back a range, faulting in what is missing, and keeps no reference on them.
//
// What keeps the pfns valid is not a reference but the interval notifier's sequence
// protocol: the driver reads the range under seq = mmu_interval_read_begin(), calls
// hmm_range_fault() with mmap_lock held for read, then takes its own lock and, unless
// mmu_interval_read_retry(notifier, seq), programs its page table. Any invalidation of
// the range after read_begin makes that check fail, and the driver starts again.
//
// Each output entry (hmm_pfns[i]) is a pfn with flags in its top bits: HMM_PFN_VALID
// (the address is mapped), HMM_PFN_WRITE (mapped writable). On input, the request
// bits (range->default_flags, or per entry through range->pfn_flags_mask) say what the
// driver needs: HMM_PFN_REQ_FAULT (present), HMM_PFN_REQ_WRITE (present and writable).
// A missing or insufficient entry that was requested is faulted in with
// handle_mm_fault(), exactly as GUP's slow path does (FAULT_FLAG_WRITE for a write,
// FAULT_FLAG_REMOTE, never FAULT_FLAG_ALLOW_RETRY: mmap_lock is never dropped here),
// then the walk restarts at that address. An entry not requested is reported as it is
// (0 when unmapped). A fault may itself invalidate the range (a COW break, such as a
// write fault on the zero page, is MMU_NOTIFY_CLEAR): the call then returns -EBUSY and
// the driver begins again, as with any other invalidation.
//
// Walks ptes, 2 MiB PMD leaves (THP, hugetlb) and 1 GiB PUD leaves. The zero page is
// reported VALID without WRITE. VM_IO/VM_PFNMAP vmas and special ptes are -EFAULT.
//
// Threading: REQUIRES mmap_lock of the range's mm held for read; reads page tables
// under the mm's page_table_lock. May sleep (faults).
#pragma once
#include <cstdint>

#include "base/thread_annotations.h"
#include "mm/mm_struct.h"
#include "mm/mmu_notifier.h"

namespace guplab {

struct page;

// Output flags, in the top bits of each entry (upstream's layout).
inline constexpr unsigned long HMM_PFN_VALID = 1ul << 63;
inline constexpr unsigned long HMM_PFN_WRITE = 1ul << 62;
inline constexpr unsigned long HMM_PFN_ERROR = 1ul << 61;
inline constexpr unsigned long HMM_PFN_FLAGS = HMM_PFN_VALID | HMM_PFN_WRITE | HMM_PFN_ERROR;
// Input (request) flags share the bits: fault in if not present / not writable.
inline constexpr unsigned long HMM_PFN_REQ_FAULT = HMM_PFN_VALID;
inline constexpr unsigned long HMM_PFN_REQ_WRITE = HMM_PFN_WRITE;

struct hmm_range {
  mmu_interval_notifier* notifier = nullptr;  // whose sequence guards this read
  unsigned long notifier_seq = 0;             // from mmu_interval_read_begin()
  unsigned long start = 0;                    // page aligned
  unsigned long end = 0;                      // exclusive, page aligned
  unsigned long* hmm_pfns = nullptr;          // (end - start) / PAGE_SIZE entries
  unsigned long default_flags = 0;            // request bits for every entry
  unsigned long pfn_flags_mask = 0;           // which request bits each entry may add
};

/** hmm_pfn_to_pfn() - the pfn of an output entry. REQUIRES: HMM_PFN_VALID set. */
inline unsigned long hmm_pfn_to_pfn(unsigned long hmm_pfn) { return hmm_pfn & ~HMM_PFN_FLAGS; }

/**
 * hmm_range_fault() - fill range->hmm_pfns for [start, end), faulting in what the
 * request bits need. Returns 0; -EBUSY when the notifier's sequence moved since
 * range->notifier_seq (the caller begins again); -EFAULT for an address with no vma, a
 * VM_IO/VM_PFNMAP vma or a special pte, or a failed fault; -EPERM when a write is asked
 * of a vma without VM_WRITE; -ENOMEM when a fault ran out of memory. Takes no reference.
 * REQUIRES: mmap_lock of range->notifier->mm held for read; start < end, both page
 * aligned and inside the notifier's interval.
 */
int hmm_range_fault(hmm_range* range);

}  // namespace guplab
