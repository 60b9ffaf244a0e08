// oracles.h - the scenario oracles of DESIGN decision 8 that need to know what the
// scenario did: torn pages, lost updates, false negatives. (Oops, WARN, leaked pins
// and deadlock are applied to every run by run_scenario().)
//
//  - torn: a page read back from the disk must hold one stamped write whole
//    (drivers/dma_stamp.h); pieces of several writes mean a writer changed the page
//    while the block layer's DMA was copying it out.
//  - lost: after the final sync, each page on the disk must hold the newest write of
//    that page, by the device (what it last wrote) or by the task (what it last
//    synced); anything older, or nothing, is a lost update - unless the process threw
//    the page away after that write (MADV_DONTNEED, truncate): then the page must not
//    hold any write from before the discard.
//  - corrupt: a device's write reached data that belongs to another file (its stamps,
//    writer = the device's id, found in a page of a file it never registered). Worse
//    than lost: somebody else's data is damaged.
//  - false negative: wherever the design is asked (page_mkclean, try_to_unmap,
//    writeback), every page a device is known to hold pinned must answer
//    page_maybe_dma_pinned() true, under every design that tracks pins.
//
// Each oracle reports through ScenarioContext::found(): its outcome when it fires,
// Outcome::ok with what it checked when it does not, so every cell is explained.
//
// Threading: check_*() from any task of the scenario (the disk read takes the
// ramdisk's storage lock). PinWitness is configured by the body before tasks start; its
// checks run in whichever task reaches a watched point.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "block/blk_types.h"
#include "drivers/dma_stamp.h"
#include "mm/mm_types.h"

namespace guplab {

class ScenarioContext;
class Script;
class RdmaDevice;
class block_device;

/** A page-sized, word-aligned buffer for page images. */
struct alignas(64) PageImage {
  std::array<uint64_t, PAGE_SIZE / 8> words{};
  void* data() { return words.data(); }
  const void* data() const { return words.data(); }
};

/**
 * read_disk_page() - the PAGE_SIZE bytes at @sector of @bdev, straight from the
 * medium (no page cache). Returns 0, -EOPNOTSUPP (the device has no read-back hook:
 * only the ramdisk has) or -EINVAL (out of range).
 */
int read_disk_page(block_device* bdev, sector_t sector, PageImage* out);

/**
 * check_torn() - the torn oracle on one page image. Reports torn with the chunk map,
 * or ok. @where names the page ("disk page 0 of file a (sector 2056)").
 * Returns the scan.
 */
PageStampScan check_torn(ScenarioContext& ctx, std::string_view where, const PageImage& img);

/**
 * check_lost() - the lost-update oracle on one page image after the final sync.
 * @newest is the newest write of the page by anyone (see newer()); generation 0
 * means nothing was written and nothing is checked. @discarded is the StampClock
 * generation at which the process legitimately threw the page's contents away
 * (MADV_DONTNEED, a truncate; 0: never): every write up to it is gone on purpose.
 * Reports lost unless the image holds exactly @newest whole, or, where @newest came
 * before @discarded, unless it holds no write of its own generation or older (a
 * zero-filled page, or one written after the discard). Returns true if it held.
 */
bool check_lost(ScenarioContext& ctx, std::string_view where, const PageImage& img, const dma_stamp& newest,
                uint64_t discarded = 0);

/**
 * check_corrupt() - the corrupt oracle on one page image of a file that device
 * @writer never registered: any chunk stamped (whole or damaged) by @writer means its
 * DMA reached that file's data. Reports corrupt with the chunk map, or ok. Returns
 * true if the page is clean of @writer's stamps.
 */
bool check_corrupt(ScenarioContext& ctx, std::string_view where, const PageImage& img, uint32_t writer);

/**
 * PinWitness - the false-negative oracle. Sources say which pages are known pinned
 * (a device's registered range, or any callback); at each watched point every such
 * page must answer page_maybe_dma_pinned() true. Under design `get` nothing is
 * tracked, so nothing is asked (and the summary says so).
 */
class PinWitness {
 public:
  /** A source calls its argument for every page it holds pinned, under its own lock. */
  using Source = std::function<void(const std::function<void(page*)>& visit)>;

  PinWitness(ScenarioContext& ctx, Script& script);
  /** watch() - the pages @dev holds pinned are known pinned. */
  void watch(const RdmaDevice* dev);
  void watch(std::string name, Source src);
  /** ask_at() - check at each passage of the sync point @point. */
  void ask_at(const std::string& point);
  /** summarize() - an ok finding with what was checked (call once, at the end). */
  void summarize();
  uint64_t checks() const { return checks_.load(std::memory_order_relaxed); }

 private:
  void check(const std::string& point);

  ScenarioContext& ctx_;
  Script& script_;
  bool tracking_;
  std::vector<std::pair<std::string, Source>> sources_;  // configured before tasks run
  std::vector<std::string> points_;
  std::atomic<uint64_t> checks_{0};   // (point, page) pairs asked
  std::atomic<uint64_t> misses_{0};
};

}  // namespace guplab
