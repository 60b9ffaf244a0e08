// rdma_cost_test.cc - the cost comparison's structure: one row per mode in table order,
// pins held and coherence per mode, the refusal of bad options. Never a time.
#include "lab/rdma_cost.h"

#include <gtest/gtest.h>

#include "base/errno.h"

namespace guplab {
namespace {

RdmaCostOptions small() {
  RdmaCostOptions o;
  o.pages = 8;
  o.rounds = 2;
  o.invalidations = 16;
  o.runs = 1;
  return o;
}

TEST(RdmaCostTest, EveryModeHasARowWithWhatItGuarantees) {
  Result<std::vector<RdmaCostRow>> measured = measure_rdma_cost(small());
  ASSERT_TRUE(measured.ok());
  const std::vector<RdmaCostRow>& rows = *measured;
  ASSERT_EQ(rows.size(), rdma_cost_modes().size());
  for (size_t i = 0; i < rows.size(); i++) {
    EXPECT_EQ(rows[i].mode, rdma_cost_modes()[i].name);
    EXPECT_EQ(rows[i].error, 0) << rows[i].mode;
    EXPECT_FALSE(rows[i].guarantee.empty());
    EXPECT_EQ(rows[i].checked, 8u);
  }
  EXPECT_EQ(rows[0].mode, "pin");
  EXPECT_EQ(rows[0].pins_held, 8) << "pinning holds every page of the range";
  EXPECT_EQ(rows[0].coherent, 0u) << "after an invalidation the pinned device writes a frame the process lost";
  EXPECT_EQ(rows[1].mode, "pin+notify");
  EXPECT_EQ(rows[1].pins_held, 8) << "a listening device pins too";
  EXPECT_EQ(rows[1].coherent, 0u) << "MADV_DONTNEED is a CLEAR: no revoke, the device writes the old frame";
  EXPECT_EQ(rows[2].mode, "odp");
  EXPECT_EQ(rows[2].pins_held, 0);
  EXPECT_EQ(rows[2].coherent, 8u) << "on-demand paging follows the mm";
  const std::string table = format_rdma_cost(rows, small(), 1.0);
  EXPECT_NE(table.find("pin "), std::string::npos) << table;
  EXPECT_NE(table.find("odp "), std::string::npos) << table;
}

TEST(RdmaCostTest, OneModeOrAnErrorForAnUnknownOneOrZeroCounts) {
  RdmaCostOptions o = small();
  o.only = "odp";
  Result<std::vector<RdmaCostRow>> rows = measure_rdma_cost(o);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].mode, "odp");
  o.only = "nosuch";
  Result<std::vector<RdmaCostRow>> bad = measure_rdma_cost(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), -EINVAL);
  o = small();
  o.pages = 0;
  bad = measure_rdma_cost(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), -EINVAL);
}

}  // namespace
}  // namespace guplab
