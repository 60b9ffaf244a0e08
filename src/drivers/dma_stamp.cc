// dma_stamp.cc - writing and reading stamped chunks.
//
// Chunk layout, in 64-bit words: [0] magic, [1] writer << 32 | page, [2] generation,
// [3] chunk index, [4..63] body: word i is h + i * kBodyStep, where h is splitmix64 of a
// seed mixed from words 1..3. Two different writes (or chunk positions) have unrelated h,
// so a chunk holding words of two writes, or of zeros, fails the check in (nearly) every
// word; and the body costs one add per word to write and to check.
#include "drivers/dma_stamp.h"

#include <fmt/format.h>


#include "base/random.h"
#include "mm/mm_types.h"
#include "base/bug.h"

namespace guplab {

static_assert(kStampPageSize == PAGE_SIZE, "a stamped write covers one page");
static_assert(kStampChunkSize % 8 == 0 && kStampChunks * kStampChunkSize == kStampPageSize);

namespace {

constexpr uint64_t kMagic = 0x504d545350554721ull;  // "!GUPSTMP"
constexpr unsigned kWords = kStampChunkSize / 8;
constexpr unsigned kHeaderWords = 4;
constexpr uint64_t kBodyStep = 0x9e3779b97f4a7c15ull;  // odd: the words of one body all differ

uint64_t body_base(const dma_stamp& s, unsigned idx) {
  uint64_t seed = (static_cast<uint64_t>(s.writer) << 32 | s.page) ^ (s.generation * 0x9e3779b97f4a7c15ull) ^
                  (static_cast<uint64_t>(idx) << 56);
  return Random::splitmix64(seed);
}

void store(uint64_t* w, uint64_t v) { __atomic_store_n(w, v, __ATOMIC_RELAXED); }
uint64_t load(const uint64_t* w) { return __atomic_load_n(w, __ATOMIC_RELAXED); }

}  // namespace

std::string to_string(const dma_stamp& s) {
  if (s.generation == 0) return "nothing";
  if (s.writer == 0) return fmt::format("task/p{}/g{}", s.page, s.generation);
  return fmt::format("dev{}/p{}/g{}", s.writer, s.page, s.generation);
}

void stamp_fill_chunk(void* chunk, const dma_stamp& s, unsigned idx) {
  VM_BUG_ON(!(idx < kStampChunks));
  VM_BUG_ON(!(reinterpret_cast<uintptr_t>(chunk) % 8 == 0));
  VM_BUG_ON(!(s.generation != 0));
  auto* w = static_cast<uint64_t*>(chunk);
  store(&w[0], kMagic);
  store(&w[1], static_cast<uint64_t>(s.writer) << 32 | s.page);
  store(&w[2], s.generation);
  store(&w[3], idx);
  const uint64_t h = body_base(s, idx);
  for (unsigned i = kHeaderWords; i < kWords; i++) store(&w[i], h + i * kBodyStep);
}

void stamp_fill_page(void* page_bytes, const dma_stamp& s) {
  for (unsigned i = 0; i < kStampChunks; i++) stamp_fill_chunk(static_cast<char*>(page_bytes) + i * kStampChunkSize, s, i);
}

PageStampScan stamp_scan_page(const void* page_bytes) {
  VM_BUG_ON(!(reinterpret_cast<uintptr_t>(page_bytes) % 8 == 0));
  PageStampScan r;
  for (unsigned c = 0; c < kStampChunks; c++) {
    const auto* w = reinterpret_cast<const uint64_t*>(static_cast<const char*>(page_bytes) + c * kStampChunkSize);
    if (load(&w[0]) != kMagic) {
      r.state[c] = ChunkState::unstamped;
      continue;
    }
    const uint64_t wp = load(&w[1]);
    dma_stamp s{static_cast<uint32_t>(wp >> 32), static_cast<uint32_t>(wp), load(&w[2])};
    r.chunk[c] = s;
    bool ok = load(&w[3]) == c && s.generation != 0;
    const uint64_t h = body_base(s, c);
    for (unsigned i = kHeaderWords; i < kWords && ok; i++) ok = load(&w[i]) == h + i * kBodyStep;
    r.state[c] = ok ? ChunkState::stamped : ChunkState::damaged;
  }
  bool any_stamp = false, all_same = true;
  for (unsigned c = 0; c < kStampChunks; c++) {
    if (r.state[c] != ChunkState::unstamped) any_stamp = true;
    if (r.state[c] != ChunkState::stamped || !(r.chunk[c] == r.chunk[0])) all_same = false;
  }
  r.verdict = !any_stamp ? PageVerdict::unstamped : all_same ? PageVerdict::whole : PageVerdict::torn;
  return r;
}

std::string PageStampScan::describe() const {
  if (verdict == PageVerdict::unstamped) return "unstamped";
  if (verdict == PageVerdict::whole) return "whole " + to_string(stamp());
  // Runs of equal chunks: "[0]=dev1/p0/g2 [1..7]=dev1/p0/g3".
  auto label = [&](unsigned c) -> std::string {
    switch (state[c]) {
      case ChunkState::unstamped: return "unstamped";
      case ChunkState::damaged: return to_string(chunk[c]) + "(damaged)";
      case ChunkState::stamped: return to_string(chunk[c]);
    }
    return "?";
  };
  std::string out = "torn:";
  for (unsigned c = 0; c < kStampChunks;) {
    unsigned e = c;
    const std::string l = label(c);
    while (e + 1 < kStampChunks && label(e + 1) == l) e++;
    out += e == c ? fmt::format(" [{}]={}", c, l) : fmt::format(" [{}..{}]={}", c, e, l);
    c = e + 1;
  }
  return out;
}

}  // namespace guplab
