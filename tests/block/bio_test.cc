// bio_test.cc - building bios (limits, the GUP bit), splitting and chaining, completing,
// and releasing pages the way they were taken.
#include "block/bio.h"

#include <gtest/gtest.h>

#include <climits>

#include "base/errno.h"
#include "tests/block/block_test_util.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/page-flags.h"
#include "mm/uaccess.h"

namespace guplab {
namespace {

using BioTest = testing::BlockTest;
using testing::end_record;
using testing::record_end_io;

TEST_F(BioTest, AllocLimits) {
  EXPECT_EQ(bio_alloc(nullptr, BIO_MAX_VECS + 1, REQ_OP_READ), nullptr);
  bio* b = bio_alloc(nullptr, BIO_MAX_VECS, REQ_OP_WRITE | REQ_SYNC);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->bi_max_vecs, BIO_MAX_VECS);
  EXPECT_EQ(b->bi_vcnt, 0);
  EXPECT_EQ(b->bi_iter.bi_size, 0u);
  EXPECT_EQ(bio_op(b), REQ_OP_WRITE);
  EXPECT_TRUE(bio_is_write(b));
  EXPECT_TRUE(any(b->bi_opf, REQ_SYNC));
  EXPECT_EQ(atomic_read(&b->__bi_cnt), 1);
  bio_put(b);
  b = bio_alloc(nullptr, 0, REQ_OP_FLUSH);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->bi_io_vec, nullptr);
  bio_put(b);
}

TEST_F(BioTest, AddPageFillsUntilFullThenReturnsZero) {
  page* p = kpage();
  bio* b = bio_alloc(nullptr, 3, REQ_OP_READ);
  for (unsigned i = 0; i < 3; i++) {
    get_page(p);
    EXPECT_EQ(bio_add_page(b, p, 1024, 1024 * i, false), 1024u);
  }
  EXPECT_EQ(b->bi_vcnt, 3);
  EXPECT_EQ(b->bi_iter.bi_size, 3072u);
  EXPECT_EQ(bio_add_page(b, p, 512, 0, false), 0u) << "full: bi_max_vecs";
  EXPECT_EQ(b->bi_vcnt, 3);
  EXPECT_EQ(bio_segments(b), 3u);
  EXPECT_EQ(m().nr_warnings(), 0u) << "a full bio is not misuse";
  bio_release_pages(b, false);
  bio_put(b);
  EXPECT_EQ(page_ref_count(p), 1);
}

TEST_F(BioTest, AddPageRefusesToPassFourGigabytes) {
  page* p = kpage();
  bio* b = bio_alloc(nullptr, 2, REQ_OP_READ);
  b->bi_iter.bi_size = UINT_MAX - 100;  // as if it held ~4 GiB already
  EXPECT_EQ(bio_add_page(b, p, 512, 0, false), 0u);
  EXPECT_EQ(b->bi_vcnt, 0);
  b->bi_iter.bi_size = 0;
  bio_put(b);
}

TEST_F(BioTest, AddPageMisuseWarnsAndAddsNothing) {
  page* p = kpage();
  bio* b = bio_alloc(nullptr, 4, REQ_OP_READ);
  EXPECT_EQ(bio_add_page(b, nullptr, 512, 0, false), 0u);
  EXPECT_EQ(bio_add_page(b, p, 0, 0, false), 0u);
  EXPECT_EQ(bio_add_page(b, p, 1024, PAGE_SIZE - 512, false), 0u) << "crosses the page end";
  EXPECT_EQ(bio_add_page(b, p, 512, PAGE_SIZE, false), 0u);
  EXPECT_EQ(b->bi_vcnt, 0);
  EXPECT_GE(m().nr_warnings(), 1u);
  bio_put(b);
}

TEST_F(BioTest, AddPageOfAFreePageWarns) {
  page* p = alloc_page(gfp_t::GFP_KERNEL);
  __free_page(p);
  bio* b = bio_alloc(nullptr, 1, REQ_OP_READ);
  EXPECT_EQ(bio_add_page(b, p, PAGE_SIZE, 0, false), 0u);
  EXPECT_EQ(m().nr_warnings(), 1u);
  bio_put(b);
}

TEST_F(BioTest, ReleaseGivesKernelPagesBackTheirReference) {
  page* a = kpage(1);
  page* c = kpage(2);
  const int ra = page_ref_count(a), rc = page_ref_count(c);
  bio* b = page_bio(nullptr, REQ_OP_READ, 0, {a, c, a});
  EXPECT_EQ(page_ref_count(a), ra + 2);
  EXPECT_EQ(page_ref_count(c), rc + 1);
  bio_release_pages(b, /*mark_dirty=*/true);
  EXPECT_EQ(page_ref_count(a), ra);
  EXPECT_EQ(page_ref_count(c), rc);
  EXPECT_FALSE(PageDirty(a)) << "kernel pages are never dirtied by the release";
  EXPECT_FALSE(PageDirty(c));
  bio_put(b);
  EXPECT_EQ(m().nr_warnings(), 0u);
}

TEST_F(BioTest, ReleasingTwiceWarnsAndReleasesOnce) {
  page* a = kpage();
  const int ra = page_ref_count(a);
  bio* b = page_bio(nullptr, REQ_OP_WRITE, 0, {a});
  bio_release_pages(b, false);
  bio_release_pages(b, false);
  EXPECT_EQ(page_ref_count(a), ra);
  EXPECT_EQ(m().nr_warnings(), 1u);
  bio_put(b);
}

TEST_F(BioTest, SplitSharesVecsAndAdvancesTheParent) {
  page* p[3] = {kpage(), kpage(), kpage()};
  bio* b = page_bio(nullptr, REQ_OP_WRITE, 100, {p[0], p[1], p[2]});
  bio* s = bio_split(b, 12);  // 6 KiB: page 0 and half of page 1
  ASSERT_FALSE(IS_ERR(s));
  EXPECT_TRUE(bio_flagged(s, BIO_CLONED));
  EXPECT_EQ(s->bi_io_vec, b->bi_io_vec);
  EXPECT_EQ(s->bi_iter.bi_sector, 100u);
  EXPECT_EQ(s->bi_iter.bi_size, 12u * 512);
  EXPECT_EQ(bio_segments(s), 2u);
  EXPECT_EQ(b->bi_iter.bi_sector, 112u);
  EXPECT_EQ(b->bi_iter.bi_size, 3 * PAGE_SIZE - 12 * 512);
  EXPECT_EQ(bio_segments(b), 2u);
  bio_vec first = bio_iter_iovec(b, b->bi_iter);
  EXPECT_EQ(bvec_page(&first), p[1]);
  EXPECT_EQ(first.bv_offset, 2048u);
  EXPECT_EQ(first.bv_len, 2048u);

  // A clone owns no pages and cannot take more.
  EXPECT_EQ(bio_add_page(s, p[0], 512, 0, false), 0u);
  bio_release_pages(s, false);
  EXPECT_EQ(m().nr_warnings(), 2u);
  bio_put(s);

  // Out-of-range splits are refused.
  EXPECT_EQ(PTR_ERR(bio_split(b, 0)), -EINVAL);
  EXPECT_EQ(PTR_ERR(bio_split(b, static_cast<int>(bio_sectors(b)))), -EINVAL);
  bio_release_pages(b, false);  // the parent still releases all three pages
  bio_put(b);
}

TEST_F(BioTest, ChainCompletesParentLastWithTheFirstError) {
  end_record rec;
  bio* parent = bio_alloc(nullptr, 0, REQ_OP_READ);
  parent->bi_end_io = record_end_io;
  parent->bi_private = &rec;
  bio* c1 = bio_alloc(nullptr, 0, REQ_OP_READ);
  bio* c2 = bio_alloc(nullptr, 0, REQ_OP_READ);
  ASSERT_EQ(bio_chain(c1, parent), 0);
  ASSERT_EQ(bio_chain(c2, parent), 0);
  EXPECT_EQ(bio_chain(c1, parent), -EINVAL) << "already chained";
  EXPECT_EQ(m().nr_warnings(), 1u);

  bio_endio(parent);  // the parent's own part: children still due
  EXPECT_EQ(rec.calls.load(), 0);
  c1->bi_status = BLK_STS_MEDIUM;
  bio_endio(c1);
  EXPECT_EQ(rec.calls.load(), 0);
  c2->bi_status = BLK_STS_IOERR;
  bio_endio(c2);  // the last one completes the parent
  EXPECT_EQ(rec.calls.load(), 1);
  EXPECT_EQ(rec.status, BLK_STS_MEDIUM) << "the first error wins";
}

TEST_F(BioTest, PutOfABioInFlightWarnsAndDoesNotFree) {
  bio* b = bio_alloc(nullptr, 0, REQ_OP_READ);
  bio_set_flag(b, BIO_INFLIGHT);
  bio_get(b);
  bio_put(b);
  EXPECT_EQ(m().nr_warnings(), 0u);
  bio_put(b);  // last reference while in flight: leak rather than free
  EXPECT_EQ(m().nr_warnings(), 1u);
  // Complete it properly and free it for real.
  bio_clear_flag(b, BIO_INFLIGHT);
  atomic_set(&b->__bi_cnt, 1);
  bio_put(b);
}

// Under the `get` design a GUP pin is a plain page reference (the pre-2019 kernel), so
// these tests can make one with get_page() and still see which way the bio releases
// each page: unpin_user_page() counts nr_foll_pin_released, put_page() does not.
class BioGetDesignTest : public testing::BlockTest {
 protected:
  void SetUp() override { boot(testing::small_config(PinDesign::get)); }
  int64_t released() { return m().vmstat().read(NR_FOLL_PIN_RELEASED); }
};

TEST_F(BioGetDesignTest, GupBitIsSetPerPageKeptAndRoutesTheRelease) {
  page* user = kpage(1);
  page* kern = kpage(2);
  const int ru = page_ref_count(user), rk = page_ref_count(kern);
  bio* b = bio_alloc(nullptr, 4, REQ_OP_READ);
  get_page(user);  // the "pin" under `get`
  ASSERT_EQ(bio_add_page(b, user, PAGE_SIZE, 0, true), PAGE_SIZE);
  get_page(kern);
  ASSERT_EQ(bio_add_page(b, kern, PAGE_SIZE, 0, false), PAGE_SIZE);
  get_page(user);
  ASSERT_EQ(bio_add_page(b, user, 512, 512, true), 512u);
  EXPECT_TRUE(bvec_is_gup(&b->bi_io_vec[0]));
  EXPECT_FALSE(bvec_is_gup(&b->bi_io_vec[1]));
  EXPECT_TRUE(bvec_is_gup(&b->bi_io_vec[2]));
  EXPECT_EQ(bvec_page(&b->bi_io_vec[0]), user);
  EXPECT_EQ(bvec_page(&b->bi_io_vec[2]), user);

  // Splitting keeps the bits: a clone sees the same bio_vecs.
  bio* s = bio_split(b, 8);
  ASSERT_FALSE(IS_ERR(s));
  bio_vec seg = bio_iter_iovec(s, s->bi_iter);
  EXPECT_TRUE(bvec_is_gup(&seg));
  seg = bio_iter_iovec(b, b->bi_iter);
  EXPECT_FALSE(bvec_is_gup(&seg));
  bio_put(s);

  const int64_t r0 = released();
  bio_release_pages(b, false);
  EXPECT_EQ(released() - r0, 2) << "both GUP bio_vecs went through unpin_user_page()";
  EXPECT_EQ(page_ref_count(user), ru);
  EXPECT_EQ(page_ref_count(kern), rk);
  bio_put(b);
  EXPECT_EQ(m().nr_warnings(), 0u);
}

TEST_F(BioGetDesignTest, MarkDirtyDirtiesOnlyGupPagesAndOnlyWhenAsked) {
  page* user = kpage(1);
  page* kern = kpage(2);
  for (bool mark : {false, true}) {
    ClearPageDirty(user);
    ClearPageDirty(kern);
    bio* b = bio_alloc(nullptr, 2, REQ_OP_READ);
    get_page(user);
    bio_add_page(b, user, PAGE_SIZE, 0, true);
    get_page(kern);
    bio_add_page(b, kern, PAGE_SIZE, 0, false);
    bio_release_pages(b, mark);
    bio_put(b);
    EXPECT_EQ(PageDirty(user), mark) << "mark_dirty=" << mark;
    EXPECT_FALSE(PageDirty(kern)) << "mark_dirty=" << mark;
  }
}

TEST_F(BioGetDesignTest, BioPagePinnedReleasesEveryPageAsAPin) {
  page* a = kpage(1);
  page* c = kpage(2);
  const int ra = page_ref_count(a), rc = page_ref_count(c);
  bio* b = page_bio(nullptr, REQ_OP_READ, 0, {a, c});  // added with is_gup false
  bio_set_flag(b, BIO_PAGE_PINNED);
  EXPECT_FALSE(bvec_is_gup(&b->bi_io_vec[0]));
  const int64_t r0 = released();
  bio_release_pages(b, true);
  EXPECT_EQ(released() - r0, 2) << "upstream's flag covers the whole bio";
  EXPECT_TRUE(PageDirty(a));
  EXPECT_TRUE(PageDirty(c));
  EXPECT_EQ(page_ref_count(a), ra);
  EXPECT_EQ(page_ref_count(c), rc);
  bio_put(b);
}

TEST_F(BioTest, AddPageOfAnotherMachinesPageWarns) {
  ramdisk* rd = ram("ram0");
  Machine other(testing::small_config());
  page* foreign = alloc_pages_on(&other, gfp_t::GFP_KERNEL, 0);
  ASSERT_NE(foreign, nullptr);
  bio* b = bio_alloc(rd, 1, REQ_OP_READ);
  EXPECT_EQ(bio_add_page(b, foreign, PAGE_SIZE, 0, false), 0u);
  EXPECT_EQ(m().nr_warnings(), 1u);
  EXPECT_EQ(b->bi_vcnt, 0);
  bio_put(b);
  __free_page(foreign);
}

TEST_F(BioTest, AddPageClaimingGupForAnUnpinnedPageWarns) {
  page* p = kpage();
  bio* b = bio_alloc(nullptr, 1, REQ_OP_READ);
  get_page(p);
  EXPECT_EQ(bio_add_page(b, p, PAGE_SIZE, 0, true), PAGE_SIZE) << "added, but noticed";
  EXPECT_EQ(m().nr_warnings(), 1u);
  // Release it as the reference it really is, not through unpin.
  bio_set_flag(b, BIO_PAGES_RELEASED);
  put_page(p);
  bio_put(b);
}

// ---- real FOLL_PIN pins, from pin_user_pages_fast() on a user mapping ----------------

class BioPinTest : public testing::BlockTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  void SetUp() override {
    boot(testing::small_config(GetParam()));
    mm_ = mm_alloc(&m());
    ASSERT_NE(mm_, nullptr);
    scope_->task()->mm = mm_;
  }
  void TearDown() override {
    if (mm_) {
      scope_->task()->mm = nullptr;
      mmput(mm_);
    }
    EXPECT_EQ(acquired(), released()) << "nr_foll_pin_acquired != nr_foll_pin_released";
    BlockTest::TearDown();
  }
  /** user_pages() - @n pages of anonymous memory with a pattern, pinned for a device write into them. */
  unsigned long user_pages(unsigned n, std::vector<page*>* pinned) {
    long addr = vm_mmap(mm_, 0, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    EXPECT_GT(addr, 0);
    std::vector<uint64_t> buf(PAGE_SIZE / 8, 0x5555);
    for (unsigned i = 0; i < n; i++) EXPECT_EQ(uaccess_write(mm_, addr + i * PAGE_SIZE, buf.data(), PAGE_SIZE), 0);
    pinned->assign(n, nullptr);
    EXPECT_EQ(pin_user_pages_fast(static_cast<unsigned long>(addr), static_cast<int>(n), FOLL_WRITE, pinned->data()),
              static_cast<int>(n));
    return static_cast<unsigned long>(addr);
  }
  bool tracking() const { return GetParam() != PinDesign::get; }
  // Submit @b, whose owner releases its pages at completion and dirties them (the
  // device wrote into user memory), and wait for bi_end_io; the bio's status.
  static blk_status_t submit_released_dirty(bio* b) {
    testing::end_record rec;
    rec.release = true;
    rec.mark_dirty = true;
    b->bi_end_io = testing::record_end_io;
    b->bi_private = &rec;
    submit_bio(b);
    rec.wait();
    return rec.status;
  }
  int64_t acquired() { return m().vmstat().read(NR_FOLL_PIN_ACQUIRED); }
  int64_t released() { return m().vmstat().read(NR_FOLL_PIN_RELEASED); }
  mm_struct* mm_ = nullptr;
};

TEST_P(BioPinTest, MixedBioReleasesEachPageTheWayItWasTaken) {
  ramdisk* rd = ram("ram0");
  // The disk holds a pattern for the device to DMA into the pages.
  std::vector<char> disk(6 * PAGE_SIZE);
  for (unsigned i = 0; i < 6; i++) std::memcpy(&disk[i * PAGE_SIZE], page_address(kpage(700 + i)), PAGE_SIZE);
  ASSERT_EQ(rd->write_sectors(0, 6 * PAGE_SIZE / SECTOR_SIZE, disk.data()), 0);

  std::vector<page*> user;
  const int64_t acq0 = acquired(), rel0 = released();
  const unsigned long addr = user_pages(4, &user);
  EXPECT_EQ(acquired() - acq0, 4);
  page* k1 = kpage(1);
  page* k2 = kpage(2);
  const int rk1 = page_ref_count(k1), rk2 = page_ref_count(k2);

  // user, kernel, user, user, kernel, user
  bio* b = bio_alloc(rd, 6, REQ_OP_READ);
  page* order[6] = {user[0], k1, user[1], user[2], k2, user[3]};
  const bool gup[6] = {true, false, true, true, false, true};
  for (unsigned i = 0; i < 6; i++) {
    if (!gup[i]) get_page(order[i]);
    ASSERT_EQ(bio_add_page(b, order[i], PAGE_SIZE, 0, gup[i]), PAGE_SIZE);
    EXPECT_EQ(bvec_is_gup(&b->bi_io_vec[i]), gup[i]);
  }
  for (page* p : user) EXPECT_EQ(page_maybe_dma_pinned(p), tracking());
  for (page* p : user) ClearPageDirty(p);

  ASSERT_EQ(submit_released_dirty(b), BLK_STS_OK);
  // Clean pages to dirty need their locks: bi_end_io (interrupt context) left the
  // release to the device's worker, as the kernel's bio_check_pages_dirty() does.
  EXPECT_EQ(rd->stats().deferred, 1u);
  rd->flush_deferred();

  for (page* p : user) {
    EXPECT_FALSE(page_maybe_dma_pinned(p)) << "unpinned";
    EXPECT_TRUE(PageDirty(p)) << "mark_dirty on a GUP page";
  }
  EXPECT_EQ(released() - rel0, 4);
  EXPECT_EQ(acquired() - acq0, released() - rel0);
  EXPECT_EQ(page_ref_count(k1), rk1) << "kernel pages back to their reference count";
  EXPECT_EQ(page_ref_count(k2), rk2);
  EXPECT_FALSE(PageDirty(k1));
  // What the device wrote is what the process now reads.
  std::vector<char> got(PAGE_SIZE);
  const unsigned disk_page[4] = {0, 2, 3, 5};
  for (unsigned i = 0; i < 4; i++) {
    ASSERT_EQ(uaccess_read(mm_, addr + i * PAGE_SIZE, got.data(), PAGE_SIZE), 0);
    EXPECT_EQ(std::memcmp(got.data(), &disk[disk_page[i] * PAGE_SIZE], PAGE_SIZE), 0) << "user page " << i;
  }
  EXPECT_EQ(m().nr_warnings(), 0u);
}

TEST_P(BioPinTest, DirtyPagesCleanedDuringTheReleaseAreNotLockedInInterruptContext) {
  // Every page is dirty when bi_end_io (interrupt context) checks, so the release is
  // inline; writeback cleans them right after the check. As after the kernel's
  // bio_check_pages_dirty(), they are released without dirtying again: re-dirtying a
  // page that is clean now would take its lock, which sleeps, in interrupt context.
  ramdisk* rd = ram("ram0");
  std::vector<page*> user;
  user_pages(3, &user);
  for (page* p : user) SetPageDirty(p);
  m().sync_points().enable();
  unsigned checked = 0;
  m().sync_points().set_callback("bio:release:checked", [&] {
    checked++;
    for (page* p : user) ClearPageDirty(p);  // what a writeback pass would do
  });
  const int64_t rel0 = released();
  bio* b = bio_alloc(rd, 3, REQ_OP_READ);
  for (page* p : user) ASSERT_EQ(bio_add_page(b, p, PAGE_SIZE, 0, true), PAGE_SIZE);
  const blk_status_t status = submit_released_dirty(b);
  m().sync_points().disable();
  ASSERT_EQ(status, BLK_STS_OK);
  EXPECT_EQ(checked, 1u);
  EXPECT_EQ(rd->stats().deferred, 0u) << "all dirty when checked: released inline";
  EXPECT_EQ(released() - rel0, 3);
  for (page* p : user) {
    EXPECT_FALSE(page_maybe_dma_pinned(p));
    EXPECT_FALSE(PageDirty(p)) << "cleaned after the check, not dirtied again";
  }
  EXPECT_EQ(m().nr_warnings(), 0u) << "no page lock taken in interrupt context";
}

TEST_P(BioPinTest, AnErrorCompletionReleasesPinsTheSameWay) {
  ramdisk* rd = ram("ram0");
  rd->set_fault_inject({.fail_nth = 1});
  std::vector<page*> user;
  const unsigned long addr = user_pages(3, &user);
  page* k = kpage(1);
  const int rk = page_ref_count(k);
  bio* b = bio_alloc(rd, 4, REQ_OP_READ);
  for (page* p : user) ASSERT_EQ(bio_add_page(b, p, PAGE_SIZE, 0, true), PAGE_SIZE);
  get_page(k);
  ASSERT_EQ(bio_add_page(b, k, PAGE_SIZE, 0, false), PAGE_SIZE);
  const int64_t rel0 = released();
  const blk_status_t status = submit_released_dirty(b);
  rd->flush_deferred();  // the clean pages to dirty went to the worker (see above)
  EXPECT_EQ(blk_status_to_errno(status), -EIO);
  EXPECT_EQ(released() - rel0, 3);
  for (page* p : user) EXPECT_FALSE(page_maybe_dma_pinned(p));
  EXPECT_EQ(page_ref_count(k), rk);
  uint64_t w = 0;
  ASSERT_EQ(uaccess_read(mm_, addr, &w, sizeof(w)), 0);
  EXPECT_EQ(w, 0x5555u) << "the failed read never reached user memory";
}

TEST_P(BioPinTest, BioPagePinnedMarksTheWholeBio) {
  ramdisk* rd = ram("ram0");
  std::vector<page*> user;
  user_pages(3, &user);
  bio* b = bio_alloc(rd, 3, REQ_OP_WRITE);
  bio_set_flag(b, BIO_PAGE_PINNED);
  for (page* p : user) ASSERT_EQ(bio_add_page(b, p, PAGE_SIZE, 0, false), PAGE_SIZE);
  for (page* p : user) ClearPageDirty(p);
  const int64_t rel0 = released();
  ASSERT_EQ(submit_bio_wait(b), 0);
  bio_release_pages(b, false);  // a write: the device only read user memory
  bio_put(b);
  EXPECT_EQ(released() - rel0, 3);
  for (page* p : user) {
    EXPECT_FALSE(page_maybe_dma_pinned(p));
    EXPECT_FALSE(PageDirty(p)) << "mark_dirty was false";
  }
  std::vector<char> disk(PAGE_SIZE);
  ASSERT_EQ(rd->read_sectors(0, PAGE_SIZE / SECTOR_SIZE, disk.data()), 0);
  EXPECT_EQ(reinterpret_cast<uint64_t*>(disk.data())[0], 0x5555u);
}

INSTANTIATE_TEST_SUITE_P(Designs, BioPinTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(BlkStatus, ErrnoMapping) {
  EXPECT_EQ(blk_status_to_errno(BLK_STS_OK), 0);
  EXPECT_EQ(blk_status_to_errno(BLK_STS_IOERR), -EIO);
  EXPECT_EQ(blk_status_to_errno(BLK_STS_NOTSUPP), -EOPNOTSUPP);
  EXPECT_EQ(blk_status_to_errno(BLK_STS_AGAIN), -EAGAIN);
  EXPECT_EQ(blk_status_to_errno(BLK_STS_INVAL), -EINVAL);
  EXPECT_EQ(blk_status_to_errno(BLK_STS_OFFLINE), -ENODEV);
  EXPECT_EQ(blk_status_to_errno(static_cast<blk_status_t>(200)), -EIO);
  EXPECT_EQ(errno_to_blk_status(-ENOSPC), BLK_STS_NOSPC);
  EXPECT_EQ(errno_to_blk_status(-EIO), BLK_STS_IOERR);
  EXPECT_EQ(errno_to_blk_status(-E2BIG), BLK_STS_IOERR);
  EXPECT_STREQ(blk_status_name(BLK_STS_IOERR), "BLK_STS_IOERR");
  EXPECT_STREQ(op_name(REQ_OP_WRITE | REQ_FUA), "WRITE");
}

}  // namespace
}  // namespace guplab
