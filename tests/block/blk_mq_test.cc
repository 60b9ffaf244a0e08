// blk_mq_test.cc - the shared queue: depth honoured, submitters sleep when it is full,
// completions only in the completion task, removal waits for I/O, counters.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "block/blkdev.h"
#include "tests/block/block_test_util.h"

namespace guplab {
namespace {

using BlkMqTest = testing::BlockTest;
using testing::end_record;
using testing::record_end_io;

TEST_F(BlkMqTest, QueueDepthIsHonouredUnderManySubmitters) {
  // On the sim backend: the latencies pass in virtual time, so the times asserted are exact.
  const std::string run = run_on_sim(testing::small_config(), 1, [&] {
    constexpr unsigned kDepth = 4, kTasks = 4, kPerTask = 8;
    constexpr uint64_t kLatency = 5 * NSEC_PER_MSEC;
    ramdisk_config cfg;
    cfg.queue_depth = kDepth;
    cfg.latency_ns = kLatency;
    ramdisk* rd = ram("ram0", cfg);
    std::vector<page*> pages;
    for (unsigned i = 0; i < kTasks; i++) pages.push_back(kpage(i));
    std::vector<end_record> recs(kTasks * kPerTask);
    std::atomic<unsigned> wrong_context{0};
    const uint64_t t0 = ktime_get_ns();
    std::vector<task_struct*> tasks;
    for (unsigned t = 0; t < kTasks; t++) {
      tasks.push_back(m().spawn("submitter", [&, t] {
        for (unsigned i = 0; i < kPerTask; i++) {
          end_record* r = &recs[t * kPerTask + i];
          bio* b = page_bio(rd, REQ_OP_WRITE, (t * kPerTask + i) * 8, {pages[t]});
          b->bi_end_io = record_end_io;
          b->bi_private = r;
          r->release = true;
          submit_bio(b);
        }
      }));
    }
    for (task_struct* t : tasks) task_join(t);
    for (auto& r : recs) {
      r.wait();
      EXPECT_EQ(r.status, BLK_STS_OK);
      if (r.pid != rd->completion_task()->pid) wrong_context++;
    }
    const uint64_t elapsed = ktime_get_ns() - t0;
    const blk_dev_stats st = rd->stats();
    EXPECT_EQ(st.max_inflight, kDepth) << "saturated, never more";
    // Independent of the counter: 32 requests of 5 ms, at most 4 at a time, take 40 ms.
    EXPECT_GE(elapsed, (kTasks * kPerTask / kDepth) * kLatency);
    EXPECT_EQ(wrong_context.load(), 0u);
    EXPECT_EQ(st.writes, kTasks * kPerTask);
    EXPECT_EQ(st.completed, kTasks * kPerTask);
    EXPECT_EQ(rd->nr_inflight(), 0u);
  });
  EXPECT_EQ(run, "");
}

TEST_F(BlkMqTest, SubmitterSleepsWhileTheQueueIsFull) {
  // On the sim backend: the latencies pass in virtual time, so the times asserted are exact.
  const std::string run = run_on_sim(testing::small_config(), 1, [&] {
    constexpr uint64_t kLatency = 30 * NSEC_PER_MSEC;
    ramdisk_config cfg;
    cfg.queue_depth = 2;
    cfg.latency_ns = kLatency;
    ramdisk* rd = ram("ram0", cfg);
    end_record recs[3];
    uint64_t took[3];
    for (unsigned i = 0; i < 3; i++) {
      bio* b = page_bio(rd, REQ_OP_READ, i * 8, {kpage()});
      b->bi_end_io = record_end_io;
      b->bi_private = &recs[i];
      recs[i].release = true;
      const uint64_t t0 = ktime_get_ns();
      submit_bio(b);
      took[i] = ktime_get_ns() - t0;
      if (i == 2) EXPECT_GE(rd->stats().completed, 1u) << "the third got a slot only after a completion";
    }
    EXPECT_LT(took[0], kLatency / 2);
    EXPECT_LT(took[1], kLatency / 2);
    EXPECT_GE(took[2], kLatency * 3 / 4);
    for (auto& r : recs) r.wait();
    EXPECT_EQ(rd->stats().max_inflight, 2u);
  });
  EXPECT_EQ(run, "");
}

TEST_F(BlkMqTest, RemovingADeviceWaitsForItsIo) {
  ramdisk_config cfg;
  cfg.latency_ns = 30 * NSEC_PER_MSEC;
  ramdisk* rd = ram("ram0", cfg);
  end_record rec;
  bio* b = page_bio(rd, REQ_OP_WRITE, 0, {kpage(5)});
  b->bi_end_io = record_end_io;
  b->bi_private = &rec;
  rec.release = true;
  submit_bio(b);
  EXPECT_EQ(del_gendisk(&m(), "ram0"), 0);
  EXPECT_EQ(rec.calls.load(), 1) << "stopped only after the request ended";
  EXPECT_EQ(rec.status, BLK_STS_OK);
  EXPECT_EQ(m().block().lookup("ram0"), nullptr);
}

TEST_F(BlkMqTest, MachineTeardownStopsDevicesWithIoInFlight) {
  auto other = std::make_unique<Machine>(testing::small_config());
  end_record rec;
  {
    TaskScope scope(other->task_init("t"));
    block_device* d = blkdev_get_by_path(other.get(), "ram0,latency=20ms");
    ASSERT_FALSE(IS_ERR(d));
    page* p = alloc_page(gfp_t::GFP_KERNEL);
    bio* b = bio_alloc(d, 1, REQ_OP_WRITE);
    bio_add_page(b, p, PAGE_SIZE, 0, false);  // the bio takes our only reference
    b->bi_end_io = record_end_io;
    b->bi_private = &rec;
    rec.release = true;
    submit_bio(b);
    blkdev_put(d);
  }
  other.reset();  // must wait for the write before the RAM goes
  EXPECT_EQ(rec.calls.load(), 1);
}

TEST_F(BlkMqTest, CountersAddUp) {
  ramdisk* rd = ram("ram0");
  ASSERT_EQ(rw_sync(rd, REQ_OP_WRITE, 0, {kpage(), kpage()}), 0);
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 0, {kpage()}), 0);
  bio* f = bio_alloc(rd, 0, REQ_OP_FLUSH);
  ASSERT_EQ(submit_bio_wait(f), 0);
  bio_put(f);
  rd->set_fault_inject({.fail_nth = 1});
  ASSERT_EQ(rw_sync(rd, REQ_OP_READ, 0, {kpage()}), -EIO);
  const blk_dev_stats st = rd->stats();
  EXPECT_EQ(st.writes, 1u);
  EXPECT_EQ(st.reads, 2u);
  EXPECT_EQ(st.flushes, 1u);
  EXPECT_EQ(st.write_bytes, 2 * PAGE_SIZE);
  EXPECT_EQ(st.read_bytes, 2 * PAGE_SIZE);
  EXPECT_EQ(st.completed, 4u);
  EXPECT_EQ(st.errors, 1u);
  EXPECT_EQ(st.injected, 1u);
  EXPECT_EQ(st.max_inflight, 1u);
}

}  // namespace
}  // namespace guplab
