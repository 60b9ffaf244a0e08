// hugetlb.h - hugetlb pages: pools of 2 MiB and 1 GiB folios reserved at boot, mapped
// by MAP_HUGETLB with a PMD leaf (2 MiB) or a PUD leaf (1 GiB) (the kernel's
// mm/hugetlb.c, with hugetlbfs's anonymous file reduced to a small object).
//
// Pools (struct hstate, one per size, on the Machine): MachineConfig::hugetlb_2m_pages
// and hugetlb_1g_pages folios are taken out of ZONE_MOVABLE at boot, as the kernel's
// hugepagesz=/hugepages= boot parameters reserve them: 1 GiB (gigantic) folios as
// 1 GiB-aligned frame ranges at the top of RAM, 2 MiB folios as free MAX_ORDER-1 blocks
// below them; ZONE_NORMAL and at least kHugetlbMinMovableLeft of ZONE_MOVABLE stay
// with the buddy allocator. A pool that does not fit refuses the boot with
// std::invalid_argument naming the size, the RAM it needs and the option that raises
// it. A free pool folio is a compound page with refcount 0 (a racing GUP-fast grab
// fails on it), PG_hugetlb on its head, on its hstate's free list. Its last put
// (__folio_put()) returns it there, never to the buddy allocator.
//
// Mappings: mmap(MAP_ANONYMOUS | MAP_HUGETLB [| MAP_HUGE_2MB | MAP_HUGE_1GB]) makes a
// VM_HUGETLB vma over a hugetlb_file (what hugetlb_file_setup() creates in the kernel):
// the length is rounded up to the huge page size, a MAP_FIXED address must be aligned
// (-EINVAL), and unless MAP_NORESERVE the mapping reserves its pages at mmap time
// (-ENOMEM if the pool cannot cover them), so its faults cannot fail; a fault without
// a reservation takes a free folio or fails with VM_FAULT_SIGBUS (GUP: -EFAULT), as
// upstream's alloc_hugetlb_folio() failure does. Shared mappings keep their folios in
// the file (one reference each: the page cache's), so forks and later faults find the
// same folio; private mappings hold anonymous folios (PageAnon, PageAnonExclusive) with
// one reference per mapping. Mapcounts of a hugetlb folio are its entire mapcount.
// Splitting a hugetlb vma at an unaligned address is -EINVAL (munmap, mprotect).
//
// hugetlbfs files (memfd_create(MFD_HUGETLB), 2 MiB pages): hugetlbfs_file_create()
// makes one with its pages allocated, as fallocate() does. A shared mapping of it
// (mmap_backing::hugetlb) faults through the file itself, reserving at mmap time the
// pages the file lacks in its range; a private one gets a hugetlb_file of its own
// (every page reserved unless MAP_NORESERVE) whose read faults map the file's folio
// read-only and whose writes and unshares copy it into an anonymous folio
// (hugetlb_wp()); a page the file lacks becomes an anonymous folio at once, as
// upstream's hugetlb_no_page() does for a private mapping.
//
// fork (copy_hugetlb_page_range()): shared mappings share the folio; private ones
// share it read-only in both and copy on the next write (hugetlb_wp()), except a
// folio that may be DMA-pinned, which the child gets a copy of at once (a pool folio
// with no reservation: fork fails with -ENOMEM if the pool is empty). The child's
// private vma owns no reservation (reset_vma_resv_huge_pages()).
//
// Threading: the hstate's counters and free list are under hstate::lock; a
// hugetlb_file's faults are serialized by its fault_mutex (the kernel's
// hugetlb_fault_mutex_table, per file here rather than per index); entries change under
// the mm's page_table_lock; lockless GUP-fast readers rely on the same rules as for
// THP PMDs (mm/pgtable.h). Functions on vmas REQUIRE mmap_lock as their callers in
// memory.cc / mmap.cc / fork.cc / mprotect.cc hold it.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "base/list.h"
#include "base/rwsem.h"
#include "base/spinlock.h"
#include "machine/config.h"
#include "mm/mm_types.h"
#include "mm/vma.h"

namespace guplab {

class Machine;
struct mmu_gather;
struct mm_struct;

// mmap flags of <linux/mman.h> (glibc's <sys/mman.h> may lack the size encodings).
inline constexpr int kMapHugeShift = 26;
inline constexpr int kMapHugeMask = 0x3f;
inline constexpr int kMapHuge2MB = 21 << kMapHugeShift;
inline constexpr int kMapHuge1GB = 30 << kMapHugeShift;

/** ZONE_MOVABLE that the pools must leave to the buddy allocator. */
inline constexpr uint64_t kHugetlbMinMovableLeft = 16ull << 20;

/** struct hstate - one huge page size and its pool. */
struct hstate {
  unsigned order = 0;  // HPAGE_PMD_ORDER or PUD_SHIFT - PAGE_SHIFT
  const char* name = "";  // "hugepages-2048kB"
  spinlock_t lock;
  list_head hugepage_freelist GUARDED_BY(lock);
  unsigned long nr_huge_pages GUARDED_BY(lock) = 0;    // the pool: HugePages_Total
  unsigned long free_huge_pages GUARDED_BY(lock) = 0;  // HugePages_Free
  unsigned long resv_huge_pages GUARDED_BY(lock) = 0;  // reserved, not yet faulted: HugePages_Rsvd
};

inline unsigned long huge_page_size(const hstate* h) { return PAGE_SIZE << h->order; }
inline unsigned long huge_page_mask(const hstate* h) { return ~(huge_page_size(h) - 1); }
inline unsigned long pages_per_huge_page(const hstate* h) { return 1ul << h->order; }

/** HugetlbPoolStat - a pool's counters, read together (/proc/meminfo's HugePages_*). */
struct HugetlbPoolStat {
  unsigned long total = 0, free = 0, resv = 0;
};

/**
 * HugetlbPools - the machine's hstates (Machine::hugetlb()). Built at boot, after the
 * zones, before the boot's free-page count. Threading: as struct hstate.
 */
class HugetlbPools {
 public:
  /** Reserve @cfg's pools on @m. Throws std::invalid_argument if RAM cannot hold them. */
  HugetlbPools(Machine* m, const MachineConfig& cfg);
  HugetlbPools(const HugetlbPools&) = delete;
  HugetlbPools& operator=(const HugetlbPools&) = delete;

  hstate* h2m() { return &hstates_[0]; }
  hstate* h1g() { return &hstates_[1]; }
  /** size_to_hstate() - the hstate of huge pages of 2^@shift bytes (21, 30), or nullptr. */
  hstate* shift_to_hstate(unsigned shift);
  HugetlbPoolStat stat(hstate* h);

 private:
  hstate hstates_[2];
};

/**
 * hugetlb_min_ram_bytes() - the least RAM (a multiple of 2 MiB) that holds @cfg's
 * pools as the boot lays them out, with the rest of @cfg as it is.
 */
uint64_t hugetlb_min_ram_bytes(const MachineConfig& cfg);

/** is_vm_hugetlb_page() - is @vma a hugetlb mapping? */
inline bool is_vm_hugetlb_page(const vm_area_struct* vma) { return any(vma->vm_flags, VM_HUGETLB); }
/** hstate_vma() - the page size of hugetlb @vma. REQUIRES: is_vm_hugetlb_page(@vma). */
hstate* hstate_vma(const vm_area_struct* vma);
/** folio_test_hugetlb() - is @f a hugetlb folio (pool-owned)? */
bool folio_test_hugetlb(const folio* f);

/**
 * struct hugetlb_file - what a MAP_HUGETLB mapping maps: the page size, the pages it
 * still has reserved, and (shared) its folios by huge-page index. Refcounted by the
 * vmas that map it (vm_ops open/close). Threading: @cache and @resv under fault_mutex.
 */
struct hugetlb_file {
  hstate* h = nullptr;
  bool shared = false;
  std::atomic<int> refs{1};
  rw_semaphore fault_mutex;
  long resv = 0;               // reserved huge pages not yet consumed
  std::vector<folio*> cache;  // shared: the file's folios (one reference each)
  // Private mapping of a hugetlbfs file: that file (a reference), whose folios read
  // faults map. Set at creation, never changed. Lock order: this file's fault_mutex,
  // then the backing file's.
  hugetlb_file* backing = nullptr;
};

/**
 * hugetlb_file_setup() - resolve MAP_HUGETLB's page size from @flags, round *@len up to
 * it, and reserve the pages (unless MAP_NORESERVE). Returns 0 with *@out set, -EINVAL
 * (unknown size, length overflow) or -ENOMEM (the pool cannot cover the reservation).
 */
int hugetlb_file_setup(Machine* m, int flags, unsigned long* len, hugetlb_file** out);
/**
 * hugetlbfs_file_create() - a hugetlbfs file of 2 MiB pages, as memfd_create(MFD_HUGETLB)
 * then ftruncate() and fallocate() of @size bytes (rounded up to the page size) make it:
 * every page allocated and zeroed. Returns 0 with *@out (one reference), or -ENOSPC
 * (the pool has too few free pages not reserved by others; nothing is kept) or -EINVAL
 * (@size is 0 or past TASK_SIZE).
 */
int hugetlbfs_file_create(Machine* m, unsigned long size, hugetlb_file** out);
/**
 * hugetlbfs_mmap_setup() - what a mapping of hugetlbfs file @file over *@len bytes at
 * offset 0 (rounded up to the page size) faults through: for a shared mapping @file
 * itself (another reference; pages it lacks in the range are added to its reservation
 * and to its size), for a private one a new hugetlb_file (see the header comment).
 * Returns 0 with *@out, or -ENOMEM (the pool cannot cover the reservation), -EINVAL.
 */
int hugetlbfs_mmap_setup(hugetlb_file* file, bool shared, int flags, unsigned long* len, hugetlb_file** out);
/** hugetlb_file_put() - drop a reference; the last returns reservations and folios. */
void hugetlb_file_put(hugetlb_file* hf);
/** hugetlb_vma_init() - make @vma a hugetlb vma over @hf (takes over the reference). */
void hugetlb_vma_init(vm_area_struct* vma, hugetlb_file* hf);

/**
 * hugetlb_fault() - handle_mm_fault() for a hugetlb vma: fault the huge page in (a
 * folio from the pool, zeroed, mapped by a PMD or PUD leaf), copy on write for private
 * mappings, unshare (FAULT_FLAG_UNSHARE) for read pins of a shared private folio.
 * Returns 0, VM_FAULT_OOM (no page table) or VM_FAULT_SIGBUS (no folio in the pool).
 * REQUIRES: mmap_lock held for read.
 */
vm_fault_t hugetlb_fault(vm_area_struct* vma, unsigned long address, fault_flag flags);

/**
 * unmap_hugepage_range() - zap the huge entries of [@start, @end) of @vma: mapcounts
 * dropped, references given to @tlb (the last put returns a folio to its pool).
 * REQUIRES: mmap_lock held; @start and @end inside @vma.
 */
void unmap_hugepage_range(mmu_gather* tlb, vm_area_struct* vma, unsigned long start, unsigned long end);

/**
 * copy_hugetlb_page_range() - fork's copy of hugetlb @src_vma into @dst_vma (see above).
 * Returns 0 or -ENOMEM. REQUIRES: both mmap_locks held for write.
 */
int copy_hugetlb_page_range(vm_area_struct* dst_vma, vm_area_struct* src_vma);

/**
 * hugetlb_change_protection() - mprotect of the huge entries of [@start, @end) to
 * @newprot (writable only if it was and the vma allows writes). Returns entries changed.
 * REQUIRES: mmap_lock held for write; the range huge-page aligned (split_vma refused
 * anything else).
 */
long hugetlb_change_protection(vm_area_struct* vma, unsigned long start, unsigned long end, pgprot_t newprot);

/**
 * hugetlb_mmu_follow() - the software MMU's step for a hugetlb vma: the 4 KiB subpage
 * at @addr with a reference if the leaf allows the access (setting A/D), else nullptr.
 * REQUIRES: mmap_lock held.
 */
page* hugetlb_mmu_follow(mm_struct* mm, vm_area_struct* vma, unsigned long addr, bool write, bool force);

/** free_huge_folio() - back to the pool: the last reference of a hugetlb folio went. */
void free_huge_folio(folio* f);

}  // namespace guplab
