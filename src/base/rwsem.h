// rwsem.h - struct rw_semaphore: a sleeping reader-writer lock (mmap_lock, i_rwsem).
//
// Writers are preferred: once a writer waits, new readers wait behind it, as in the
// kernel (so a task that takes it for read twice can deadlock against a writer, which
// is the kernel's rule too). Killable variants return -EINTR when the task is killed.
//
// Threading: any task.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/thread_annotations.h"

namespace guplab {

struct task_struct;

struct CAPABILITY("rw_semaphore") rw_semaphore {
  std::atomic<uint32_t> state{0};           // WRITER | WAITERS | reader count
  std::atomic<uint32_t> writers_waiting{0};
  std::atomic<task_struct*> owner{nullptr};  // the writer, for lockdep-style checks
  const char* name = "rwsem";

  static constexpr uint32_t kWriter = 1u << 31;
  static constexpr uint32_t kWaiters = 1u << 30;
  static constexpr uint32_t kReaderMask = kWaiters - 1;
};

inline void init_rwsem(rw_semaphore* s, const char* name) { s->name = name; }

void down_read(rw_semaphore* s) ACQUIRE_SHARED(s);
int down_read_killable(rw_semaphore* s) TRY_ACQUIRE_SHARED(0, s);
bool down_read_trylock(rw_semaphore* s) TRY_ACQUIRE_SHARED(true, s);
void up_read(rw_semaphore* s) RELEASE_SHARED(s);
void down_write(rw_semaphore* s) ACQUIRE(s);
int down_write_killable(rw_semaphore* s) TRY_ACQUIRE(0, s);
bool down_write_trylock(rw_semaphore* s) TRY_ACQUIRE(true, s);
void up_write(rw_semaphore* s) RELEASE(s);
/** downgrade_write() - turn a held write lock into a read lock without letting go. */
void downgrade_write(rw_semaphore* s) RELEASE(s) ACQUIRE_SHARED(s);

inline bool rwsem_is_locked(const rw_semaphore* s) {
  return (s->state.load(std::memory_order_relaxed) & ~rw_semaphore::kWaiters) != 0;
}
/** rwsem_is_write_locked() - held for write by anyone. */
inline bool rwsem_is_write_locked(const rw_semaphore* s) {
  return s->state.load(std::memory_order_relaxed) & rw_semaphore::kWriter;
}

}  // namespace guplab
