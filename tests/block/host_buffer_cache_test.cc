// host_buffer_cache_test.cc - zeroed host buffers are kept by size and handed out again;
// big ones and ones beyond the cache's room are unmapped.
#include "block/host_buffer_cache.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <vector>

namespace guplab {
namespace {

void* map_zeroed(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

TEST(HostBufferCache, GivesBackABufferOfTheSameSizeOnly) {
  HostBufferCache c;
  EXPECT_EQ(c.take(1 << 20), nullptr) << "empty";
  void* p = map_zeroed(1 << 20);
  ASSERT_NE(p, nullptr);
  c.give(p, 1 << 20);
  EXPECT_EQ(c.cached(), 1u);
  EXPECT_EQ(c.take(2 << 20), nullptr) << "another size is not this buffer";
  EXPECT_EQ(c.take(1 << 20), p);
  EXPECT_EQ(c.cached(), 0u);
  EXPECT_EQ(c.take(1 << 20), nullptr) << "taken once";
  c.give(p, 1 << 20);
}

TEST(HostBufferCache, KeepsAtMostItsRoomAndNothingTooBig) {
  HostBufferCache c;
  for (size_t i = 0; i < HostBufferCache::kMaxCached + 3; i++) c.give(map_zeroed(4096), 4096);
  EXPECT_EQ(c.cached(), HostBufferCache::kMaxCached);
  const size_t big = HostBufferCache::kMaxBytes + 4096;
  c.give(map_zeroed(big), big);
  EXPECT_EQ(c.take(big), nullptr) << "a buffer over kMaxBytes is unmapped, not kept";
  c.give(nullptr, 4096);  // nothing to keep
  EXPECT_EQ(c.cached(), HostBufferCache::kMaxCached);
}

}  // namespace
}  // namespace guplab
