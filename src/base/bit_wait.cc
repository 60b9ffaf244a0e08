// bit_wait.cc - sleeping on bits of shared words.
#include "base/bit_wait.h"

namespace guplab {

void wait_on_bit(BitWaitTable* t, bitword_t* word, unsigned bit) {
  // Acquire: what the clearer did before its clear_bit_unlock() (a DMA into the page,
  // an error flag) is visible once the bit is seen clear, sleeping or not.
  if (!test_bit_acquire(bit, word)) return;
  wait_queue_head_t* wq = t->lookup(word, bit);
  wait_event(wq, [&] { return !test_bit_acquire(bit, word); });
}

void wait_on_bit_lock(BitWaitTable* t, bitword_t* word, unsigned bit) {
  if (!test_and_set_bit_lock(bit, word)) return;
  wait_queue_head_t* wq = t->lookup(word, bit);
  wait_event(wq, [&] { return !test_and_set_bit_lock(bit, word); });
}

void wake_up_bit(BitWaitTable* t, bitword_t* word, unsigned bit) {
  wait_queue_head_t* wq = t->lookup(word, bit);
  wake_up_all(wq);
}

}  // namespace guplab
