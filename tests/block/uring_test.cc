// uring_test.cc - the io_uring O_DIRECT device on a real host file: round trips with
// many requests in flight, batching under a plug, what lands in the host file, errors,
// flush/FUA, open errors, polled completion (REQ_POLLED, bdev_poll(), O_DIRECT's use of it). Skips (with the reason) where the host refuses O_DIRECT or
// io_uring.
#include "block/uring.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/errno.h"
#include "fs/direct-io.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"
#include "tests/block/block_test_util.h"

namespace guplab {
namespace {

using testing::end_record;
using testing::fill_page;
using testing::page_has;
using testing::record_end_io;

constexpr uint64_t kFileBytes = 16ull << 20;

class UringTest : public testing::BlockTest {
 protected:
  void TearDown() override {
    if (!path_.empty()) {
      // Devices first (they hold the file open), then the file.
      if (dev_) EXPECT_EQ(del_gendisk(&m(), dev_->name()), 0);
      ::unlink(path_.c_str());
    }
    BlockTest::TearDown();
  }
  /** A fresh file in /var/tmp or /tmp (a disk filesystem, for O_DIRECT). */
  std::string temp_path() {
    for (const char* dir : {"/var/tmp", "/tmp"}) {
      std::string tmpl = std::string(dir) + "/guplab-uring-XXXXXX";
      int fd = mkstemp(tmpl.data());
      if (fd < 0) continue;
      ::close(fd);
      return tmpl;
    }
    return {};
  }
  /** open_device() - a registered uring device on a new file; skips if the host cannot. */
  uring_disk* open_device(uring_config cfg = {}) {
    path_ = temp_path();
    if (path_.empty()) return nullptr;
    cfg.path = path_;
    cfg.create_size = kFileBytes;
    std::unique_ptr<uring_disk> d;
    std::string err;
    const int ret = uring_disk::create(&m(), "uring:" + path_, cfg, &d, &err);
    if (ret == -EINVAL || ret == -ENOSYS || ret == -EPERM) {
      skip_reason_ = err;
      return nullptr;
    }
    EXPECT_EQ(ret, 0) << err;
    if (ret) return nullptr;
    dev_ = d.get();
    EXPECT_EQ(add_disk(&m(), std::move(d)), 0);
    return dev_;
  }
  std::string path_;
  std::string skip_reason_ = "no writable /var/tmp or /tmp";
  uring_disk* dev_ = nullptr;
};

#define OPEN_OR_SKIP(var, ...)                            \
  uring_disk* var = open_device(__VA_ARGS__);             \
  if (!var) GTEST_SKIP() << "host refuses: " << skip_reason_

TEST_F(UringTest, DeviceReflectsTheHostFile) {
  OPEN_OR_SKIP(d);
  EXPECT_EQ(d->nr_sectors(), kFileBytes / SECTOR_SIZE);
  EXPECT_GE(d->limits().logical_block_size, 512u);
  EXPECT_EQ(d->queue_depth(), 64u);
  EXPECT_NE(d->describe().find("uring O_DIRECT 16 MiB"), std::string::npos) << d->describe();
  EXPECT_EQ(d->completion_task()->comm, "irq/uring:" + path_);
}

TEST_F(UringTest, WriteReadRoundTripWithManyInFlight) {
  OPEN_OR_SKIP(d);
  constexpr unsigned kN = 256;  // four times the queue depth
  std::vector<page*> out, in;
  for (unsigned i = 0; i < kN; i++) out.push_back(kpage(1000 + i));
  for (unsigned i = 0; i < kN; i++) in.push_back(kpage(0));
  for (int pass = 0; pass < 2; pass++) {
    const bool write = pass == 0;
    std::vector<end_record> recs(kN);
    blk_plug plug;
    blk_start_plug(&plug);
    for (unsigned i = 0; i < kN; i++) {
      // Scatter the pages over the file, not in order.
      const sector_t sector = ((i * 37) % kN) * (PAGE_SIZE / SECTOR_SIZE);
      bio* b = page_bio(d, write ? REQ_OP_WRITE : REQ_OP_READ, sector, {write ? out[i] : in[i]});
      b->bi_end_io = record_end_io;
      b->bi_private = &recs[i];
      recs[i].release = true;
      submit_bio(b);
    }
    blk_finish_plug(&plug);
    for (auto& r : recs) {
      r.wait();
      ASSERT_EQ(r.status, BLK_STS_OK);
      EXPECT_EQ(r.pid, d->completion_task()->pid);
    }
  }
  for (unsigned i = 0; i < kN; i++) EXPECT_TRUE(page_has(in[i], 1000 + i)) << "page " << i;
  const blk_dev_stats st = d->stats();
  EXPECT_EQ(st.writes, kN);
  EXPECT_EQ(st.reads, kN);
  EXPECT_EQ(st.max_inflight, 64u) << "the queue filled up";
  // Batched: a plug submits up to 32 SQEs at once, and a full queue flushes early;
  // one io_uring_submit() per request would be 512.
  EXPECT_LE(d->nr_ring_submits(), 2 * kN / 8) << "SQEs were not batched";
}

TEST_F(UringTest, WithoutAPlugEachRequestIsSubmittedAtOnce) {
  OPEN_OR_SKIP(d);
  for (unsigned i = 0; i < 4; i++) ASSERT_EQ(rw_sync(d, REQ_OP_WRITE, i * 8, {kpage(i)}), 0);
  EXPECT_EQ(d->nr_ring_submits(), 4u);
}

TEST_F(UringTest, WritesLandInTheHostFileAndHostDataIsRead) {
  OPEN_OR_SKIP(d);
  page* p = kpage(4242);
  ASSERT_EQ(rw_sync(d, REQ_OP_WRITE, 64, {p}), 0);
  int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<char> buf(PAGE_SIZE);
  ASSERT_EQ(pread(fd, buf.data(), PAGE_SIZE, 64 * SECTOR_SIZE), static_cast<ssize_t>(PAGE_SIZE));
  ::close(fd);
  EXPECT_EQ(std::memcmp(buf.data(), page_address(p), PAGE_SIZE), 0);

  // And the other way: what the host writes, a bio reads (straight into the frame).
  page* host = kpage(777);
  fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, page_address(host), PAGE_SIZE, 1 << 20), static_cast<ssize_t>(PAGE_SIZE));
  fsync(fd);
  ::close(fd);
  page* in = kpage(0);
  ASSERT_EQ(rw_sync(d, REQ_OP_READ, (1 << 20) / SECTOR_SIZE, {in}), 0);
  EXPECT_TRUE(page_has(in, 777));
}

TEST_F(UringTest, MultiSegmentBiosAndSplits) {
  uring_config cfg;
  cfg.max_segments = 8;
  OPEN_OR_SKIP(d, cfg);
  std::vector<page*> out, in;
  for (unsigned i = 0; i < 40; i++) out.push_back(kpage(50 + i));
  for (unsigned i = 0; i < 40; i++) in.push_back(kpage(0));
  ASSERT_EQ(rw_sync(d, REQ_OP_WRITE, 0, out), 0);  // 40 segments: 5 WRITEVs
  ASSERT_EQ(rw_sync(d, REQ_OP_READ, 0, in), 0);
  for (unsigned i = 0; i < 40; i++) EXPECT_TRUE(page_has(in[i], 50 + i)) << i;
  EXPECT_EQ(d->stats().splits, 8u);
  EXPECT_EQ(d->stats().writes, 5u);
}

TEST_F(UringTest, InjectedErrorsAreEIOAndReleasePages) {
  OPEN_OR_SKIP(d);
  page* p = kpage(3);
  const int r0 = page_ref_count(p);
  d->set_fault_inject({.fail_nth = 1});
  end_record rec;
  bio* b = page_bio(d, REQ_OP_WRITE, 0, {p});
  b->bi_end_io = record_end_io;
  b->bi_private = &rec;
  rec.release = true;
  submit_bio(b);
  rec.wait();
  EXPECT_EQ(rec.status, BLK_STS_IOERR);
  EXPECT_EQ(rec.pid, d->completion_task()->pid);
  EXPECT_EQ(page_ref_count(p), r0);
  page* in = kpage(9);
  ASSERT_EQ(rw_sync(d, REQ_OP_READ, 0, {in}), 0);
  EXPECT_FALSE(page_has(in, 3)) << "the failed write did not reach the file";
}

TEST_F(UringTest, FlushAndFuaWrites) {
  OPEN_OR_SKIP(d);
  bio* f = bio_alloc(d, 0, REQ_OP_FLUSH);
  EXPECT_EQ(submit_bio_wait(f), 0);
  bio_put(f);
  EXPECT_EQ(rw_sync(d, REQ_OP_WRITE | REQ_FUA, 8, {kpage(1)}), 0);
  EXPECT_EQ(rw_sync(d, REQ_OP_WRITE | REQ_PREFLUSH, 16, {kpage(2)}), 0);
  bio* pf = bio_alloc(d, 0, REQ_OP_WRITE | REQ_PREFLUSH);
  EXPECT_EQ(submit_bio_wait(pf), 0);
  bio_put(pf);
  EXPECT_EQ(rw_sync(d, REQ_OP_READ, d->nr_sectors(), {kpage()}), -EIO) << "past the end";
}

TEST_F(UringTest, HostDmaStraightIntoAPinnedUserPage) {
  OPEN_OR_SKIP(d);
  // What the host file holds at 256 KiB ...
  page* host = kpage(4321);
  int fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, page_address(host), PAGE_SIZE, 256 << 10), static_cast<ssize_t>(PAGE_SIZE));
  fsync(fd);
  ::close(fd);
  // ... lands, by the host kernel's O_DIRECT read, in a process's pinned page.
  mm_struct* mm = mm_alloc(&m());
  ASSERT_NE(mm, nullptr);
  scope_->task()->mm = mm;
  const long addr = vm_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  ASSERT_GT(addr, 0);
  uint64_t zero = 0;
  ASSERT_EQ(uaccess_write(mm, static_cast<unsigned long>(addr), &zero, sizeof(zero)), 0);
  page* user = nullptr;
  ASSERT_EQ(pin_user_pages_fast(static_cast<unsigned long>(addr), 1, FOLL_WRITE, &user), 1);
  bio* b = bio_alloc(d, 1, REQ_OP_READ);
  b->bi_iter.bi_sector = (256 << 10) / SECTOR_SIZE;
  ASSERT_EQ(bio_add_page(b, user, PAGE_SIZE, 0, true), PAGE_SIZE);
  ASSERT_EQ(submit_bio_wait(b), 0);
  bio_release_pages(b, true);
  bio_put(b);
  EXPECT_FALSE(page_maybe_dma_pinned(user));
  std::vector<char> got(PAGE_SIZE);
  ASSERT_EQ(uaccess_read(mm, static_cast<unsigned long>(addr), got.data(), PAGE_SIZE), 0);
  EXPECT_EQ(std::memcmp(got.data(), page_address(host), PAGE_SIZE), 0);
  EXPECT_EQ(m().vmstat().read(NR_FOLL_PIN_ACQUIRED), m().vmstat().read(NR_FOLL_PIN_RELEASED));
  scope_->task()->mm = nullptr;
  mmput(mm);
}

// ---- polled completion (REQ_POLLED) -------------------------------------------------

TEST_F(UringTest, PolledRequestsStartAndEndInTheSubmittersPoll) {
  OPEN_OR_SKIP(d);
  ASSERT_TRUE(d->can_poll());
  EXPECT_EQ(bdev_poll(d, false), 0) << "nothing of ours outstanding";
  ASSERT_EQ(rw_sync(d, REQ_OP_WRITE, 64, {kpage(77)}), 0);
  for (bool spin : {false, true}) {
    end_record r;
    r.release = true;
    page* in = kpage(0);
    bio* b = page_bio(d, REQ_OP_READ | REQ_POLLED, 64, {in});
    b->bi_end_io = record_end_io;
    b->bi_private = &r;
    const uint64_t submits = d->nr_ring_submits();
    submit_bio(b);
    EXPECT_EQ(d->nr_ring_submits(), submits) << "a polled request goes out with its poll";
    int ended = 0;
    while (!completion_done(&r.done)) {
      const int n = bdev_poll(d, spin);
      ASSERT_GT(n, 0);
      ended += n;
    }
    r.wait();
    EXPECT_EQ(ended, 1);
    EXPECT_EQ(d->nr_ring_submits(), submits + 1);
    EXPECT_EQ(r.status, BLK_STS_OK);
    EXPECT_EQ(r.pid, scope_->task()->pid) << "ended by its submitter, not irq/";
    EXPECT_TRUE(page_has(in, 77));
    EXPECT_EQ(bdev_poll(d, spin), 0);
  }
  EXPECT_EQ(d->nr_polled(), 2u);
  EXPECT_EQ(d->nr_inflight(), 0u);
}

TEST_F(UringTest, APolledRequestGoesOutWhenItsSubmitterPreparesTheNext) {
  // A batch reaches the host as its submitter makes it, as fio's submissions do: each SQE
  // when the next is prepared, the last with the poll's wait (one host call).
  OPEN_OR_SKIP(d);
  std::vector<end_record> recs(3);
  const uint64_t submits = d->nr_ring_submits();
  for (unsigned i = 0; i < recs.size(); i++) {
    recs[i].release = true;
    bio* b = page_bio(d, REQ_OP_READ | REQ_POLLED, i * 8, {kpage(0)});
    b->bi_end_io = record_end_io;
    b->bi_private = &recs[i];
    submit_bio(b);
    EXPECT_EQ(d->nr_ring_submits(), submits + i) << "request " << i << ": the one before it went out";
  }
  unsigned ended = 0;
  while (ended < recs.size()) {
    const int n = bdev_poll(d, false);
    ASSERT_GT(n, 0);
    ended += static_cast<unsigned>(n);
  }
  EXPECT_EQ(d->nr_ring_submits(), submits + 3) << "the last went out with the poll";
  for (auto& r : recs) {
    r.wait();
    EXPECT_EQ(r.status, BLK_STS_OK);
    EXPECT_EQ(r.pid, scope_->task()->pid);
  }
  EXPECT_EQ(d->nr_polled(), 3u);
}

TEST_F(UringTest, APolledBioThatIsSplitCompletesInTheCompletionTask) {
  uring_config cfg;
  cfg.max_segments = 8;
  OPEN_OR_SKIP(d, cfg);
  std::vector<page*> in;
  for (unsigned i = 0; i < 16; i++) in.push_back(kpage(0));
  end_record r;
  r.release = true;
  bio* b = page_bio(d, REQ_OP_READ | REQ_POLLED, 0, in);
  b->bi_end_io = record_end_io;
  b->bi_private = &r;
  submit_bio(b);
  EXPECT_EQ(bdev_poll(d, false), 0) << "a split bio is not polled";
  r.wait();
  EXPECT_EQ(r.status, BLK_STS_OK);
  EXPECT_EQ(r.pid, d->completion_task()->pid);
  EXPECT_EQ(d->nr_polled(), 0u);
}

TEST_F(UringTest, ATaskWhosePolledRequestsHoldEveryTagReapsThemInsteadOfSleeping) {
  uring_config cfg;
  cfg.queue_depth = 2;
  OPEN_OR_SKIP(d, cfg);
  constexpr unsigned kN = 6;
  std::vector<end_record> recs(kN);
  for (unsigned i = 0; i < kN; i++) {
    recs[i].release = true;
    bio* b = page_bio(d, REQ_OP_READ | REQ_POLLED, i * 8, {kpage(0)});
    b->bi_end_io = record_end_io;
    b->bi_private = &recs[i];
    submit_bio(b);  // from the third on, no tag is free: only our own poll frees one
  }
  for (auto& r : recs)
    while (!completion_done(&r.done)) ASSERT_GT(bdev_poll(d, false), 0);
  for (auto& r : recs) {
    r.wait();
    EXPECT_EQ(r.status, BLK_STS_OK);
    EXPECT_EQ(r.pid, scope_->task()->pid);
  }
  EXPECT_EQ(d->nr_polled(), kN);
  EXPECT_EQ(d->stats().max_inflight, 2u);
}

TEST_F(UringTest, ADeviceThatCannotPollCompletesPolledBiosAsAnyOther) {
  ramdisk* rd = ram("ram0");
  ASSERT_NE(rd, nullptr);
  EXPECT_FALSE(rd->can_poll());
  end_record r;
  r.release = true;
  bio* b = page_bio(rd, REQ_OP_READ | REQ_POLLED, 0, {kpage(0)});
  b->bi_end_io = record_end_io;
  b->bi_private = &r;
  submit_bio(b);
  EXPECT_EQ(bdev_poll(rd, false), 0);
  r.wait();
  EXPECT_EQ(r.pid, rd->completion_task()->pid);
}

namespace {
void count_ki_complete(kiocb* iocb, long res) {
  auto* got = static_cast<std::pair<long, int>*>(iocb->ki_private);
  got->first = res;
  got->second = current()->pid;
}
}  // namespace

TEST_F(UringTest, ODirectReapsItsOwnCompletionAndEveryPinIsReleased) {
  OPEN_OR_SKIP(d);
  page* host = kpage(999);
  int fd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, page_address(host), PAGE_SIZE, 1 << 20), static_cast<ssize_t>(PAGE_SIZE));
  fsync(fd);
  ::close(fd);
  mm_struct* mm = mm_alloc(&m());
  ASSERT_NE(mm, nullptr);
  scope_->task()->mm = mm;
  constexpr size_t kLen = 4 * PAGE_SIZE;
  const long addr = vm_mmap(mm, 0, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  ASSERT_GT(addr, 0);
  const auto ubuf = static_cast<unsigned long>(addr);
  dio_file f = blkdev_dio_file(d);
  // Synchronous, blocking in the host for the completion, then spinning (IOCB_HIPRI).
  EXPECT_EQ(dio_pread(&f, ubuf, PAGE_SIZE, 1 << 20), static_cast<long>(PAGE_SIZE));
  EXPECT_EQ(d->nr_polled(), 1u);
  kiocb iocb;
  init_sync_kiocb(&iocb, &f, 1 << 20, IOCB_HIPRI);
  EXPECT_EQ(blockdev_direct_IO(&iocb, ubuf + PAGE_SIZE, PAGE_SIZE), static_cast<long>(PAGE_SIZE));
  EXPECT_EQ(d->nr_polled(), 2u);
  // Several pages, one bio: polled too, and a write.
  EXPECT_EQ(dio_pwrite(&f, ubuf, kLen, 2 << 20), static_cast<long>(kLen));
  EXPECT_EQ(d->nr_polled(), 3u);
  // Asynchronous with IOCB_HIPRI: ki_complete runs in our poll.
  std::pair<long, int> got{0, 0};
  init_sync_kiocb(&iocb, &f, 1 << 20, IOCB_HIPRI);
  iocb.ki_complete = count_ki_complete;
  iocb.ki_private = &got;
  ASSERT_EQ(blockdev_direct_IO(&iocb, ubuf + 2 * PAGE_SIZE, PAGE_SIZE), -EIOCBQUEUED);
  EXPECT_EQ(got.second, 0) << "not before the poll";
  while (got.second == 0) ASSERT_GT(bdev_poll(d, false), 0);
  EXPECT_EQ(got.first, static_cast<long>(PAGE_SIZE));
  EXPECT_EQ(got.second, scope_->task()->pid);
  EXPECT_EQ(d->nr_polled(), 4u);
  std::vector<char> buf(PAGE_SIZE);
  for (unsigned i = 0; i < 3; i++) {
    ASSERT_EQ(uaccess_read(mm, ubuf + i * PAGE_SIZE, buf.data(), PAGE_SIZE), 0);
    EXPECT_EQ(std::memcmp(buf.data(), page_address(host), PAGE_SIZE), 0) << "page " << i;
  }
  // 1 + 1 + 2 + 1: the write found two never-touched pages (the zero page: not pin-accounted).
  EXPECT_EQ(m().vmstat().read(NR_FOLL_PIN_ACQUIRED), 5);
  EXPECT_EQ(m().vmstat().read(NR_FOLL_PIN_ACQUIRED), m().vmstat().read(NR_FOLL_PIN_RELEASED));
  vm_munmap(mm, ubuf, kLen);
  scope_->task()->mm = nullptr;
  mmput(mm);
}

TEST_F(UringTest, AReadOnlyDeviceReadsAndItsWritesFail) {
  OPEN_OR_SKIP(d);
  ASSERT_EQ(rw_sync(d, REQ_OP_WRITE, 64, {kpage(4242)}), 0);
  uring_config cfg;
  cfg.path = path_;
  cfg.read_only = true;
  std::unique_ptr<uring_disk> ro;
  std::string err;
  ASSERT_EQ(uring_disk::create(&m(), "uring:ro", cfg, &ro, &err), 0) << err;
  EXPECT_NE(ro->describe().find(", read-only"), std::string::npos) << ro->describe();
  EXPECT_EQ(d->describe().find("read-only"), std::string::npos) << d->describe();
  page* in = kpage(0);
  ASSERT_EQ(rw_sync(ro.get(), REQ_OP_READ, 64, {in}), 0);
  EXPECT_TRUE(page_has(in, 4242));
  EXPECT_NE(rw_sync(ro.get(), REQ_OP_WRITE, 64, {kpage(1)}), 0) << "the host file is open O_RDONLY";
  ro.reset();
  ASSERT_EQ(rw_sync(d, REQ_OP_READ, 64, {in}), 0);
  EXPECT_TRUE(page_has(in, 4242)) << "the refused write changed nothing";
  // Nothing read-only is created or grown.
  cfg.create_size = 2 * kFileBytes;
  EXPECT_EQ(uring_disk::create(&m(), "uring:ro2", cfg, &ro, &err), -EINVAL);
  EXPECT_NE(err.find("read-only"), std::string::npos) << err;
  EXPECT_EQ(ro, nullptr);
}

TEST_F(UringTest, OpenErrorsSayWhy) {
  std::unique_ptr<uring_disk> d;
  std::string err;
  uring_config cfg;
  cfg.path = "/nonexistent-guplab-dir/disk";
  EXPECT_EQ(uring_disk::create(&m(), "uring:x", cfg, &d, &err), -ENOENT);
  EXPECT_NE(err.find("no such file"), std::string::npos) << err;

  cfg.path = "/proc/self";  // a directory
  const int ret = uring_disk::create(&m(), "uring:y", cfg, &d, &err);
  EXPECT_LT(ret, 0);
  EXPECT_FALSE(err.empty());

  // An empty file has nothing to address.
  std::string p = temp_path();
  ASSERT_FALSE(p.empty());
  cfg.path = p;
  const int r2 = uring_disk::create(&m(), "uring:z", cfg, &d, &err);
  ::unlink(p.c_str());
  if (r2 == -EINVAL && err.find("O_DIRECT") != std::string::npos) GTEST_SKIP() << err;
  EXPECT_EQ(r2, -EINVAL);
  EXPECT_NE(err.find("empty"), std::string::npos) << err;
  EXPECT_EQ(d, nullptr);
}

TEST_F(UringTest, TmpfsIsRefusedClearlyOrWorks) {
  // tmpfs refused O_DIRECT until Linux 6.6; either way the answer must be clear.
  if (access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no writable /dev/shm";
  std::string tmpl = "/dev/shm/guplab-uring-XXXXXX";
  int fd = mkstemp(tmpl.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  uring_config cfg;
  cfg.path = tmpl;
  cfg.create_size = 1 << 20;
  std::unique_ptr<uring_disk> d;
  std::string err;
  const int ret = uring_disk::create(&m(), "uring:" + tmpl, cfg, &d, &err);
  if (ret == 0) {
    EXPECT_EQ(rw_sync(d.get(), REQ_OP_WRITE, 0, {kpage(1)}), 0);
    d.reset();
  } else {
    EXPECT_EQ(ret, -EINVAL) << err;
    EXPECT_NE(err.find("O_DIRECT"), std::string::npos) << err;
  }
  ::unlink(tmpl.c_str());
}

}  // namespace
}  // namespace guplab
