// uffd_common.h - what the userfaultfd scenarios (uffd-gup, uffd-wp-pin) share: a
// process with an anonymous buffer registered with a userfaultfd context (the frame
// oracle they end with, check_frames_free(), is in world_checks.h).
//
// Threading: setup(), close_uffd() and exit() from the scenario's body; the members
// are read by the scenario's tasks between setup() and exit().
#pragma once
#include <cstdint>

namespace guplab {

class Machine;
class ScenarioContext;
struct mm_struct;
struct userfaultfd_ctx;

/** UffdProcess - an mm, an npages private anonymous buffer in it, and a userfaultfd context. */
struct UffdProcess {
  mm_struct* mm = nullptr;
  unsigned long addr = 0;
  unsigned long npages = 0;
  userfaultfd_ctx* uffd = nullptr;

  /**
   * setup() - make the mm, map the buffer and (UFFDIO_API with UFFD_FEATURE_THREAD_ID)
   * register all of it with @mode (UFFDIO_REGISTER_MODE_*). With @prefault the pages
   * are written (zeros) before registering. Returns 0 or -errno.
   */
  int setup(Machine& m, unsigned long npages, uint64_t mode, bool prefault = false);
  /** close_uffd() - userfaultfd_close(): waiting faults retry, the handler's read returns 0. */
  void close_uffd();
  /** exit() - close_uffd() if not yet, then the process's mm goes (mmput). A run that ends
   *  early (an oops) leaves the process behind, as the other scenarios do. */
  void exit();
};

}  // namespace guplab
