// host_sys.cc - ConformSys on the host kernel (see host_sys.h).
#include "lab/conform/host_sys.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/magic.h>
#include <linux/memfd.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace guplab::conform {

namespace {

constexpr size_t kPage = 4096;

std::string read_line(const char* path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

long neg_errno(long r) { return r < 0 ? -errno : r; }

/** Ops a child process serves. */
enum Op : int { kLoad, kStore, kMunmap, kMprotect, kMadvise, kPipe, kVmsplice, kPipeRead, kPopulated, kExit };

struct Req {
  int op;
  int h;
  uint64_t addr;
  uint64_t len;
  int64_t arg;
  uint32_t in_len;
};
struct Rep {
  long ret;
  uint32_t out_len;
};

bool read_all(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}
bool write_all(int fd, const void* buf, size_t n) {
  const auto* p = static_cast<const char*>(buf);
  while (n) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

int pagemap_present(uint64_t addr) {
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  uint64_t ent = 0;
  ssize_t r = ::pread(fd, &ent, sizeof(ent), static_cast<off_t>((addr / kPage) * sizeof(ent)));
  ::close(fd);
  if (r != sizeof(ent)) return -EIO;
  return (ent >> 63) & 1 ? 1 : 0;
}

/** The requests both process 0 and the children run on themselves. */
long do_local(const Req& q, const void* in, void* out) {
  void* a = reinterpret_cast<void*>(q.addr);
  switch (q.op) {
    case kLoad: std::memcpy(out, a, q.len); return 0;
    case kStore: std::memcpy(a, in, q.len); return 0;
    case kMunmap: return neg_errno(::munmap(a, q.len));
    case kMprotect: return neg_errno(::mprotect(a, q.len, static_cast<int>(q.arg)));
    case kMadvise: return neg_errno(::madvise(a, q.len, static_cast<int>(q.arg)));
    case kPipe: {
      int fds[2];
      if (::pipe(fds)) return -errno;
      return fds[0] | (static_cast<long>(fds[1]) << 16);  // both ends in one handle
    }
    case kVmsplice: {
      iovec iov{a, q.len};
      return neg_errno(::vmsplice(static_cast<int>(q.h >> 16), &iov, 1, 0));
    }
    case kPipeRead: return neg_errno(::read(q.h & 0xffff, out, q.len));
    case kPopulated: return pagemap_present(q.addr);
    default: return -EINVAL;
  }
}

[[noreturn]] void serve(int rfd, int wfd) {
  std::vector<char> in, out;
  for (;;) {
    Req q{};
    if (!read_all(rfd, &q, sizeof(q))) _exit(1);
    in.resize(q.in_len);
    if (q.in_len && !read_all(rfd, in.data(), q.in_len)) _exit(1);
    const bool has_out = q.op == kLoad || q.op == kPipeRead;
    out.resize(has_out ? q.len : 0);
    Rep p{0, 0};
    if (q.op == kExit) {
      write_all(wfd, &p, sizeof(p));
      _exit(0);
    }
    p.ret = do_local(q, in.data(), out.data());
    if (has_out) p.out_len = static_cast<uint32_t>(q.op == kLoad ? (p.ret == 0 ? q.len : 0) : (p.ret > 0 ? p.ret : 0));
    if (!write_all(wfd, &p, sizeof(p)) || !write_all(wfd, out.data(), p.out_len)) _exit(1);
  }
}

struct Child {
  pid_t pid = -1;
  int wfd = -1, rfd = -1;  // requests to it, replies from it
};

struct Ring {
  io_uring ring{};
  uint64_t addr = 0;
  size_t len = 0;
  bool live = false;
};

struct HostFile {
  int fd = -1;
  int dfd = -1;  // the same file opened O_DIRECT (disk files)
};

class HostSys final : public ConformSys {
 public:
  ~HostSys() override {
    for (size_t i = 1; i < kids_.size(); i++) exit(static_cast<int>(i));
    for (Ring& r : rings_)
      if (r.live) io_uring_queue_exit(&r.ring);
  }

  std::string side() const override { return "host"; }

  std::string lacks(Facility f) override {
    switch (f) {
      case Facility::thp: {
        std::string s = read_line("/sys/kernel/mm/transparent_hugepage/enabled");
        if (s.empty()) return "THP not supported (no /sys/kernel/mm/transparent_hugepage)";
        if (s.find("[never]") != std::string::npos) return "THP disabled (transparent_hugepage/enabled is never)";
        return "";
      }
      case Facility::huge_zeropage:
        if (read_line("/sys/kernel/mm/transparent_hugepage/use_zero_page") != "1") return "Huge zeropage not enabled";
        return "";
      case Facility::hugetlb:
      case Facility::memfd_hugetlb: {
        std::string s = read_line("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
        if (s.empty() || std::stol(s) < 2)
          return "need more free huge pages (2 MiB pool has " + (s.empty() ? std::string("none") : s) +
                 " free; guplab does not change vm.nr_hugepages, scripts/hugetlb_pool.sh does)";
        return "";
      }
      case Facility::io_uring: {
        std::string s = read_line("/proc/sys/kernel/io_uring_disabled");
        if (!s.empty() && s != "0") return "io_uring disabled (kernel.io_uring_disabled=" + s + ")";
        return "";
      }
      case Facility::gup_test_pin:
        if (::access("/sys/kernel/debug/gup_test", R_OK | W_OK))
          return "gup_test not available (/sys/kernel/debug/gup_test: needs CONFIG_GUP_TEST)";
        return "gup_test's PIN_LONGTERM_TEST is not built in guplab's host backend";
      case Facility::disk_file: {
        struct statfs fs {};
        if (::statfs("/tmp", &fs)) return "statfs(/tmp) failed";
        if (fs.f_type == TMPFS_MAGIC) return "/tmp is tmpfs, not a disk filesystem";
        return "";
      }
      case Facility::userfaultfd: {
        int fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
        if (fd < 0) return std::string("userfaultfd() failed (") + std::strerror(errno) + ")";
        ::close(fd);
        return "";
      }
      default: return "";
    }
  }

  int fork(int parent) override {
    if (parent != 0) return -ENOSYS;
    int to[2], from[2];
    if (::pipe(to)) return -errno;
    if (::pipe(from)) return -errno;
    pid_t pid = ::fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
      ::close(to[1]);
      ::close(from[0]);
      serve(to[0], from[1]);
    }
    ::close(to[0]);
    ::close(from[1]);
    kids_.push_back(Child{pid, to[1], from[0]});
    return static_cast<int>(kids_.size() - 1);
  }

  int exit(int proc) override {
    if (proc <= 0 || static_cast<size_t>(proc) >= kids_.size() || kids_[proc].pid < 0) return -EINVAL;
    Child& c = kids_[proc];
    call(proc, Req{kExit, 0, 0, 0, 0, 0}, nullptr, nullptr);
    int st = 0;
    ::waitpid(c.pid, &st, 0);
    ::close(c.wfd);
    ::close(c.rfd);
    c.pid = -1;
    return 0;
  }

  long mmap(int proc, size_t len, int prot, int flags, int file) override {
    if (proc != 0) return -ENOSYS;
    int fd = file < 0 ? -1 : files_.at(file).fd;
    void* a = ::mmap(nullptr, len, prot, flags, fd, 0);
    return a == MAP_FAILED ? -errno : static_cast<long>(reinterpret_cast<uintptr_t>(a));
  }
  int munmap(int proc, uint64_t addr, size_t len) override {
    return static_cast<int>(call(proc, Req{kMunmap, 0, addr, len, 0, 0}, nullptr, nullptr));
  }
  int mprotect(int proc, uint64_t addr, size_t len, int prot) override {
    return static_cast<int>(call(proc, Req{kMprotect, 0, addr, len, prot, 0}, nullptr, nullptr));
  }
  int madvise(int proc, uint64_t addr, size_t len, int advice) override {
    return static_cast<int>(call(proc, Req{kMadvise, 0, addr, len, advice, 0}, nullptr, nullptr));
  }
  long mremap(int proc, uint64_t addr, size_t len, uint64_t new_addr) override {
    if (proc != 0) return -ENOSYS;
    void* r = ::mremap(reinterpret_cast<void*>(addr), len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
                       reinterpret_cast<void*>(new_addr));
    return r == MAP_FAILED ? -errno : static_cast<long>(reinterpret_cast<uintptr_t>(r));
  }
  int store(int proc, uint64_t addr, const void* buf, size_t len) override {
    return static_cast<int>(call(proc, Req{kStore, 0, addr, len, 0, static_cast<uint32_t>(len)}, buf, nullptr));
  }
  int load(int proc, uint64_t addr, void* buf, size_t len) override {
    return static_cast<int>(call(proc, Req{kLoad, 0, addr, len, 0, 0}, nullptr, buf));
  }
  int populated(int proc, uint64_t addr) override {
    return static_cast<int>(call(proc, Req{kPopulated, 0, addr, 0, 0, 0}, nullptr, nullptr));
  }
  long force_write(int proc, uint64_t addr, const void* buf, size_t len) override {
    if (proc != 0) return -ENOSYS;
    int fd = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    long r = neg_errno(::pwrite(fd, buf, len, static_cast<off_t>(addr)));
    ::close(fd);
    return r;
  }

  int open_file(FileKind kind, size_t size) override {
    HostFile f;
    if (kind == FileKind::memfd) {
      f.fd = ::memfd_create("guplab-conform", MFD_CLOEXEC);
    } else if (kind == FileKind::memfd_hugetlb) {
      f.fd = ::memfd_create("guplab-conform", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
    } else {
      const char* dir = kind == FileKind::tmpfile ? "/tmp" : ".";
      f.fd = ::open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (f.fd >= 0) {
        std::string p = "/proc/self/fd/" + std::to_string(f.fd);
        f.dfd = ::open(p.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
      }
    }
    if (f.fd < 0) return -errno;
    if (::ftruncate(f.fd, static_cast<off_t>(size))) return -errno;
    if (::fallocate(f.fd, 0, 0, static_cast<off_t>(size))) return -errno;
    files_.push_back(f);
    return static_cast<int>(files_.size() - 1);
  }
  long file_pread(int file, void* buf, size_t len, uint64_t off) override {
    return neg_errno(::pread(files_.at(file).fd, buf, len, static_cast<off_t>(off)));
  }
  long file_pwrite(int file, const void* buf, size_t len, uint64_t off) override {
    long r = neg_errno(::pwrite(files_.at(file).fd, buf, len, static_cast<off_t>(off)));
    if (r >= 0) ::fsync(files_.at(file).fd);
    return r;
  }
  long dio_read(int proc, int file, uint64_t addr, size_t len, uint64_t off) override {
    if (proc != 0 || files_.at(file).dfd < 0) return -EINVAL;
    return neg_errno(::pread(files_[file].dfd, reinterpret_cast<void*>(addr), len, static_cast<off_t>(off)));
  }
  long dio_write(int proc, int file, uint64_t addr, size_t len, uint64_t off) override {
    if (proc != 0 || files_.at(file).dfd < 0) return -EINVAL;
    return neg_errno(::pwrite(files_[file].dfd, reinterpret_cast<void*>(addr), len, static_cast<off_t>(off)));
  }
  long dio_read_racing_dontneed(int proc, int file, uint64_t addr, size_t len, int rounds) override {
    if (proc != 0) return -EINVAL;
    std::atomic<bool> stop{false};
    std::thread racer([&] {
      while (!stop.load(std::memory_order_relaxed)) ::madvise(reinterpret_cast<void*>(addr), len, MADV_DONTNEED);
    });
    long ret = 0;
    for (int i = 0; i < rounds && ret >= 0; i++) {
      long r = dio_read(0, file, addr, len, 0);
      if (r < 0) ret = r;
    }
    stop.store(true);
    racer.join();
    return ret;
  }
  long dio_read_uffd(int proc, int file, uint64_t addr, size_t len) override {
    if (proc != 0) return -EINVAL;
    int uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (uffd < 0) return -errno;
    uffdio_api api{};
    api.api = UFFD_API;
    uffdio_register reg{};
    reg.range = {addr, len};
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (::ioctl(uffd, UFFDIO_API, &api) || ::ioctl(uffd, UFFDIO_REGISTER, &reg)) {
      long e = -errno;
      ::close(uffd);
      return e;
    }
    std::atomic<bool> stop{false};
    std::thread handler([&] {
      alignas(4096) static thread_local char zero[kPage];
      while (!stop.load()) {
        pollfd pfd{uffd, POLLIN, 0};
        if (::poll(&pfd, 1, 50) <= 0) continue;
        uffd_msg msg{};
        if (::read(uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) continue;
        uffdio_copy cp{};
        cp.dst = msg.arg.pagefault.address & ~(kPage - 1);
        cp.src = reinterpret_cast<uint64_t>(zero);
        cp.len = kPage;
        ::ioctl(uffd, UFFDIO_COPY, &cp);
      }
    });
    long r = dio_read(0, file, addr, len, 0);
    stop.store(true);
    handler.join();
    ::close(uffd);
    return r;
  }

  int pipe(int proc) override { return static_cast<int>(call(proc, Req{kPipe, 0, 0, 0, 0, 0}, nullptr, nullptr)); }
  long vmsplice(int proc, int pipe, uint64_t addr, size_t len) override {
    return call(proc, Req{kVmsplice, pipe, addr, len, 0, 0}, nullptr, nullptr);
  }
  long pipe_read(int proc, int pipe, void* buf, size_t len) override {
    return call(proc, Req{kPipeRead, pipe, 0, len, 0, 0}, nullptr, buf);
  }

  int fixed_buffer_register(int proc, uint64_t addr, size_t len) override {
    if (proc != 0) return -ENOSYS;
    rings_.emplace_back();
    Ring& r = rings_.back();
    int ret = io_uring_queue_init(1, &r.ring, 0);
    if (ret < 0) return ret;
    r.live = true;
    iovec iov{reinterpret_cast<void*>(addr), len};
    ret = io_uring_register_buffers(&r.ring, &iov, 1);
    if (ret < 0) return ret;
    r.addr = addr;
    r.len = len;
    return static_cast<int>(rings_.size() - 1);
  }
  long fixed_buffer_read(int handle, void* buf, size_t len) override {
    Ring& r = rings_.at(handle);
    int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
    io_uring_prep_write_fixed(sqe, fd, reinterpret_cast<void*>(r.addr), static_cast<unsigned>(len), 0, 0);
    long ret = io_uring_submit(&r.ring);
    io_uring_cqe* cqe = nullptr;
    if (ret >= 0) ret = io_uring_wait_cqe(&r.ring, &cqe);
    if (ret >= 0) {
      ret = cqe->res;
      io_uring_cqe_seen(&r.ring, cqe);
    }
    if (ret >= 0) ret = neg_errno(::pread(fd, buf, len, 0));
    ::close(fd);
    return ret;
  }
  int fixed_buffer_unregister(int handle) override {
    Ring& r = rings_.at(handle);
    if (!r.live) return -EINVAL;
    io_uring_unregister_buffers(&r.ring);
    io_uring_queue_exit(&r.ring);
    r.live = false;
    return 0;
  }
  int pin_longterm(int, uint64_t, size_t, bool, bool) override { return -ENOSYS; }
  long pin_read(int, void*, size_t) override { return -ENOSYS; }
  int unpin(int) override { return -ENOSYS; }

 private:
  long call(int proc, const Req& q, const void* in, void* out) {
    if (proc == 0) return do_local(q, in, out);
    if (proc < 0 || static_cast<size_t>(proc) >= kids_.size() || kids_[proc].pid < 0) return -ESRCH;
    Child& c = kids_[proc];
    if (!write_all(c.wfd, &q, sizeof(q)) || (q.in_len && !write_all(c.wfd, in, q.in_len))) return -EPIPE;
    Rep p{};
    if (!read_all(c.rfd, &p, sizeof(p))) return -EPIPE;
    if (p.out_len && !read_all(c.rfd, out, p.out_len)) return -EPIPE;
    return p.ret;
  }

  std::vector<Child> kids_{Child{}};  // [0]: this process
  std::vector<HostFile> files_;
  std::vector<Ring> rings_;
};

}  // namespace

std::unique_ptr<ConformSys> make_host_sys() { return std::make_unique<HostSys>(); }

std::string host_kernel_release() {
  utsname u{};
  if (::uname(&u)) return "unknown";
  return u.release;
}

}  // namespace guplab::conform
