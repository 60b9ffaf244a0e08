// vmscan_test.cc - mm/vmscan.cc on a small machine: LRU shrinking frees clean file
// pages (and only those), dirty pages are left to the flusher, files larger than RAM
// are written and read back through direct reclaim, a kernel allocation reclaims the
// zone it can use; a pinned file page is never freed and, under every tracking design,
// keeps its buffers even when nothing maps it any more;
// and how each pin design keeps it: try_to_unmap() leaves a pinned mapped page mapped
// (bias, folio_pincount, fake_vma), dma_count keeps it off the LRU while pinned, and
// `get` lets reclaim unmap it and drop its buffers while the GUP reference keeps it in
// the page cache - seed 002's precondition, asserted here as a state (the scenario
// ext4-bug takes it on to the BUG).
#include <gtest/gtest.h>

#include "base/clock.h"
#include "fs/buffer_head.h"
#include "mm/lru.h"
#include "mm/pin.h"
#include "mm/rmap.h"
#include "mm/vmscan.h"
#include "tests/fs/fs_pin_fixture.h"

namespace guplab::fstest {
namespace {

class VmscanTest : public FsPinTest {
 protected:
  FsParams base_params() override {
    FsParams p;
    p.ram = 16ull << 20;
    p.disk = 48ull << 20;
    return p;
  }
  /** reclaim_all() - several full passes, so that aging has settled. */
  reclaim_stat reclaim_all(int rounds = 6) {
    reclaim_stat st;
    for (int i = 0; i < rounds; i++) try_to_free_pages(m_.get(), 1ul << 30, gfp_t::GFP_HIGHUSER_MOVABLE, &st);
    return st;
  }
  bool in_cache(file* f, pgoff_t idx, folio* expect) {
    folio* pg = cached(f, idx);
    if (pg) folio_put(pg);
    return pg == expect;
  }
};

TEST_P(VmscanTest, ShrinkingTheLruFreesCleanFilePages) {
  const auto data = pattern(4u << 20, 1);
  write_file("/mnt/a", data, true);
  const int64_t cached0 = vs(NR_FILE_PAGES);
  ASSERT_GE(cached0, 1024);
  const unsigned long free0 = nr_free_pages(m_.get());
  reclaim_stat st;
  const unsigned long freed = try_to_free_pages(m_.get(), 512, gfp_t::GFP_HIGHUSER_MOVABLE, &st);
  EXPECT_GE(freed, 512u);
  EXPECT_EQ(st.nr_reclaimed, freed);
  EXPECT_EQ(nr_free_pages(m_.get()), free0 + freed);
  EXPECT_EQ(vs(NR_FILE_PAGES), cached0 - static_cast<int64_t>(freed));
  EXPECT_GE(st.nr_buffers_dropped, freed) << "each page's buffers go first";
  EXPECT_EQ(st.nr_dirty, 0u);
  EXPECT_EQ(read_file("/mnt/a"), data) << "what was freed is read again from the disk";
}

TEST_P(VmscanTest, DirtyPagesAreLeftToTheFlusher) {
  file* f = open("/mnt/d");
  ASSERT_NE(f, nullptr);
  const auto data = pattern(256 * PAGE_SIZE, 2);
  loff_t pos = 0;
  ASSERT_EQ(kernel_write(f, data.data(), data.size(), &pos), static_cast<ssize_t>(data.size()));
  // One shrink_folio_list() pass over them: the flusher it kicks runs after the pass.
  list_head l;
  INIT_LIST_HEAD(&l);
  const unsigned long n = isolate_lru_folios(m_->lru(), LRU_INACTIVE_FILE, 1024, &l);
  EXPECT_EQ(n, 256u);
  reclaim_stat st;
  bdi_writeback* wb = &file_inode(f)->i_sb->s_wb;
  const uint64_t passes0 = wb->nr_passes.load();
  EXPECT_EQ(shrink_folio_list(&l, &st), 0u) << "nothing clean to free";
  EXPECT_EQ(st.nr_scanned, n);
  EXPECT_EQ(st.nr_dirty, n);
  EXPECT_EQ(vs(NR_FILE_PAGES), 256);
  // Reclaim kicked the flusher: the pages get written without anyone else asking.
  // The flusher wakes wb_wait after every pass; bounded, so a flusher nobody kicked fails.
  wait_event_timeout(&wb->wb_wait, [&] { return wb->nr_passes.load() > passes0 && vs(NR_FILE_DIRTY) == 0; },
                     10 * NSEC_PER_SEC);
  EXPECT_EQ(vs(NR_FILE_DIRTY), 0) << "the flusher was kicked";
  ASSERT_EQ(filemap_fdatawait_range(f->f_mapping, 0, LLONG_MAX), 0);
  st = reclaim_all(1);
  EXPECT_GT(st.nr_reclaimed, 0u) << "once written they are clean";
  filp_close(f);
  EXPECT_EQ(read_file("/mnt/d"), data);
}

TEST_P(VmscanTest, FilesLargerThanRamAreWrittenAndReadThroughReclaim) {
  const auto data = pattern(24u << 20, 3);  // RAM is 16 MiB
  write_file("/mnt/big", data, true);
  EXPECT_GT(vs(PGSTEAL), 0);
  EXPECT_EQ(read_file("/mnt/big"), data);
}

TEST_P(VmscanTest, TryToReleasePageDropsTheBuffersOfACleanIdlePageOnly) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  folio* pg = cached(f, 0);
  ASSERT_TRUE(PagePrivate(pg));
  buffer_head* bh = reinterpret_cast<buffer_head*>(pg->private_);
  folio_lock(pg);
  atomic_inc(&bh->b_count);  // someone outside the page uses the buffer
  EXPECT_FALSE(try_to_release_page(pg, gfp_t::GFP_KERNEL));
  atomic_dec(&bh->b_count);
  SetPageWriteback(pg);  // as if a write were in flight
  EXPECT_FALSE(try_to_release_page(pg, gfp_t::GFP_KERNEL)) << "never under writeback";
  ClearPageWriteback(pg);
  EXPECT_TRUE(PagePrivate(pg));
  const int refs = page_ref_count(pg);
  EXPECT_TRUE(try_to_release_page(pg, gfp_t::GFP_KERNEL));
  EXPECT_FALSE(PagePrivate(pg));
  EXPECT_EQ(page_ref_count(pg), refs - 1) << "drop_buffers() gave the buffers' reference back";
  folio_unlock(pg);
  folio_put(pg);
  filp_close(f);
  EXPECT_EQ(read_file("/mnt/a"), pattern(PAGE_SIZE, 1));
}

// Page cache fills both zones; a kernel allocation (ZONE_NORMAL only: page tables,
// metadata I/O, bounce pages) must make reclaim free pages of ZONE_NORMAL, not just any.
TEST_P(VmscanTest, KernelAllocationsReclaimFromTheirOwnZone) {
  const auto data = pattern(20u << 20, 4);
  write_file("/mnt/big", data, true);
  ASSERT_EQ(umount(), 0);
  mount();
  EXPECT_EQ(read_file("/mnt/big"), data);  // clean page cache everywhere
  std::vector<page*> got;
  for (int i = 0; i < 256; i++) {
    page* p = alloc_pages_on(m_.get(), gfp_t::GFP_KERNEL, 0);
    if (!p) break;
    EXPECT_EQ(page_zonenum(p), static_cast<unsigned>(ZONE_NORMAL));
    got.push_back(p);
  }
  EXPECT_EQ(got.size(), 256u) << "ZONE_NORMAL full of clean page cache must be reclaimed";
  for (page* p : got) put_page(p);
}

// A pinned page that is mapped: seed 002's try_to_unmap() skips it; under `get` nothing
// says it is pinned, so reclaim unmaps it and drops its buffers, and only the extra
// reference keeps it in the page cache.
TEST_P(VmscanTest, PinnedMappedPageIsKept) {
  file* f = make_file("/mnt/a", 4, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1, FOLL_NONE);  // clean, mapped read-only, clean buffers
  folio* p = page_folio(pn.pages[0]);
  ASSERT_FALSE(PageDirty(p));
  const int refs = page_ref_count(p);
  reclaim_stat st = reclaim_all();
  EXPECT_TRUE(in_cache(f, 0, p)) << "a pinned page is never freed";
  if (design() == PinDesign::get) {
    EXPECT_FALSE(pte_present(pte_at(pn.addr))) << "get: reclaim unmapped it";
    EXPECT_FALSE(PagePrivate(p)) << "get: and dropped its buffers (seed 002's precondition)";
    EXPECT_EQ(folio_mapping_read(p), f->f_mapping) << "still in the page cache";
    EXPECT_GE(st.nr_ref_kept, 1u);
    EXPECT_EQ(page_ref_count(p), refs - 2) << "the pte's and the buffers' references went, the pin's stays";
  } else {
    EXPECT_TRUE(pte_present(pte_at(pn.addr))) << "a pinned page stays mapped";
    EXPECT_TRUE(PagePrivate(p)) << "with its buffers";
    EXPECT_EQ(page_ref_count(p), refs);
    if (design() == PinDesign::dma_count) EXPECT_FALSE(PageLRU(p)) << "dma_count: not even on the LRU";
    // Kept before try_to_unmap() is even asked (policies other than ignore), or left
    // mapped by it (ignore has its own expectations, elsewhere).
    else EXPECT_GE(st.nr_unmap_fail + st.nr_pinned, 1u);
  }
  unpin(&pn);
  filp_close(f);
}

// Pinned, then unmapped (the process went away, the device still has the page): no pte
// for try_to_unmap() to refuse, yet the page must keep its buffers under every tracking
// design, or the pinner's set_page_dirty_lock() at unpin leaves a dirty page without
// buffers for ext4_writepage() (O2 of seed 003).
TEST_P(VmscanTest, PinnedUnmappedPageKeepsItsBuffers) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1, FOLL_NONE);
  page* p = pn.pages[0];
  ASSERT_FALSE(PageDirty(p));
  unmap(&pn);
  reclaim_stat st = reclaim_all();
  EXPECT_TRUE(in_cache(f, 0, page_folio(p)));
  if (design() == PinDesign::get) {
    EXPECT_FALSE(PagePrivate(p)) << "get: nothing tells reclaim";
  } else {
    EXPECT_TRUE(PagePrivate(p)) << "a page that may be pinned keeps its buffers";
    if (design() == PinDesign::bias || design() == PinDesign::folio_pincount)
      EXPECT_GE(st.nr_pinned, 1u) << "kept because it may be pinned, not because it is mapped";
    dev_write(p, 2);
    unpin_user_pages_dirty_lock(&p, 1, true);  // what the driver does when the device is done
    EXPECT_EQ(vfs_fsync(f, 0), 0);
    EXPECT_EQ(m_->nr_oops(), 0u) << (m_->nr_oops() ? m_->oopses()[0].format() : "");
    EXPECT_EQ(disk_page(f, 0), pattern(PAGE_SIZE, 2));
    pn.pages.clear();
  }
  unpin(&pn);
  filp_close(f);
}

class DmaCountVmscanTest : public VmscanTest {};

TEST_P(DmaCountVmscanTest, PinnedPagesAreOffTheLruUntilTheLastUnpin) {
  file* f = make_file("/mnt/a", 1, 1);
  ASSERT_NE(f, nullptr);
  const unsigned long a = map_file(f, PAGE_SIZE);
  folio* pg = cached(f, 0);
  ASSERT_TRUE(PageLRU(pg));
  const int64_t lru0 = vs(NR_ZONE_INACTIVE_FILE) + vs(NR_ZONE_ACTIVE_FILE);
  page* p1 = nullptr;
  page* p2 = nullptr;
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_WRITE, &p1), 1);
  ASSERT_EQ(pin_user_pages_fast(a, 1, FOLL_NONE, &p2), 1);
  ASSERT_EQ(p1, p2);
  EXPECT_FALSE(PageLRU(pg));
  EXPECT_TRUE(PageDmaPinned(pg));
  EXPECT_EQ(PinDmaCount::count(pg), 2u);
  EXPECT_EQ(vs(NR_ZONE_INACTIVE_FILE) + vs(NR_ZONE_ACTIVE_FILE), lru0 - 1);
  reclaim_all(2);
  EXPECT_TRUE(in_cache(f, 0, pg)) << "reclaim never sees it";
  unpin_user_page(p1);
  EXPECT_FALSE(PageLRU(pg)) << "still pinned once";
  EXPECT_EQ(PinDmaCount::count(pg), 1u);
  unpin_user_page(p2);
  EXPECT_TRUE(PageLRU(pg)) << "back on the LRU after the last unpin";
  EXPECT_FALSE(PageDmaPinned(pg));
  EXPECT_EQ(vs(NR_ZONE_INACTIVE_FILE) + vs(NR_ZONE_ACTIVE_FILE), lru0);
  folio_put(pg);
  EXPECT_EQ(vm_munmap(mm_, a, PAGE_SIZE), 0);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  filp_close(f);
  reclaim_all(2);
  EXPECT_EQ(vs(NR_FILE_PAGES), 0) << "and reclaimable again";
}

// rfc002 (seed 002 as posted) looks at pins in reclaim only through try_to_unmap(): a
// pinned page nobody maps any more has no pte to refuse, so reclaim drops its buffers -
// seed 002's precondition for the ext4 crash, under the designs whose pinned pages stay
// on the LRU and are not mappings. (dma_count keeps them off the LRU; under fake_vma
// the pin is a mapping, which try_to_unmap() refuses to remove.)
class Rfc002VmscanTest : public VmscanTest {};

TEST_P(Rfc002VmscanTest, PinnedUnmappedPageLosesItsBuffersUnlessTheDesignKeepsIt) {
  file* f = make_file("/mnt/a", 2, 1);
  ASSERT_NE(f, nullptr);
  Pinned pn = pin_mapped(f, 1, FOLL_NONE);
  page* p = pn.pages[0];
  ASSERT_FALSE(PageDirty(p));
  unmap(&pn);
  reclaim_all();
  EXPECT_TRUE(in_cache(f, 0, page_folio(p))) << "a pinned page is never freed";
  const bool kept = design() == PinDesign::dma_count || design() == PinDesign::fake_vma;
  EXPECT_EQ(PagePrivate(p), kept) << (kept ? "kept by the design" : "rfc002: reclaim dropped its buffers");
  unpin(&pn);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Designs, VmscanTest, ::testing::ValuesIn(all_designs()), design_policy_name);
std::vector<DesignPolicy> rfc002_tracked() {
  std::vector<DesignPolicy> v;
  for (PinDesign d : kAllPinDesigns)
    if (d != PinDesign::get) v.emplace_back(d, WritebackPolicy::rfc002);
  return v;
}
INSTANTIATE_TEST_SUITE_P(Tracked, Rfc002VmscanTest, ::testing::ValuesIn(rfc002_tracked()), design_policy_name);
INSTANTIATE_TEST_SUITE_P(DmaCount, DmaCountVmscanTest,
                         ::testing::Values(DesignPolicy{PinDesign::dma_count, WritebackPolicy::skip}),
                         design_policy_name);

}  // namespace
}  // namespace guplab::fstest
