// futex.h - the one blocking primitive every lock and wait in base/ is built on.
//
// futex_wait() parks the caller while *word == expected; futex_wake() wakes waiters.
// Native backend: the Linux futex(2) syscall (private futexes), with a bounded sleep so
// that a waiter notices when its machine has halted after an oops. Sim backend: the
// fiber is parked in the scheduler, keyed by the word's address.
//
// Threading: any thread; the word must stay alive while anyone may wait on it.
#pragma once
#include <atomic>
#include <cstdint>

namespace guplab {

/**
 * futex_wait() - sleep while *@word == @expected.
 * @what: a short label for deadlock reports ("rwsem mmap_lock", "page lock").
 * May return spuriously; callers re-check their condition in a loop.
 * Throws MachineHalted when the running task's machine has oopsed.
 */
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, const char* what);

/** futex_wake() - wake up to @n waiters of @word (INT32_MAX for all). */
void futex_wake(std::atomic<uint32_t>* word, int n);

}  // namespace guplab
