// host_pin.h - the host kernel's own long-term pinning, as a reference figure.
//
// io_uring buffer registration (IORING_REGISTER_BUFFERS) pins user memory in the host
// kernel with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM); unregistering unpins it. Timing
// the two on a buffer the size of the model's gives the host's per-page pin and unpin
// cost to set beside the model's. The host may refuse (memlock limits, io_uring
// disabled, seccomp): the result then says why.
//
// Threading: not thread-safe; call from one thread. Uses host memory, not a Machine's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace guplab::tools {

struct HostPinRun {
  uint64_t get_ns = 0;  // register (pin)
  uint64_t put_ns = 0;  // unregister (unpin)
};

struct HostPinResult {
  bool ok = false;
  std::string error;  // why the host refused, when !ok
  uint64_t bytes = 0;
  uint64_t pages = 0;  // 4 KiB pages pinned per run
  bool thp = false;    // whether the buffer was backed by host THPs (AnonHugePages > 0)
  std::vector<HostPinRun> runs;
};

/**
 * host_longterm_pin() - pin and unpin a @bytes anonymous buffer @repeats times through
 * io_uring buffer registration. @thp asks the host for huge pages (MADV_HUGEPAGE).
 * The buffer is touched (faulted in) before timing, as gup_test does.
 */
HostPinResult host_longterm_pin(uint64_t bytes, bool thp, int repeats);

}  // namespace guplab::tools
