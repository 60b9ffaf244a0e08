// bit_wait.h - sleeping on a bit of a shared word (page lock, writeback bit), through a
// hashed table of wait queues as the kernel's bit_wait_table. Each Machine owns one.
//
// Which queue a (word, bit) sleeps on is a hash of a key address: the word itself, or a
// key the caller names (a buffer head's lock is keyed by its page, as its waiters are
// found through the page). Keys are taken relative to a base (the machine's mem_map),
// so that under the sim backend the queues - and so the spurious wake-ups of waiters
// that share one - do not depend on where the host happened to map memory: a run
// repeats exactly in another process. Keys should therefore lie above the base.
//
// Threading: any task; set_key_base() before any task runs.
#pragma once
#include <array>
#include <cstdint>

#include "base/bitops.h"
#include "base/wait.h"

namespace guplab {

class BitWaitTable {
 public:
  /** set_key_base() - keys are hashed as offsets from @base. */
  void set_key_base(const void* base) { base_ = reinterpret_cast<uintptr_t>(base); }
  /** lookup() - the wait queue that sleepers on (@key, @bit) use. */
  wait_queue_head_t* lookup(const void* key, unsigned bit) {
    const uintptr_t h = (reinterpret_cast<uintptr_t>(key) - base_) * 0x9e3779b97f4a7c15ULL + bit;
    return &heads_[(h >> 56) % kSize];
  }

 private:
  static constexpr size_t kSize = 256;
  uintptr_t base_ = 0;
  std::array<wait_queue_head_t, kSize> heads_;
};

/**
 * wait_on_bit() - sleep until @bit of @word is clear (queue keyed by @key, default @word).
 * Acquire ordering: the loads after it see what the task that cleared the bit (with a
 * release) did before.
 */
void wait_on_bit(BitWaitTable* t, bitword_t* word, unsigned bit, const void* key = nullptr);
/** wait_on_bit_lock() - take @bit of @word as a lock, sleeping while it is held. */
void wait_on_bit_lock(BitWaitTable* t, bitword_t* word, unsigned bit, const void* key = nullptr);
/** wake_up_bit() - wake sleepers on (@word, @bit); call after clearing the bit. Same @key as theirs. */
void wake_up_bit(BitWaitTable* t, bitword_t* word, unsigned bit, const void* key = nullptr);

}  // namespace guplab
