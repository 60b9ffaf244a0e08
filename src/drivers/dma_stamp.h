// dma_stamp.h - the stamped-chunk format that writers (DMA devices, a task's stores)
// put into pages, and the reader the torn and lost-update oracles use.
//
// A stamped write covers one page as kStampChunks chunks of kStampChunkSize bytes (512:
// one sector, the ramdisk's DMA granule). Every chunk carries a header naming the write
// it belongs to -- a dma_stamp (writer, page, generation) -- and its own chunk index,
// followed by body words derived from all of these. From the page bytes alone a reader
// can then tell whether the page holds one write whole, pieces of several writes (a
// torn page), a chunk damaged inside itself, or nothing stamped at all.
//
// Generations come from a StampClock shared by every writer of a scenario, so across
// writers the newest write of a page is the one with the largest generation.
//
// Threading: stamp_fill_*() store with relaxed atomic 64-bit words and stamp_scan_page()
// loads the same way (the defined form of a device racing the CPU and the block
// layer's DMA), so both may target a live page frame. StampClock is atomic.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace guplab {

inline constexpr unsigned kStampChunkSize = 512;
inline constexpr unsigned kStampPageSize = 4096;
inline constexpr unsigned kStampChunks = kStampPageSize / kStampChunkSize;  // 8

/** dma_stamp - the identity of one stamped write of one page. */
struct dma_stamp {
  uint32_t writer = 0;      // who wrote: 0 a task's CPU stores, 1.. a device's id
  uint32_t page = 0;        // which page of the writer's range (its index there)
  uint64_t generation = 0;  // when: from the scenario's StampClock (0: never written)
  bool operator==(const dma_stamp&) const = default;
};

/** newer() - whichever of @a and @b was written last (the larger generation). */
inline dma_stamp newer(const dma_stamp& a, const dma_stamp& b) { return b.generation > a.generation ? b : a; }

/** to_string() - "dev1/p0/g3" (writer 0 prints as "task"); "nothing" for generation 0. */
std::string to_string(const dma_stamp& s);

/** StampClock - the generation counter all writers of one scenario share. */
class StampClock {
 public:
  /** next() - a fresh generation, larger than every one handed out before (first: 1). */
  uint64_t next() { return gen_.fetch_add(1, std::memory_order_relaxed) + 1; }
  uint64_t last() const { return gen_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> gen_{0};
};

/**
 * stamp_fill_chunk() - write chunk @idx of the write @s into the @kStampChunkSize bytes
 * at @chunk. REQUIRES: @idx < kStampChunks; @chunk 8-byte aligned; s.generation != 0.
 */
void stamp_fill_chunk(void* chunk, const dma_stamp& s, unsigned idx);
/** stamp_fill_page() - all chunks of @s into the kStampPageSize bytes at @page_bytes. */
void stamp_fill_page(void* page_bytes, const dma_stamp& s);

/** What one chunk of a page holds. */
enum class ChunkState : uint8_t {
  unstamped,  // no stamp header (zeros, or data nobody stamped)
  stamped,    // a whole chunk of some write, at its own position
  damaged,    // a header whose body or position does not match: torn inside the chunk
};

/** What a page holds, from stamp_scan_page(). */
enum class PageVerdict : uint8_t {
  unstamped,  // no chunk is stamped
  whole,      // every chunk is stamped by the same write
  torn,       // anything else: several writes, stamped and unstamped chunks, damage
};

struct PageStampScan {
  PageVerdict verdict = PageVerdict::unstamped;
  std::array<ChunkState, kStampChunks> state{};
  std::array<dma_stamp, kStampChunks> chunk{};  // stamped/damaged chunks: the header's stamp
  /** whole: the write the page holds. */
  dma_stamp stamp() const { return chunk[0]; }
  /** describe() - "whole dev1/p0/g3", "unstamped", or "torn: [0]=dev1/p0/g2 [1..7]=dev1/p0/g3". */
  std::string describe() const;
};

/** stamp_scan_page() - classify the kStampPageSize bytes at @page_bytes. REQUIRES: 8-byte aligned. */
PageStampScan stamp_scan_page(const void* page_bytes);

}  // namespace guplab
