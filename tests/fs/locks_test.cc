// locks_test.cc - layout leases (fs/locks.h) and what truncate does with them and with
// long-term pinners under policy `revoke`: the lease break first, MMU_NOTIFY_TRUNCATE
// for a listening device, a WARN and the IOMMU's scratch page for one that does not.
#include "fs/locks.h"

#include <gtest/gtest.h>

#include "drivers/iommu.h"
#include "drivers/rdma_device.h"
#include "fs/file.h"
#include "tests/fs/fs_fixture.h"

namespace guplab::fstest {
namespace {

/** A lease holder that counts what it is told, and may let go when told. */
struct Holder {
  file_lease fl;
  int breaks = 0, revokes = 0;
  bool let_go = false;
  static void on_break(file_lease* fl) {
    auto* h = static_cast<Holder*>(fl->fl_owner);
    h->breaks++;
    if (h->let_go) EXPECT_EQ(vfs_setlease(fl->fl_file, F_UNLCK, fl), 0);
  }
  static void on_revoked(file_lease* fl) { static_cast<Holder*>(fl->fl_owner)->revokes++; }
  static constexpr lease_manager_operations kOps = {.lm_break = &on_break, .lm_revoked = &on_revoked};
  Holder() {
    fl.fl_lmops = &kOps;
    fl.fl_owner = this;
  }
};

class LocksTest : public FsTest {
 protected:
  FsParams params() override {
    FsParams p;
    p.policy = WritebackPolicy::revoke;
    return p;
  }
};

TEST_F(LocksTest, SetAndReleaseALayoutLease) {
  file* f = open("/mnt/a");
  Holder h;
  EXPECT_EQ(vfs_setlease(f, F_UNLCK, &h.fl), -EINVAL) << "nothing held yet";
  EXPECT_EQ(vfs_setlease(f, F_LAYOUT, &h.fl), 0);
  EXPECT_EQ(vfs_setlease(f, F_LAYOUT, &h.fl), -EINVAL) << "held already";
  EXPECT_EQ(vfs_setlease(f, 99, &h.fl), -EINVAL);
  EXPECT_EQ(layout_leases(file_inode(f)), 1u);
  EXPECT_EQ(vfs_setlease(f, F_UNLCK, &h.fl), 0);
  EXPECT_EQ(layout_leases(file_inode(f)), 0u);
  EXPECT_EQ(break_layout(file_inode(f), false), 0) << "no lease: nothing to break";
  filp_close(f);
}

TEST_F(LocksTest, AHolderThatLetsGoIsNotRevoked) {
  file* f = open("/mnt/a");
  Holder h;
  h.let_go = true;
  ASSERT_EQ(vfs_setlease(f, F_LAYOUT, &h.fl), 0);
  inode_lock(file_inode(f));
  EXPECT_EQ(break_layout(file_inode(f), true), 0);
  inode_unlock(file_inode(f));
  EXPECT_EQ(h.breaks, 1);
  EXPECT_EQ(h.revokes, 0);
  EXPECT_EQ(layout_leases(file_inode(f)), 0u);
  filp_close(f);
}

TEST_F(LocksTest, AHolderThatHangsOnLosesTheLeaseAfterTheBreakTime) {
  file* f = open("/mnt/a");
  Holder h, second;
  ASSERT_EQ(vfs_setlease(f, F_LAYOUT, &h.fl), 0);
  inode_lock(file_inode(f));
  EXPECT_EQ(break_layout(file_inode(f), false), -EWOULDBLOCK) << "without waiting: still held";
  EXPECT_EQ(h.breaks, 1);
  EXPECT_EQ(vfs_setlease(f, F_LAYOUT, &second.fl), -EAGAIN) << "no new lease while one is being broken";
  EXPECT_EQ(break_layout(file_inode(f), true), 0);
  inode_unlock(file_inode(f));
  EXPECT_EQ(h.breaks, 1) << "told once";
  EXPECT_EQ(h.revokes, 1);
  EXPECT_EQ(layout_leases(file_inode(f)), 0u);
  EXPECT_EQ(vfs_setlease(f, F_UNLCK, &h.fl), -EINVAL) << "revoked: nothing left to release";
  filp_close(f);
}

TEST_F(LocksTest, TruncateBreaksTheLeaseWhenItShrinksTheFile) {
  write_file("/mnt/a", pattern(2 * PAGE_SIZE, 1), true);
  file* f = open("/mnt/a");
  Holder h;
  h.let_go = true;
  ASSERT_EQ(vfs_setlease(f, F_LAYOUT, &h.fl), 0);
  EXPECT_EQ(vfs_truncate(f, 2 * PAGE_SIZE + 1), 0);
  EXPECT_EQ(h.breaks, 0) << "growing frees no block";
  EXPECT_EQ(vfs_truncate(f, PAGE_SIZE), 0);
  EXPECT_EQ(h.breaks, 1) << "shrinking does: the holder is told first";
  filp_close(f);
}

// The end-to-end path: a listening device is revoked by MMU_NOTIFY_TRUNCATE (no WARN),
// a device that does not listen is reported and redirected to the scratch page.
TEST_F(LocksTest, TruncateRevokesAListenerAndWarnsAboutADeviceThatDoesNotListen) {
  write_file("/mnt/a", pattern(2 * PAGE_SIZE, 1), true);
  write_file("/mnt/b", pattern(2 * PAGE_SIZE, 2), true);
  file* fa = open("/mnt/a");
  file* fb = open("/mnt/b");
  const unsigned long a = map_file(fa, 2 * PAGE_SIZE);
  const unsigned long b = map_file(fb, 2 * PAGE_SIZE);
  StampClock clock;
  rdma_config lcfg;
  lcfg.name = "listener";
  lcfg.listens = true;
  RdmaDevice listener(m_.get(), &clock, lcfg);
  rdma_config dcfg;
  dcfg.name = "deaf";
  dcfg.writer = 2;
  RdmaDevice deaf(m_.get(), &clock, dcfg);
  ASSERT_EQ(listener.reg_mr(a, 2), 0);
  ASSERT_EQ(deaf.reg_mr(b, 2), 0);

  EXPECT_EQ(vfs_truncate(fa, 0), 0);
  EXPECT_TRUE(listener.revoked());
  ASSERT_FALSE(listener.revoke_events().empty());
  EXPECT_EQ(listener.revoke_events().back().event, "truncate");
  EXPECT_EQ(m_->nr_warnings(), 0u) << "a listener is no WARN";

  EXPECT_EQ(vfs_truncate(fb, 0), 0);
  EXPECT_FALSE(deaf.revoked()) << "nobody can tell it";
  EXPECT_EQ(m_->nr_warnings(), 2u) << "one WARN per page it still maps";
  EXPECT_NE(deaf.pinned_page(0), nullptr) << "its pins stay: the driver owns them";
  deaf.dma_write(0);
  EXPECT_EQ(deaf.last_write(0).pfn, kScratchPfn) << "its DMA lands in the scratch page";
  listener.dma_write(0);
  EXPECT_EQ(listener.last_write(0).pfn, kScratchPfn);

  listener.dereg_mr(true);
  deaf.dereg_mr(true);
  expected_warnings_ = 2;
  filp_close(fa);
  filp_close(fb);
}

}  // namespace
}  // namespace guplab::fstest
