// iommu.h - an IOMMU model: a device's DMA goes through an IOVA -> frame table that the
// driver programs when it registers memory (iommu_map()), and that revoke or an unmap
// points at the machine's scratch frame, Williams' backstop in seed 003: "it would also
// need to be backstopped by an IOMMU in the case where the hardware does not / can not
// stop in-flight DMA".
//
// One Iommu per Machine (Machine::iommu()); each device gets an iommu_domain, a table
// of page-sized entries indexed by IOVA page (index 0 is the first page the device
// registered). An entry holds a frame (pfn), the scratch frame, or nothing (a DMA to it
// is an IOMMU fault: dropped and counted). iommu_dma() translates one entry and runs the
// device's transfer under the IOMMU's lock, so a remap (to scratch, or away) returns
// only after a transfer that translated before it has finished: DMA in flight is fenced
// at the granule of one transfer (a 512-byte chunk for the RDMA device).
//
// iommu_revoke_pfn() is the filesystem's side: truncate under policy `revoke` asks
// which domains still map a frame it is about to free (a long-term pinner that did not
// listen) and points those entries at the scratch frame.
//
// Departure (docs/seeds.md D-revoke-1): the scratch frame is a page-sized buffer owned
// by the IOMMU model, outside the machine's RAM (no struct page, kScratchPfn in the
// records), so that it costs the page allocator nothing.
//
// Threading: every function from any task; one spinlock per Iommu covers the tables and
// is held across a transfer (which must not sleep).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/spinlock.h"
#include "base/thread_annotations.h"
#include "mm/mm_types.h"

namespace guplab {

/** The "pfn" of the scratch frame in records and traces (it has no struct page). */
inline constexpr unsigned long kScratchPfn = ~0ul;
/** An entry that maps nothing. */
inline constexpr unsigned long kIommuNoEntry = ~0ul - 1;

/** One device's IOVA space (struct iommu_domain). */
struct iommu_domain {
  std::string name;                            // the device's
  std::vector<unsigned long> entries;          // pfn, kScratchPfn or kIommuNoEntry, by IOVA page
  uint64_t faults = 0;                         // DMAs to kIommuNoEntry, dropped
  uint64_t scratch_writes = 0;                 // transfers that landed in the scratch frame
};

class PhysMem;

class Iommu {
 public:
  /** REQUIRES: @mem (the machine's RAM) outlives the IOMMU. */
  explicit Iommu(const PhysMem* mem);
  ~Iommu();
  Iommu(const Iommu&) = delete;
  Iommu& operator=(const Iommu&) = delete;

  /** iommu_domain_alloc() - a new, empty domain for device @name. */
  iommu_domain* domain_alloc(std::string name);
  /** iommu_domain_free() - forget @d. REQUIRES: no transfer on @d in progress. */
  void domain_free(iommu_domain* d);

  /**
   * iommu_map() - entries [@iova, @iova + @n) of @d map the frames @pfns[0..n).
   * Returns 0. REQUIRES: @pfns has @n entries.
   */
  int map(iommu_domain* d, unsigned long iova, const unsigned long* pfns, unsigned long n);
  /** iommu_unmap() - entries [@iova, @iova + @n) map nothing. Returns entries changed. */
  unsigned long unmap(iommu_domain* d, unsigned long iova, unsigned long n);
  /**
   * redirect_to_scratch() - entries [@iova, @iova + @n) that map a frame now map the
   * scratch frame; returns after any transfer in flight on @d has finished. Returns
   * entries changed.
   */
  unsigned long redirect_to_scratch(iommu_domain* d, unsigned long iova, unsigned long n);
  /**
   * iommu_revoke_pfn() - every entry of every domain that maps @pfn maps the scratch
   * frame instead. Returns the number of entries changed; @who gets the names of the
   * domains (once each).
   */
  unsigned long revoke_pfn(unsigned long pfn, std::vector<std::string>* who = nullptr);
  /** iova_to_phys() - what entry @iova of @d maps now (a pfn, kScratchPfn or kIommuNoEntry). */
  unsigned long iova_to_phys(const iommu_domain* d, unsigned long iova) const;

  /**
   * iommu_dma() - one transfer to entry @iova of @d: translate it and call @xfer with
   * the frame's bytes (the scratch frame's for a redirected entry), under the IOMMU's
   * lock. An entry that maps nothing is an IOMMU fault: @xfer is not called.
   * Returns the pfn written (kScratchPfn for the scratch frame, kIommuNoEntry for a
   * fault). @xfer must not sleep.
   */
  unsigned long dma(iommu_domain* d, unsigned long iova, const std::function<void(char* frame)>& xfer);

  /** scratch_writes() - transfers that landed in the scratch frame, every domain. */
  uint64_t scratch_writes() const;
  /** scratch() - the scratch frame's bytes (for oracles and tests). */
  const char* scratch() const { return scratch_->bytes.data(); }

 private:
  struct alignas(4096) ScratchFrame {
    std::array<char, PAGE_SIZE> bytes{};
  };
  const PhysMem* const mem_;
  mutable spinlock_t lock_;
  std::vector<std::unique_ptr<iommu_domain>> domains_ GUARDED_BY(lock_);
  std::unique_ptr<ScratchFrame> scratch_;
  uint64_t scratch_writes_ GUARDED_BY(lock_) = 0;
};

}  // namespace guplab
