// sys.h - the small system interface the conformance cases (lab/conform/cases.h) are
// written against, once, and run on two sides: the host kernel (host_sys.h: real
// syscalls in a forked child) and the model (model_sys.h: a Machine of a chosen design).
//
// A case drives processes, numbered from 0 (the case's own process); fork() makes a
// COW copy of one. Memory is named by user addresses of a process; files, pipes and pins
// by small handles the side hands out. Calls return what the syscall would: >= 0, or a
// negative errno. lacks() says whether the side has a facility and, if not, why: a case
// that needs it is skipped on that side with that reason (kselftest's SKIP).
//
// Threading: one case runs on one host thread; a ConformSys is used by that thread only
// (the model side may start model tasks of its own inside one call and joins them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace guplab::conform {

/** Facility - what a case may need beyond mmap/fork/load/store. */
enum class Facility {
  thp,              // PMD-sized transparent huge pages on MADV_HUGEPAGE ranges
  huge_zeropage,    // a read fault on a THP range maps the huge zero page
  madv_collapse,    // MADV_COLLAPSE
  mremap,           // mremap(MREMAP_MAYMOVE | MREMAP_FIXED)
  hugetlb,          // MAP_HUGETLB with 2 MiB pages in the pool
  memfd_hugetlb,    // memfd_create(MFD_HUGETLB)
  vmsplice,         // vmsplice() of user memory into a pipe (FOLL_GET references)
  io_uring,         // io_uring fixed buffers (FOLL_WRITE | FOLL_PIN | FOLL_LONGTERM)
  gup_test_pin,     // R/O and R/W long-term pins on demand (/sys/kernel/debug/gup_test)
  memfd,            // memfd_create(): a shmem file
  disk_file,        // a file on a disk filesystem (ext4)
  odirect,          // O_DIRECT reads and writes of such a file
  userfaultfd,      // userfaultfd(2) MISSING mode with a handler
  force_write,      // FOLL_FORCE writes (/proc/self/mem, ptrace)
};
const char* to_string(Facility f);

/** FileKind - what open_file() makes. */
enum class FileKind {
  memfd,          // memfd_create() (tmpfs)
  tmpfile,        // tmpfile(): an unlinked file on the disk filesystem of /tmp
  local_tmpfile,  // an unlinked file in the working directory's filesystem
  memfd_hugetlb,  // memfd_create(MFD_HUGETLB | MFD_HUGE_2MB): hugetlbfs; size a multiple of 2 MiB
};
const char* to_string(FileKind k);

class ConformSys {
 public:
  virtual ~ConformSys() = default;
  /** side() - "host", or the model's design name. */
  virtual std::string side() const = 0;
  /** lacks() - "" if the side has @f, else why not (the SKIP reason). */
  virtual std::string lacks(Facility f) = 0;

  // ---- processes and memory --------------------------------------------------------
  /** fork() - a COW copy of process @parent. Returns the child's number or -errno. */
  virtual int fork(int parent) = 0;
  /** exit() - process @proc exits; its address space goes (its pipes stay readable by the case). */
  virtual int exit(int proc) = 0;
  /** mmap() - anonymous (@file < 0) or of file handle @file at offset 0. Address or -errno. */
  virtual long mmap(int proc, size_t len, int prot, int flags, int file) = 0;
  virtual int munmap(int proc, uint64_t addr, size_t len) = 0;
  virtual int mprotect(int proc, uint64_t addr, size_t len, int prot) = 0;
  virtual int madvise(int proc, uint64_t addr, size_t len, int advice) = 0;
  /** mremap() - move [@addr, +@len) to @new_addr (MREMAP_MAYMOVE | MREMAP_FIXED). */
  virtual long mremap(int proc, uint64_t addr, size_t len, uint64_t new_addr) = 0;
  /** store() / load() - user accesses through the mapping (memset/memcpy). 0 or -EFAULT. */
  virtual int store(int proc, uint64_t addr, const void* buf, size_t len) = 0;
  virtual int load(int proc, uint64_t addr, void* buf, size_t len) = 0;
  /** populated() - 1 if a page is mapped at @addr (pagemap's present bit), 0 if not. */
  virtual int populated(int proc, uint64_t addr) = 0;
  /** force_write() - a FOLL_FORCE write (/proc/self/mem). Bytes written or -errno. */
  virtual long force_write(int proc, uint64_t addr, const void* buf, size_t len) = 0;

  // ---- files -----------------------------------------------------------------------
  /**
   * open_file() - a new file of @kind, @size bytes (zeroes), its blocks allocated
   * (fallocate()). Handle or -errno: -ENOSPC when a hugetlb file finds too few free
   * huge pages.
   */
  virtual int open_file(FileKind kind, size_t size) = 0;
  virtual long file_pread(int file, void* buf, size_t len, uint64_t off) = 0;
  virtual long file_pwrite(int file, const void* buf, size_t len, uint64_t off) = 0;
  /** dio_read() / dio_write() - O_DIRECT between @file and user memory of @proc. */
  virtual long dio_read(int proc, int file, uint64_t addr, size_t len, uint64_t off) = 0;
  virtual long dio_write(int proc, int file, uint64_t addr, size_t len, uint64_t off) = 0;
  /**
   * dio_read_racing_dontneed() - @rounds O_DIRECT reads of @len bytes into @addr while
   * another thread of @proc zaps the range with MADV_DONTNEED over and over. Returns 0
   * or the first error of a read.
   */
  virtual long dio_read_racing_dontneed(int proc, int file, uint64_t addr, size_t len, int rounds) = 0;
  /**
   * dio_read_uffd() - register [@addr, +@len) (fresh, never touched) with a userfaultfd
   * in MISSING mode, resolve its faults from a handler thread with UFFDIO_COPY of zeroes,
   * and O_DIRECT-read @len bytes of @file into it. Bytes read or -errno.
   */
  virtual long dio_read_uffd(int proc, int file, uint64_t addr, size_t len) = 0;

  // ---- pipes (vmsplice) ------------------------------------------------------------
  /** pipe() - a pipe of @proc (inherited by later forks). Handle or -errno. */
  virtual int pipe(int proc) = 0;
  /** vmsplice() - splice user memory into the pipe (references, not copies). Bytes or -errno. */
  virtual long vmsplice(int proc, int pipe, uint64_t addr, size_t len) = 0;
  /** pipe_read() - read up to @len bytes from the pipe. Bytes or -errno. */
  virtual long pipe_read(int proc, int pipe, void* buf, size_t len) = 0;

  // ---- long-term pins --------------------------------------------------------------
  /** fixed_buffer_register() - io_uring_register_buffers(): a R/W long-term pin. Handle or -errno. */
  virtual int fixed_buffer_register(int proc, uint64_t addr, size_t len) = 0;
  /** fixed_buffer_read() - the buffer's bytes as the device sees them (write_fixed to a file, read back). */
  virtual long fixed_buffer_read(int handle, void* buf, size_t len) = 0;
  virtual int fixed_buffer_unregister(int handle) = 0;
  /** pin_longterm() - gup_test's PIN_LONGTERM_TEST_START (R/O unless @write; GUP-fast if @fast). */
  virtual int pin_longterm(int proc, uint64_t addr, size_t len, bool write, bool fast) = 0;
  /** pin_read() - PIN_LONGTERM_TEST_READ: the pinned pages' bytes. */
  virtual long pin_read(int handle, void* buf, size_t len) = 0;
  virtual int unpin(int handle) = 0;
};

}  // namespace guplab::conform
