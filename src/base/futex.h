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

/**
 * futex_wait_until() - as futex_wait(), but return by @deadline_ns (ktime_get_ns() time)
 * at the latest. Natively this is futex_wait() (its bounded sleep lets the caller's loop
 * re-check the deadline); under sim the fiber also waits on a virtual-time timer.
 */
void futex_wait_until(std::atomic<uint32_t>* word, uint32_t expected, uint64_t deadline_ns,
                      const char* what);

/**
 * futex_wait_killable() - as futex_wait(), for a TASK_KILLABLE sleep: send_sig_kill() to
 * the calling task wakes it, and it returns at once if the signal is already pending.
 * Callers check fatal_signal_pending() in their loop (-EINTR).
 */
void futex_wait_killable(std::atomic<uint32_t>* word, uint32_t expected, const char* what);

/** futex_wake() - wake up to @n waiters of @word (INT32_MAX for all). */
void futex_wake(std::atomic<uint32_t>* word, int n);

}  // namespace guplab
