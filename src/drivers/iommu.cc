// iommu.cc - IOVA tables, the scratch frame, and transfers through them.
#include "drivers/iommu.h"

#include <algorithm>

#include "mm/memory_model.h"
#include "base/bug.h"

namespace guplab {

Iommu::Iommu(const PhysMem* mem) : mem_(mem), scratch_(std::make_unique<ScratchFrame>()) { spin_lock_init(&lock_, "iommu"); }

Iommu::~Iommu() = default;

iommu_domain* Iommu::domain_alloc(std::string name) {
  auto d = std::make_unique<iommu_domain>();
  d->name = std::move(name);
  iommu_domain* raw = d.get();
  SpinGuard g(&lock_);
  domains_.push_back(std::move(d));
  return raw;
}

void Iommu::domain_free(iommu_domain* d) {
  SpinGuard g(&lock_);
  auto it = std::find_if(domains_.begin(), domains_.end(), [d](const auto& p) { return p.get() == d; });
  VM_BUG_ON(!(it != domains_.end() && "iommu_domain_free() of an unknown domain"));
  domains_.erase(it);
}

int Iommu::map(iommu_domain* d, unsigned long iova, const unsigned long* pfns, unsigned long n) {
  SpinGuard g(&lock_);
  if (d->entries.size() < iova + n) d->entries.resize(iova + n, kIommuNoEntry);
  for (unsigned long i = 0; i < n; i++) d->entries[iova + i] = pfns[i];
  return 0;
}

unsigned long Iommu::unmap(iommu_domain* d, unsigned long iova, unsigned long n) {
  SpinGuard g(&lock_);
  unsigned long changed = 0;
  for (unsigned long i = iova; i < iova + n && i < d->entries.size(); i++) {
    if (d->entries[i] == kIommuNoEntry) continue;
    d->entries[i] = kIommuNoEntry;
    changed++;
  }
  return changed;
}

unsigned long Iommu::redirect_to_scratch(iommu_domain* d, unsigned long iova, unsigned long n) {
  // Taking the lock is the fence: a transfer holds it from translation to its last byte.
  SpinGuard g(&lock_);
  unsigned long changed = 0;
  for (unsigned long i = iova; i < iova + n && i < d->entries.size(); i++) {
    if (d->entries[i] == kIommuNoEntry || d->entries[i] == kScratchPfn) continue;
    d->entries[i] = kScratchPfn;
    changed++;
  }
  return changed;
}

unsigned long Iommu::revoke_pfn(unsigned long pfn, std::vector<std::string>* who) {
  VM_BUG_ON(!(pfn != kScratchPfn && pfn != kIommuNoEntry));
  SpinGuard g(&lock_);
  unsigned long changed = 0;
  for (const auto& d : domains_) {
    bool hit = false;
    for (unsigned long& e : d->entries) {
      if (e != pfn) continue;
      e = kScratchPfn;
      changed++;
      hit = true;
    }
    if (hit && who) who->push_back(d->name);
  }
  return changed;
}

unsigned long Iommu::iova_to_phys(const iommu_domain* d, unsigned long iova) const {
  SpinGuard g(&lock_);
  return iova < d->entries.size() ? d->entries[iova] : kIommuNoEntry;
}

unsigned long Iommu::dma(iommu_domain* d, unsigned long iova, const std::function<void(char*)>& xfer) {
  SpinGuard g(&lock_);
  const unsigned long e = iova < d->entries.size() ? d->entries[iova] : kIommuNoEntry;
  if (e == kIommuNoEntry) {
    d->faults++;
    return e;
  }
  if (e == kScratchPfn) {
    d->scratch_writes++;
    scratch_writes_++;
    xfer(scratch_->bytes.data());
    return e;
  }
  VM_BUG_ON(!(mem_->pfn_valid(e)));
  xfer(static_cast<char*>(page_address(mem_->pfn_to_page(e))));
  return e;
}

uint64_t Iommu::scratch_writes() const {
  SpinGuard g(&lock_);
  return scratch_writes_;
}

}  // namespace guplab
