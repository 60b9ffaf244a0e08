// bit_wait.cc - sleeping on and waking a bit of a word.
#include "base/bit_wait.h"

#include "base/preempt.h"

namespace guplab {

namespace {
const void* key_of(const bitword_t* word, const void* key) { return key ? key : word; }
}  // namespace

void wait_on_bit(BitWaitTable* t, bitword_t* word, unsigned bit, const void* key) {
  might_sleep();
  // Acquire: what the clearer did before its clear_bit_unlock() (a DMA into the page,
  // an error flag) is visible once the bit is seen clear, sleeping or not.
  if (!test_bit_acquire(bit, word)) return;
  wait_queue_head_t* wq = t->lookup(key_of(word, key), bit);
  wait_event(wq, [&] { return !test_bit_acquire(bit, word); });
}

void wait_on_bit_lock(BitWaitTable* t, bitword_t* word, unsigned bit, const void* key) {
  might_sleep();
  if (!test_and_set_bit_lock(bit, word)) return;
  wait_queue_head_t* wq = t->lookup(key_of(word, key), bit);
  wait_event(wq, [&] { return !test_and_set_bit_lock(bit, word); });
}

void wake_up_bit(BitWaitTable* t, bitword_t* word, unsigned bit, const void* key) {
  wait_queue_head_t* wq = t->lookup(key_of(word, key), bit);
  wake_up_all(wq);
}

}  // namespace guplab
