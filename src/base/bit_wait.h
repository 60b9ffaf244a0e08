// bit_wait.h - sleeping on a bit of a shared word (page lock, writeback bit), through a
// hashed table of wait queues as the kernel's bit_wait_table. Each Machine owns one.
// Threading: any task.
#pragma once
#include <array>

#include "base/bitops.h"
#include "base/wait.h"

namespace guplab {

class BitWaitTable {
 public:
  /** lookup() - the wait queue that sleepers on (@word, @bit) use. */
  wait_queue_head_t* lookup(const void* word, unsigned bit) {
    uintptr_t h = reinterpret_cast<uintptr_t>(word) * 0x9e3779b97f4a7c15ULL + bit;
    return &heads_[(h >> 56) % kSize];
  }

 private:
  static constexpr size_t kSize = 256;
  std::array<wait_queue_head_t, kSize> heads_;
};

/**
 * wait_on_bit() - sleep until @bit of @word is clear. Acquire ordering: the loads after
 * it see what the task that cleared the bit (with a release) did before.
 */
void wait_on_bit(BitWaitTable* t, bitword_t* word, unsigned bit);
/** wait_on_bit_lock() - take @bit of @word as a lock, sleeping while it is held. */
void wait_on_bit_lock(BitWaitTable* t, bitword_t* word, unsigned bit);
/** wake_up_bit() - wake sleepers on (@word, @bit); call after clearing the bit. */
void wake_up_bit(BitWaitTable* t, bitword_t* word, unsigned bit);

}  // namespace guplab
