// iommu_test.cc - the IOMMU model: translation, the scratch frame, unmap faults and
// revoke by frame. (The fence behind a transfer in flight: rdma_device_test.cc.)
#include "drivers/iommu.h"

#include <gtest/gtest.h>

#include <cstring>

#include "machine/machine.h"
#include "mm/memory_model.h"
#include "tests/mm/mm_fixture.h"

namespace guplab {
namespace {

class IommuTest : public test::MmTest {
 protected:
  Iommu& iommu() { return m_->iommu(); }
  char* frame(unsigned long pfn) { return static_cast<char*>(page_address(m_->mem().pfn_to_page(pfn))); }
};

TEST_F(IommuTest, TransfersGoWhereTheEntryPoints) {
  const unsigned long pfns[2] = {10, 11};
  iommu_domain* d = iommu().domain_alloc("dev");
  ASSERT_EQ(iommu().map(d, 0, pfns, 2), 0);
  EXPECT_EQ(iommu().iova_to_phys(d, 1), 11u);
  EXPECT_EQ(iommu().iova_to_phys(d, 2), kIommuNoEntry);
  std::memset(frame(11), 0, 8);
  EXPECT_EQ(iommu().dma(d, 1, [](char* f) { f[0] = 'x'; }), 11u);
  EXPECT_EQ(frame(11)[0], 'x') << "the transfer reached the mapped frame";

  EXPECT_EQ(iommu().redirect_to_scratch(d, 0, 2), 2u);
  EXPECT_EQ(iommu().redirect_to_scratch(d, 0, 2), 0u) << "already redirected";
  EXPECT_EQ(iommu().dma(d, 1, [](char* f) { f[0] = 'y'; }), kScratchPfn);
  EXPECT_EQ(frame(11)[0], 'x') << "the frame is out of the device's reach";
  EXPECT_EQ(iommu().scratch()[0], 'y') << "the write landed in the scratch frame";
  EXPECT_EQ(iommu().scratch_writes(), 1u);
  EXPECT_EQ(d->scratch_writes, 1u);

  EXPECT_EQ(iommu().unmap(d, 0, 2), 2u);
  bool called = false;
  EXPECT_EQ(iommu().dma(d, 0, [&](char*) { called = true; }), kIommuNoEntry);
  EXPECT_FALSE(called) << "an unmapped entry is an IOMMU fault: nothing written";
  EXPECT_EQ(d->faults, 1u);
  iommu().domain_free(d);
}

TEST_F(IommuTest, RevokeByFrameFindsEveryDomainThatMapsIt) {
  const unsigned long a[2] = {20, 21}, b[1] = {21};
  iommu_domain* da = iommu().domain_alloc("a");
  iommu_domain* db = iommu().domain_alloc("b");
  iommu().map(da, 0, a, 2);
  iommu().map(db, 5, b, 1);
  std::vector<std::string> who;
  EXPECT_EQ(iommu().revoke_pfn(21, &who), 2u);
  EXPECT_EQ(who, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(iommu().iova_to_phys(da, 1), kScratchPfn);
  EXPECT_EQ(iommu().iova_to_phys(db, 5), kScratchPfn);
  EXPECT_EQ(iommu().iova_to_phys(da, 0), 20u) << "other frames stay mapped";
  EXPECT_EQ(iommu().revoke_pfn(21, nullptr), 0u);
  iommu().domain_free(da);
  iommu().domain_free(db);
}

}  // namespace
}  // namespace guplab
