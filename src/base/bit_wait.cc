// bit_wait.cc - sleeping on bits of shared words.
#include "base/bit_wait.h"

namespace guplab {

void wait_on_bit(BitWaitTable* t, bitword_t* word, unsigned bit) {
  wait_queue_head_t* wq = t->lookup(word, bit);
  wait_event(wq, [&] { return !test_bit(bit, word); });
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
