// host_pin.cc - timing io_uring buffer registration on the host.
#include "tools/host_pin.h"

#include <fmt/format.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "base/clock.h"
#include "base/errno.h"

namespace guplab::tools {

namespace {
constexpr uint64_t kMaxIovec = 1ull << 30;  // io_uring refuses registered buffers above 1 GiB

std::string limit_str(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : fmt::format("{} KiB", v >> 10); }

std::string memlock_str() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return "unknown";
  return fmt::format("soft {}, hard {}", limit_str(rl.rlim_cur), limit_str(rl.rlim_max));
}

// What the host most likely meant by @err (negative errno) from io_uring setup or buffer
// registration, and what to do about it.
std::string why(int err, uint64_t bytes) {
  switch (-err) {
    case ENOMEM:
      return fmt::format(
          "the host charges pinned memory to RLIMIT_MEMLOCK ({}) unless the process has CAP_IPC_LOCK, and {} MiB "
          "is more than it allows: raise it (ulimit -l unlimited, or LimitMEMLOCK= for a service), give the process "
          "CAP_IPC_LOCK (root normally has it), or use a smaller -m; or the host is short of memory",
          memlock_str(), bytes >> 20);
    case EPERM:
    case EACCES:
      return "io_uring is restricted on this host (sysctl kernel.io_uring_disabled, a seccomp filter or a "
             "container policy)";
    case ENOSYS:
      return "the host kernel has no io_uring";
    case EFAULT:
      return "the host could not pin the buffer's pages";
    case EOPNOTSUPP:
    case EINVAL:
      return "the host kernel does not support this form of buffer registration";
    default:
      return "unexpected error from the host";
  }
}

std::string refused(const char* what, int err, uint64_t bytes) {
  return fmt::format("{}: {} ({}): {}", what, errname(err), std::strerror(-err), why(err, bytes));
}

uint64_t anon_huge_kib(const void* addr) {
  // Sum AnonHugePages of the mapping that contains addr, from /proc/self/smaps.
  std::ifstream in("/proc/self/smaps");
  std::string line;
  const auto a = reinterpret_cast<uintptr_t>(addr);
  bool in_range = false;
  uint64_t kib = 0;
  while (std::getline(in, line)) {
    unsigned long lo, hi;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) {
      in_range = a >= lo && a < hi;
      continue;
    }
    unsigned long v;
    if (in_range && std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &v) == 1) kib += v;
  }
  return kib;
}
}  // namespace

HostPinResult host_longterm_pin(uint64_t bytes, bool thp, int repeats) {
  HostPinResult r;
  r.bytes = bytes;
  r.pages = bytes / 4096;
  // Root has CAP_IPC_LOCK and is not limited; others may raise the soft limit.
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < bytes) {
    rlimit want = rl;
    want.rlim_cur = std::min<rlim_t>(rl.rlim_max, RLIM_INFINITY);
    setrlimit(RLIMIT_MEMLOCK, &want);
  }
  const uint64_t align = 2ull << 20;
  void* raw = mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    r.error = fmt::format("mmap of {} MiB for the host buffer: {} ({})", bytes >> 20, errname(-errno), std::strerror(errno));
    return r;
  }
  char* buf = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + align - 1) & ~(align - 1));
  madvise(buf, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  for (uint64_t off = 0; off < bytes; off += 4096) buf[off] = 1;
  r.thp = anon_huge_kib(buf) > 0;

  io_uring ring;
  int ret = io_uring_queue_init(4, &ring, 0);
  if (ret < 0) {
    r.error = refused("io_uring_queue_init", ret, bytes);
    munmap(raw, bytes + align);
    return r;
  }
  std::vector<iovec> iov;
  for (uint64_t off = 0; off < bytes; off += kMaxIovec)
    iov.push_back({buf + off, static_cast<size_t>(std::min(kMaxIovec, bytes - off))});
  for (int i = 0; i < repeats; i++) {
    HostPinRun run;
    uint64_t t0 = host_time_ns();
    ret = io_uring_register_buffers(&ring, iov.data(), static_cast<unsigned>(iov.size()));
    uint64_t t1 = host_time_ns();
    if (ret < 0) {
      r.error = refused(fmt::format("IORING_REGISTER_BUFFERS of {} MiB", bytes >> 20).c_str(), ret, bytes);
      break;
    }
    io_uring_unregister_buffers(&ring);
    uint64_t t2 = host_time_ns();
    run.get_ns = t1 - t0;
    run.put_ns = t2 - t1;
    r.runs.push_back(run);
  }
  io_uring_queue_exit(&ring);
  munmap(raw, bytes + align);
  r.ok = r.error.empty();
  return r;
}

}  // namespace guplab::tools
