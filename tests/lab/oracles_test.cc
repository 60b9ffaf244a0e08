// oracles_test.cc - the torn, lost and false-negative oracles on hand-made pages and
// disks.
#include "lab/oracles.h"

#include <gtest/gtest.h>

#include <memory>

#include "block/genhd.h"
#include "block/ramdisk.h"
#include "drivers/rdma_device.h"
#include "lab/scenario.h"
#include "lab/script.h"
#include "machine/sync_point.h"
#include "tests/mm/mm_fixture.h"
#include "tests/test_machine.h"

namespace guplab {
namespace {

std::vector<std::pair<Outcome, std::string>> only(const ScenarioContext& ctx, Outcome o) {
  std::vector<std::pair<Outcome, std::string>> out;
  for (const auto& f : ctx.findings())
    if (f.first == o) out.push_back(f);
  return out;
}

class OracleTest : public testing::MachineTest {
 protected:
  ScenarioParams params_;
  std::unique_ptr<ScenarioContext> ctx_ = nullptr;
  ScenarioContext& ctx() {
    if (!ctx_) ctx_ = std::make_unique<ScenarioContext>(m(), params_);
    return *ctx_;
  }
  void TearDown() override {
    ctx_.reset();
    MachineTest::TearDown();
  }
};

TEST_F(OracleTest, TornOracleOnHandMadeImages) {
  PageImage whole, torn;
  stamp_fill_page(whole.data(), {1, 0, 2});
  stamp_fill_page(torn.data(), {1, 0, 2});
  stamp_fill_chunk(static_cast<char*>(torn.data()) + 5 * kStampChunkSize, {1, 0, 3}, 5);
  EXPECT_EQ(check_torn(ctx(), "page A", whole).verdict, PageVerdict::whole);
  EXPECT_EQ(check_torn(ctx(), "page B", torn).verdict, PageVerdict::torn);
  auto t = only(ctx(), Outcome::torn);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].second, "page B is torn: [0..4]=dev1/p0/g2 [5]=dev1/p0/g3 [6..7]=dev1/p0/g2");
  auto ok = only(ctx(), Outcome::ok);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].second, "page A not torn (whole dev1/p0/g2)");
}

TEST_F(OracleTest, LostOracleComparesWithTheNewestWrite) {
  const dma_stamp task{0, 0, 1}, dev_old{1, 0, 2}, dev_new{1, 0, 3};
  PageImage disk;
  stamp_fill_page(disk.data(), dev_new);
  EXPECT_TRUE(check_lost(ctx(), "p0", disk, newer(task, dev_new)));
  stamp_fill_page(disk.data(), dev_old);
  EXPECT_FALSE(check_lost(ctx(), "p1", disk, newer(task, dev_new)));
  stamp_fill_page(disk.data(), task);
  EXPECT_FALSE(check_lost(ctx(), "p2", disk, newer(dev_new, task)));
  PageImage zero;
  EXPECT_FALSE(check_lost(ctx(), "p3", zero, dev_new));
  EXPECT_TRUE(check_lost(ctx(), "p4", zero, dma_stamp{})) << "nothing written, nothing to lose";
  auto lost = only(ctx(), Outcome::lost);
  ASSERT_EQ(lost.size(), 3u);
  EXPECT_EQ(lost[0].second, "p1 holds whole dev1/p0/g2, but the newest write was dev1/p0/g3");
  EXPECT_EQ(lost[1].second, "p2 holds whole task/p0/g1, but the newest write was dev1/p0/g3");
  EXPECT_EQ(lost[2].second, "p3 holds unstamped, but the newest write was dev1/p0/g3");
}

TEST_F(OracleTest, LostOracleAcceptsWhatTheProcessDiscarded) {
  // The process wrote g1, the device g2, then the process discarded the page at g3
  // (MADV_DONTNEED, truncate): neither write is owed any more.
  const dma_stamp dev{1, 0, 2};
  PageImage zero, stale, later;
  stamp_fill_page(stale.data(), dev);
  stamp_fill_page(later.data(), {0, 0, 4});  // a write after the discard (not the newest known: fine)
  EXPECT_TRUE(check_lost(ctx(), "p0", zero, dev, /*discarded=*/3));
  EXPECT_TRUE(check_lost(ctx(), "p1", later, dev, 3));
  EXPECT_FALSE(check_lost(ctx(), "p2", stale, dev, 3)) << "discarded data came back";
  // A discard before the newest write changes nothing: that write is owed.
  EXPECT_FALSE(check_lost(ctx(), "p3", zero, dev, 1));
  auto lost = only(ctx(), Outcome::lost);
  ASSERT_EQ(lost.size(), 2u);
  EXPECT_EQ(lost[0].second, "p2 holds whole dev1/p0/g2, written before the process discarded the page at g3");
  EXPECT_EQ(lost[1].second, "p3 holds unstamped, but the newest write was dev1/p0/g2");
  auto ok = only(ctx(), Outcome::ok);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].second, "p0 holds unstamped: the writes up to dev1/p0/g2 were discarded by the process at g3");
}

TEST_F(OracleTest, CorruptOracleFindsADevicesStampsInAnotherFilesPage) {
  PageImage mine, hit, damaged;
  stamp_fill_page(mine.data(), {0, 0, 1});      // the other file's own data
  stamp_fill_page(hit.data(), {0, 1, 2});
  stamp_fill_chunk(static_cast<char*>(hit.data()) + 2 * kStampChunkSize, {7, 0, 3}, 2);  // device 7's chunk
  stamp_fill_page(damaged.data(), {0, 2, 4});
  stamp_fill_chunk(static_cast<char*>(damaged.data()) + 3 * kStampChunkSize, {7, 1, 5}, 4);  // misplaced
  EXPECT_TRUE(check_corrupt(ctx(), "q0", mine, 7));
  EXPECT_FALSE(check_corrupt(ctx(), "q1", hit, 7));
  EXPECT_FALSE(check_corrupt(ctx(), "q2", damaged, 7)) << "a damaged chunk with its header counts";
  EXPECT_TRUE(check_corrupt(ctx(), "q3", hit, 8)) << "only the named device's stamps count";
  auto corrupt = only(ctx(), Outcome::corrupt);
  ASSERT_EQ(corrupt.size(), 2u);
  EXPECT_EQ(corrupt[0].second,
            "q1 holds 1 chunk(s) written by device 7: torn: [0..1]=task/p1/g2 [2]=dev7/p0/g3 [3..7]=task/p1/g2");
  EXPECT_EQ(only(ctx(), Outcome::ok).size(), 2u);
}

TEST_F(OracleTest, DiskPagesAreReadFromTheMedium) {
  std::unique_ptr<ramdisk> rd;
  ASSERT_EQ(ramdisk::create(&m(), "ram0", ramdisk_config{}, &rd), 0);
  PageImage img;
  stamp_fill_page(img.data(), {1, 4, 9});
  ASSERT_EQ(rd->write_sectors(64, 8, img.data()), 0);
  PageImage back;
  ASSERT_EQ(read_disk_page(rd.get(), 64, &back), 0);
  EXPECT_EQ(stamp_scan_page(back.data()).stamp(), (dma_stamp{1, 4, 9}));
  EXPECT_EQ(read_disk_page(rd.get(), rd->nr_sectors(), &back), -EINVAL);
}

class PinWitnessTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config();
    c.pin_design = GetParam();
    return c;
  }
};

TEST_P(PinWitnessTest, PinnedPagesAnswerPinnedAtEveryAsk) {
  ScenarioParams p;
  p.design = GetParam();
  auto ctx = std::make_unique<ScenarioContext>(*m_, p);
  m_->sync_points().enable();
  Script script(*ctx);
  StampClock clock;
  RdmaDevice dev(m_.get(), &clock, rdma_config{});
  PinWitness witness(*ctx, script);
  witness.watch(&dev);
  // A source that lies: this page is not pinned by anyone.
  const unsigned long a = map(3 * PAGE_SIZE);
  put_u64(a + 2 * PAGE_SIZE, 1);
  page* unpinned = page_at(a + 2 * PAGE_SIZE);
  witness.watch("liar", [unpinned](const std::function<void(page*)>& visit) { visit(unpinned); });
  witness.ask_at("rmap:page_mkclean");
  ASSERT_EQ(dev.reg_mr(a, 2), 0);
  TEST_SYNC_POINT("rmap:page_mkclean");
  TEST_SYNC_POINT("rmap:page_mkclean");
  dev.dereg_mr(true);
  TEST_SYNC_POINT("rmap:page_mkclean");  // nothing pinned by the device any more
  witness.summarize();
  m_->sync_points().disable();
  if (GetParam() == PinDesign::get) {
    EXPECT_EQ(witness.checks(), 0u) << "design get tracks nothing: nothing is asked";
    EXPECT_TRUE(only(*ctx, Outcome::false_negative).empty());
  } else {
    EXPECT_EQ(witness.checks(), 2u * 2 + 3) << "two device pages twice, the liar's page three times";
    auto fn = only(*ctx, Outcome::false_negative);
    ASSERT_EQ(fn.size(), 3u) << "only the page nobody pinned is a miss";
    EXPECT_NE(fn[0].second.find("pinned by liar, answered page_maybe_dma_pinned() false"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Designs, PinWitnessTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
