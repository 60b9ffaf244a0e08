// blk_core_test.cc - submitting bios: completion context, checks, splitting to the
// limits, injected errors (which release pages the same way), REQ_NOWAIT, plugging,
// and submit_bio_wait() misuse.
#include <gtest/gtest.h>

#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "block/blkdev.h"
#include "tests/block/block_test_util.h"

namespace guplab {
namespace {

using BlkCoreTest = testing::BlockTest;
using testing::end_record;
using testing::page_has;
using testing::record_end_io;

TEST_F(BlkCoreTest, EndIoRunsInTheDevicesCompletionTask) {
  ramdisk* rd = ram("ram0");
  end_record rec;
  bio* b = page_bio(rd, REQ_OP_WRITE, 0, {kpage(1)});
  b->bi_end_io = record_end_io;
  b->bi_private = &rec;
  rec.release = true;
  submit_bio(b);
  rec.wait();
  EXPECT_EQ(rec.status, BLK_STS_OK);
  EXPECT_EQ(rec.comm, "irq/ram0");
  ASSERT_NE(rd->completion_task(), nullptr);
  EXPECT_EQ(rec.pid, rd->completion_task()->pid);
  EXPECT_NE(rec.pid, current()->pid) << "never in the submitter";
  EXPECT_FALSE(rd->in_completion_context());
}

TEST_F(BlkCoreTest, PastTheEndFailsWithEIO) {
  ramdisk_config cfg;
  cfg.size_bytes = 1 << 20;
  ramdisk* rd = ram("ram0", cfg);
  const sector_t cap = rd->nr_sectors();
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, cap - 8, {kpage()}), 0);  // the last page fits
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, cap - 7, {kpage()}), -EIO);
  EXPECT_EQ(rw_sync(rd, REQ_OP_WRITE, cap, {kpage()}), -EIO);
  EXPECT_EQ(rw_sync(rd, REQ_OP_WRITE, ~sector_t{0} - 3, {kpage()}), -EIO) << "no wrap-around";
  EXPECT_EQ(rd->stats().errors, 3u);
}

TEST_F(BlkCoreTest, MisalignedIoFailsWithEINVAL) {
  ramdisk_config cfg;
  cfg.limits.logical_block_size = 4096;
  cfg.limits.dma_alignment = 4095;
  ramdisk* rd = ram("ram4k", cfg);
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 8, {kpage()}), 0);
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 1, {kpage()}), -EINVAL) << "sector not on a 4 KiB block";
  page* p = kpage();
  bio* b = bio_alloc(rd, 1, REQ_OP_READ);
  get_page(p);
  bio_add_page(b, p, 2048, 0, false);  // half a logical block
  EXPECT_EQ(submit_bio_wait(b), -EINVAL);
  bio_release_pages(b, false);
  bio_put(b);

  ramdisk* r512 = ram("ram0");
  b = bio_alloc(r512, 1, REQ_OP_WRITE);
  get_page(p);
  bio_add_page(b, p, 512, 100, false);  // a buffer off the DMA alignment
  EXPECT_EQ(submit_bio_wait(b), -EINVAL);
  bio_release_pages(b, false);
  bio_put(b);
}

TEST_F(BlkCoreTest, OperationsOtherThanReadWriteFlush) {
  ramdisk* rd = ram("ram0");
  bio* b = bio_alloc(rd, 0, REQ_OP_FLUSH | REQ_PREFLUSH);
  EXPECT_EQ(submit_bio_wait(b), 0);
  bio_put(b);
  b = bio_alloc(rd, 0, REQ_OP_DISCARD);
  b->bi_iter.bi_size = 4096;
  EXPECT_EQ(submit_bio_wait(b), -EOPNOTSUPP);
  b->bi_iter.bi_size = 0;
  bio_put(b);
  // A flush carries no data.
  page* p = kpage();
  b = page_bio(rd, REQ_OP_FLUSH, 0, {p});
  EXPECT_EQ(submit_bio_wait(b), -EINVAL);
  bio_release_pages(b, false);
  bio_put(b);
  // An empty write with a preflush is a flush.
  b = bio_alloc(rd, 0, REQ_OP_WRITE | REQ_PREFLUSH);
  EXPECT_EQ(submit_bio_wait(b), 0);
  bio_put(b);
}

TEST_F(BlkCoreTest, BioWithoutADeviceWarnsAndFails) {
  page* p = kpage();
  const int r0 = page_ref_count(p);
  EXPECT_EQ(rw_sync(nullptr, REQ_OP_READ, 0, {p}), -EIO);
  EXPECT_EQ(m().nr_warnings(), 1u);
  EXPECT_EQ(page_ref_count(p), r0);
}

TEST_F(BlkCoreTest, LargeBiosAreSplitToTheLimits) {
  ramdisk_config cfg;
  cfg.limits.max_segments = 3;
  cfg.limits.max_sectors = 16;  // 8 KiB
  ramdisk* rd = ram("ram0", cfg);
  std::vector<page*> out, in;
  for (unsigned i = 0; i < 16; i++) out.push_back(kpage(40 + i));
  for (unsigned i = 0; i < 16; i++) in.push_back(kpage(0));
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 8, out), 0);
  // 16 pages, 2 per request (max_sectors): 8 requests, 7 splits.
  EXPECT_EQ(rd->stats().writes, 8u);
  EXPECT_EQ(rd->stats().splits, 7u);
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 8, in), 0);
  for (unsigned i = 0; i < 16; i++) EXPECT_TRUE(page_has(in[i], 40 + i)) << "page " << i;
  // Each split is its own request, in order: generation per request.
  for (unsigned i = 0; i < 8; i++) EXPECT_EQ(rd->sector_generation(8 + i * 16), i + 1) << i;
}

TEST_F(BlkCoreTest, SplitsFallOnSegmentLimitsToo) {
  ramdisk_config cfg;
  cfg.limits.max_segments = 2;
  ramdisk* rd = ram("ram0", cfg);
  page* p = kpage(3);
  // Five 1 KiB segments: requests of 2, 2 and 1 segments.
  bio* b = bio_alloc(rd, 5, REQ_OP_WRITE);
  for (unsigned i = 0; i < 5; i++) {
    get_page(p);
    ASSERT_EQ(bio_add_page(b, p, 1024, 0, false), 1024u);
  }
  ASSERT_EQ(submit_bio_wait(b), 0);
  bio_release_pages(b, false);
  bio_put(b);
  EXPECT_EQ(rd->stats().writes, 3u);
  EXPECT_EQ(rd->stats().splits, 2u);
  std::vector<char> buf(5 * 1024);
  ASSERT_EQ(rd->read_sectors(0, 10, buf.data()), 0);
  for (unsigned i = 0; i < 5; i++) EXPECT_EQ(std::memcmp(&buf[i * 1024], page_address(p), 1024), 0) << i;
}

TEST_F(BlkCoreTest, InjectedNthErrorIsEIOAndReleasesTheSameWay) {
  ramdisk* rd = ram("ram0");
  page* a = kpage(1);
  page* b2 = kpage(2);
  const int ra = page_ref_count(a), rb = page_ref_count(b2);
  rd->set_fault_inject({.fail_nth = 2});
  end_record recs[3];
  for (unsigned i = 0; i < 3; i++) {
    bio* b = page_bio(rd, REQ_OP_WRITE, i * 16, {a, b2});
    b->bi_end_io = record_end_io;
    b->bi_private = &recs[i];
    recs[i].release = true;
    submit_bio(b);
    recs[i].wait();
  }
  EXPECT_EQ(recs[0].status, BLK_STS_OK);
  EXPECT_EQ(recs[1].status, BLK_STS_IOERR);
  EXPECT_EQ(blk_status_to_errno(recs[1].status), -EIO);
  EXPECT_EQ(recs[2].status, BLK_STS_OK) << "the Nth only, once";
  EXPECT_EQ(page_ref_count(a), ra) << "an error completion releases exactly as a good one";
  EXPECT_EQ(page_ref_count(b2), rb);
  EXPECT_EQ(rd->stats().injected, 1u);
  EXPECT_EQ(rd->sector_generation(16), 0u) << "the failed write never reached the medium";
  EXPECT_EQ(rd->sector_generation(32), 2u);
  EXPECT_EQ(recs[1].comm, "irq/ram0") << "errors complete in the completion task too";
}

TEST_F(BlkCoreTest, InjectedSectorRangeFailsWhatTouchesIt) {
  ramdisk* rd = ram("ram0");
  rd->set_fault_inject({.fail_sector = 100, .fail_nr_sectors = 4, .reads = true, .writes = false});
  EXPECT_EQ(rw_sync(rd, REQ_OP_WRITE, 96, {kpage()}), 0) << "writes not selected";
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 96, {kpage()}), -EIO);   // 96..103 overlaps
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 104, {kpage()}), 0);     // just after
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 88, {kpage()}), 0);      // just before
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 103, {kpage()}), -EIO);  // every time
  rd->clear_fault_inject();
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ, 96, {kpage()}), 0);
}

TEST_F(BlkCoreTest, AnErrorInOneSplitFailsTheWholeBio) {
  ramdisk_config cfg;
  cfg.limits.max_sectors = 8;  // one page per request
  ramdisk* rd = ram("ram0", cfg);
  rd->set_fault_inject({.fail_sector = 16, .fail_nr_sectors = 1});
  std::vector<page*> pages;
  for (unsigned i = 0; i < 4; i++) pages.push_back(kpage(i));
  EXPECT_EQ(rw_sync(rd, REQ_OP_WRITE, 0, pages), -EIO);
  EXPECT_EQ(rd->stats().writes, 4u);
  EXPECT_EQ(rd->stats().errors, 1u);
  EXPECT_NE(rd->sector_generation(8), 0u) << "the other parts were written";
  EXPECT_EQ(rd->sector_generation(16), 0u);
}

TEST_F(BlkCoreTest, NowaitOnAFullQueueFailsWithEAGAIN) {
  ramdisk_config cfg;
  cfg.queue_depth = 1;
  cfg.latency_ns = 100 * NSEC_PER_MSEC;
  ramdisk* rd = ram("ram0", cfg);
  end_record busy;
  bio* b = page_bio(rd, REQ_OP_READ, 0, {kpage()});
  b->bi_end_io = record_end_io;
  b->bi_private = &busy;
  busy.release = true;
  submit_bio(b);  // takes the only slot for 100 ms
  page* p = kpage();
  const int r0 = page_ref_count(p);
  EXPECT_EQ(rw_sync(rd, REQ_OP_READ | REQ_NOWAIT, 8, {p}), -EAGAIN);
  EXPECT_EQ(page_ref_count(p), r0);
  busy.wait();
  EXPECT_EQ(busy.status, BLK_STS_OK);
}

TEST_F(BlkCoreTest, SubmitBioWaitFromTheCompletionTaskIsRefused) {
  ramdisk* rd = ram("ram0");
  struct ctx {
    end_record rec;
    int inner = 1;
    bio* second = nullptr;
  } c;
  c.second = bio_alloc(rd, 0, REQ_OP_FLUSH);
  bio* b = bio_alloc(rd, 0, REQ_OP_FLUSH);
  b->bi_private = &c;
  b->bi_end_io = [](bio* b) {
    auto* c = static_cast<ctx*>(b->bi_private);
    c->inner = submit_bio_wait(c->second);  // would wait on ourselves
    bio_put(b);
    c->rec.signal();
  };
  submit_bio(b);
  c.rec.wait();
  EXPECT_EQ(c.inner, -EDEADLK);
  EXPECT_EQ(m().nr_warnings(), 1u);
  bio_put(c.second);
}

TEST_F(BlkCoreTest, EndIoMaySubmitMoreIo) {
  ramdisk_config cfg;
  cfg.queue_depth = 1;
  ramdisk* rd = ram("ram0", cfg);
  struct ctx {
    end_record first, second;
    bio* next = nullptr;
  } c;
  c.next = bio_alloc(rd, 0, REQ_OP_FLUSH);
  c.next->bi_end_io = record_end_io;
  c.next->bi_private = &c.second;
  bio* b = bio_alloc(rd, 0, REQ_OP_FLUSH);
  b->bi_private = &c;
  b->bi_end_io = [](bio* b) {
    auto* c = static_cast<ctx*>(b->bi_private);
    submit_bio(c->next);  // the slot is already free again
    bio_put(b);
    c->first.signal();
  };
  submit_bio(b);
  c.first.wait();
  c.second.wait();
  EXPECT_EQ(c.second.status, BLK_STS_OK);
  EXPECT_EQ(m().nr_warnings(), 0u);
}

TEST_F(BlkCoreTest, SubmittingABioTwiceWarns) {
  ramdisk_config cfg;
  cfg.latency_ns = 50 * NSEC_PER_MSEC;
  ramdisk* rd = ram("ram0", cfg);
  end_record rec;
  bio* b = page_bio(rd, REQ_OP_READ, 0, {kpage()});
  b->bi_end_io = record_end_io;
  b->bi_private = &rec;
  rec.release = true;
  submit_bio(b);
  submit_bio(b);  // still in flight
  EXPECT_EQ(m().nr_warnings(), 1u);
  rec.wait();
  EXPECT_EQ(rec.calls.load(), 1);
  EXPECT_EQ(rd->stats().reads, 1u);
}

TEST_F(BlkCoreTest, PluggedBiosAllCompleteEvenPastTheQueueDepth) {
  ramdisk_config cfg;
  cfg.queue_depth = 4;
  ramdisk* rd = ram("ram0", cfg);
  constexpr unsigned kN = 40;  // more than a plug's batch and ten times the depth
  std::vector<end_record> recs(kN);
  blk_plug plug;
  blk_start_plug(&plug);
  EXPECT_EQ(current()->plug, &plug);
  blk_plug inner;
  blk_start_plug(&inner);  // nested: ignored
  EXPECT_EQ(current()->plug, &plug);
  for (unsigned i = 0; i < kN; i++) {
    bio* b = page_bio(rd, REQ_OP_WRITE, i * 8, {kpage(i)});
    b->bi_end_io = record_end_io;
    b->bi_private = &recs[i];
    recs[i].release = true;
    submit_bio(b);
  }
  blk_finish_plug(&inner);
  EXPECT_EQ(current()->plug, &plug);
  blk_finish_plug(&plug);
  EXPECT_EQ(current()->plug, nullptr);
  for (auto& r : recs) {
    r.wait();
    EXPECT_EQ(r.status, BLK_STS_OK);
  }
  EXPECT_LE(rd->stats().max_inflight, 4u);
}

}  // namespace
}  // namespace guplab
