// block_test_util.h - helpers shared by the block tests: a machine with a ramdisk,
// kernel pages with known contents, bios that record where and how they completed.
// Threading: one fixture per test thread.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/completion.h"
#include "block/bio.h"
#include "block/blkdev.h"
#include "block/genhd.h"
#include "block/ramdisk.h"
#include "mm/memory_model.h"
#include "mm/page_alloc.h"
#include "mm/page_ref.h"
#include "mm/swap.h"
#include "tests/test_machine.h"

namespace guplab::testing {

/**
 * What a bio's completion saw. Wait with wait(), not on `done` alone: complete() still
 * touches the completion after a waiter can see it done, so a waiter that returned on
 * `done` and freed the record would race it; `calls`, bumped last, says the completer
 * is gone.
 */
struct end_record {
  completion done;
  std::atomic<int> calls{0};
  blk_status_t status = BLK_STS_OK;
  int pid = 0;
  std::string comm;
  bool release = false;     // bio_release_pages() in the end_io
  bool mark_dirty = false;  // ... with this

  /** signal() - the completer's last touch of the record. */
  void signal() {
    complete(&done);
    calls.fetch_add(1, std::memory_order_release);
  }
  /** wait() - until signal() has returned. */
  void wait() {
    wait_for_completion(&done);
    while (calls.load(std::memory_order_acquire) == 0) cond_resched();
  }
};

/** An end_io that records into the end_record in bi_private and puts the bio. */
inline void record_end_io(bio* b) {
  auto* r = static_cast<end_record*>(b->bi_private);
  r->status = b->bi_status;
  if (task_struct* t = current()) {
    r->pid = t->pid;
    r->comm = t->comm;
  }
  if (r->release) bio_release_pages(b, r->mark_dirty);
  bio_put(b);
  r->signal();
}

/** fill_page() - a recognisable pattern: @seed in every 8-byte word, plus the word index. */
inline void fill_page(page* p, uint64_t seed) {
  auto* w = static_cast<uint64_t*>(page_address(p));
  for (unsigned i = 0; i < PAGE_SIZE / 8; i++) w[i] = (seed << 16) ^ i;
}
inline bool page_has(page* p, uint64_t seed) {
  auto* w = static_cast<uint64_t*>(page_address(p));
  for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
    if (w[i] != ((seed << 16) ^ i)) return false;
  return true;
}

/** A machine (test thread is its task) with helpers for kernel pages and ramdisks. */
class BlockTest : public MachineTest {
 protected:
  void TearDown() override {
    for (page* p : pages_) put_page(p);
    pages_.clear();
    MachineTest::TearDown();
  }
  /** kpage() - a kernel page the fixture owns (one reference, dropped at TearDown). */
  page* kpage(uint64_t seed = 0) {
    page* p = alloc_page(gfp_t::GFP_KERNEL);
    EXPECT_NE(p, nullptr);
    fill_page(p, seed);
    pages_.push_back(p);
    return p;
  }
  /** ram() - register and return a ramdisk. */
  ramdisk* ram(const std::string& name, const ramdisk_config& cfg = {}) {
    std::unique_ptr<ramdisk> rd;
    EXPECT_EQ(ramdisk::create(&m(), name, cfg, &rd), 0);
    ramdisk* raw = rd.get();
    EXPECT_EQ(add_disk(&m(), std::move(rd)), 0);
    disks_.push_back(name);
    return raw;
  }
  /**
   * run_on_sim() - MachineTest::run_on_sim() for a block test: @body, then the kernel
   * pages it took are put and the ramdisks it made are removed (their kthreads end), inside
   * the run.
   */
  std::string run_on_sim(const MachineConfig& cfg, uint64_t seed, const std::function<void()>& body) {
    return MachineTest::run_on_sim(cfg, seed, [&] {
      body();
      for (page* p : pages_) put_page(p);
      pages_.clear();
      for (const std::string& d : disks_) EXPECT_EQ(del_gendisk(&m(), d), 0) << d;
      disks_.clear();
    });
  }
  /** page_bio() - a bio of whole kernel pages at @sector; each page gets a reference for the bio. */
  bio* page_bio(block_device* bdev, blk_opf_t opf, sector_t sector, const std::vector<page*>& pages) {
    bio* b = bio_alloc(bdev, static_cast<unsigned short>(pages.size()), opf);
    b->bi_iter.bi_sector = sector;
    for (page* p : pages) {
      get_page(p);
      EXPECT_EQ(bio_add_page(b, p, PAGE_SIZE, 0, false), PAGE_SIZE);
    }
    return b;
  }
  /** rw_sync() - do one page-bio synchronously; releases the pages; returns the errno. */
  int rw_sync(block_device* bdev, blk_opf_t opf, sector_t sector, const std::vector<page*>& pages) {
    bio* b = page_bio(bdev, opf, sector, pages);
    int ret = submit_bio_wait(b);
    bio_release_pages(b, false);
    bio_put(b);
    return ret;
  }
  std::vector<page*> pages_;
  std::vector<std::string> disks_;  // made by ram()
};

}  // namespace guplab::testing
