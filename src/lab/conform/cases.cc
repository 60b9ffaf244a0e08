// cases.cc - the conformance catalogue (see cases.h). Each case is a function of a
// ConformSys; a failed step throws CaseEnd with the case's outcome, which the wrapper
// made by make_case() returns.
#include "lab/conform/cases.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <tuple>
#include <vector>

#include "base/errno.h"

namespace guplab::conform {

const char* to_string(Result r) {
  switch (r) {
    case Result::pass: return "pass";
    case Result::fail: return "fail";
    case Result::skip: return "skip";
  }
  return "?";
}

const char* to_string(Facility f) {
  switch (f) {
    case Facility::thp: return "thp";
    case Facility::huge_zeropage: return "huge_zeropage";
    case Facility::madv_collapse: return "madv_collapse";
    case Facility::mremap: return "mremap";
    case Facility::hugetlb: return "hugetlb";
    case Facility::memfd_hugetlb: return "memfd_hugetlb";
    case Facility::vmsplice: return "vmsplice";
    case Facility::io_uring: return "io_uring";
    case Facility::gup_test_pin: return "gup_test_pin";
    case Facility::memfd: return "memfd";
    case Facility::disk_file: return "disk_file";
    case Facility::odirect: return "odirect";
    case Facility::userfaultfd: return "userfaultfd";
    case Facility::force_write: return "force_write";
  }
  return "?";
}

const char* to_string(FileKind k) {
  switch (k) {
    case FileKind::memfd: return "memfd";
    case FileKind::tmpfile: return "tmpfile";
    case FileKind::local_tmpfile: return "local tmpfile";
    case FileKind::memfd_hugetlb: return "memfd hugetlb (2048 kB)";
  }
  return "?";
}

namespace {

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // <linux/mman.h>, 6.1; older libc headers lack it
#endif

constexpr size_t kPage = 4096;
constexpr size_t kThp = 2ul << 20;
constexpr const char* kCve2020 = "CVE-2020-29374 (COW reuse by mapcount; fixed by 09854ba94c6a, 5.8)";

/** CaseEnd - thrown by a step to end the case with an outcome. */
struct CaseEnd {
  Outcome out;
};

[[noreturn]] void fail(std::string why) { throw CaseEnd{{Result::fail, std::move(why)}}; }
[[noreturn]] void skip(std::string why) { throw CaseEnd{{Result::skip, std::move(why)}}; }

std::string err(long r) { return errname(static_cast<int>(r)); }

void need(ConformSys& s, Facility f) {
  std::string why = s.lacks(f);
  if (!why.empty()) skip(why);
}
long chk(long r, const char* what) {
  if (r < 0) fail(fmt::format("{} failed ({})", what, err(r)));
  return r;
}
void fill(ConformSys& s, int proc, uint64_t addr, size_t len, unsigned char v) {
  std::vector<unsigned char> b(len, v);
  chk(s.store(proc, addr, b.data(), len), "store");
}
std::vector<unsigned char> peek(ConformSys& s, int proc, uint64_t addr, size_t len) {
  std::vector<unsigned char> b(len);
  chk(s.load(proc, addr, b.data(), len), "load");
  return b;
}

// ---- anonymous memory in private mappings (cow.c) --------------------------------------

enum class Backing { base, thp, pte_thp, single_pte_thp, partial_mremap_thp, partial_shared_thp, hugetlb };

const char* backing_name(Backing b) {
  switch (b) {
    case Backing::base: return "base page";
    case Backing::thp: return "THP (2048 kB)";
    case Backing::pte_thp: return "PTE-mapped THP (2048 kB)";
    case Backing::single_pte_thp: return "single PTE of THP (2048 kB)";
    case Backing::partial_mremap_thp: return "partially mremap()'ed THP (2048 kB)";
    case Backing::partial_shared_thp: return "partially shared THP (2048 kB)";
    case Backing::hugetlb: return "hugetlb (2048 kB)";
  }
  return "?";
}

/** Mem - the memory a test function works on. */
struct Mem {
  uint64_t addr = 0;
  size_t size = 0;
  bool hugetlb = false;  // cow.c expects the vmsplice() cases to leak here (xfail)
};

/** leak() - end a vmsplice() case that leaked: a failure, or cow.c's expected failure on hugetlb. */
[[noreturn]] void leak(const Mem& m, const char* what) {
  if (m.hugetlb)
    throw CaseEnd{{Result::pass, std::string("XFAIL ") + what + " (cow.c expects it with hugetlb: 'harder to fix')"}};
  fail(std::string(what) + ": " + kCve2020);
}

/** thp_area() - a THP-aligned, MADV_HUGEPAGE'd @len range with a THP populated, filled with 1. */
uint64_t thp_area(ConformSys& s, size_t len) {
  need(s, Facility::thp);
  long raw = chk(s.mmap(0, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
  const uint64_t mem = (static_cast<uint64_t>(raw) + len) & ~(len - 1);
  // Keep exactly the aligned range (what a THP-aligned mmap would give).
  if (mem > static_cast<uint64_t>(raw)) chk(s.munmap(0, raw, mem - raw), "munmap()");
  const uint64_t end = raw + 2 * len;
  if (end > mem + len) chk(s.munmap(0, mem + len, end - (mem + len)), "munmap()");
  chk(s.madvise(0, mem, len, MADV_HUGEPAGE), "MADV_HUGEPAGE");
  fill(s, 0, mem, 1, 1);
  if (chk(s.populated(0, mem + len - kPage), "pagemap") != 1) skip("Did not get a THP populated");
  fill(s, 0, mem, len, 1);
  return mem;
}

Mem setup_backing(ConformSys& s, Backing b) {
  Mem m;
  switch (b) {
    case Backing::base: {
      m.size = kPage;
      m.addr = chk(s.mmap(0, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
      long r = s.madvise(0, m.addr, kPage, MADV_NOHUGEPAGE);
      if (r && r != -EINVAL) fail("MADV_NOHUGEPAGE failed");
      fill(s, 0, m.addr, kPage, 1);
      return m;
    }
    case Backing::hugetlb: {
      need(s, Facility::hugetlb);
      long a = s.mmap(0, kThp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
      if (a < 0) skip("need more free huge pages");
      fill(s, 0, a, kThp, 1);
      // COW or unsharing needs a second huge page.
      long dummy = s.mmap(0, kThp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
      if (dummy < 0) skip("need more free huge pages");
      chk(s.munmap(0, dummy, kThp), "munmap()");
      return {static_cast<uint64_t>(a), kThp, true};
    }
    default: break;
  }
  if (b == Backing::partial_mremap_thp) need(s, Facility::mremap);
  m.addr = thp_area(s, kThp);
  m.size = kThp;
  switch (b) {
    case Backing::pte_thp:
      chk(s.mprotect(0, m.addr + kPage, kPage, PROT_READ), "mprotect()");
      chk(s.mprotect(0, m.addr + kPage, kPage, PROT_READ | PROT_WRITE), "mprotect()");
      break;
    case Backing::single_pte_thp:
      chk(s.madvise(0, m.addr + kPage, kThp - kPage, MADV_DONTNEED), "MADV_DONTNEED");
      m.size = kPage;
      break;
    case Backing::partial_mremap_thp: {
      const size_t half = kThp / 2;
      long dst = chk(s.mmap(0, half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
      long moved = s.mremap(0, m.addr + half, half, dst);
      if (moved != dst) fail(fmt::format("mremap() failed ({})", moved < 0 ? err(moved) : "moved elsewhere"));
      m.size = half;
      break;
    }
    case Backing::partial_shared_thp: {
      chk(s.madvise(0, m.addr + kPage, kThp - kPage, MADV_DONTFORK), "MADV_DONTFORK");
      int c = static_cast<int>(chk(s.fork(0), "fork()"));
      chk(s.exit(c), "exit()");
      chk(s.madvise(0, m.addr + kPage, kThp - kPage, MADV_DOFORK), "MADV_DOFORK");
      break;
    }
    default: break;
  }
  return m;
}

using AnonFn = void (*)(ConformSys&, Mem);

// The child keeps a copy of what it sees, the parent writes, the child looks again.
void cow_in_parent(ConformSys& s, Mem m, bool do_mprotect) {
  int c = static_cast<int>(chk(s.fork(0), "fork()"));
  auto old = peek(s, c, m.addr, m.size);
  if (do_mprotect) {
    chk(s.mprotect(0, m.addr, m.size, PROT_READ), "mprotect()");
    chk(s.mprotect(0, m.addr, m.size, PROT_READ | PROT_WRITE), "mprotect()");
  }
  fill(s, 0, m.addr, m.size, 0xff);
  auto now = peek(s, c, m.addr, m.size);
  s.exit(c);
  if (now != old) fail("Leak from parent into child");
}

// The child vmsplices its view into a pipe and unmaps it; the parent writes; what the
// pipe holds must still be what the child saw.
void vmsplice_in_child(ConformSys& s, Mem m, bool do_mprotect) {
  need(s, Facility::vmsplice);
  int c = static_cast<int>(chk(s.fork(0), "fork()"));
  auto old = peek(s, c, m.addr, m.size);
  int p = static_cast<int>(chk(s.pipe(c), "pipe()"));
  long n = chk(s.vmsplice(c, p, m.addr, m.size), "vmsplice()");
  if (n == 0) fail("vmsplice() transferred nothing");
  chk(s.munmap(c, m.addr, m.size), "munmap()");
  if (do_mprotect) {
    chk(s.mprotect(0, m.addr, m.size, PROT_READ), "mprotect()");
    chk(s.mprotect(0, m.addr, m.size, PROT_READ | PROT_WRITE), "mprotect()");
  }
  fill(s, 0, m.addr, m.size, 0xff);
  std::vector<unsigned char> got(n);
  for (long total = 0; total < n;) total += chk(s.pipe_read(c, p, got.data() + total, n - total), "read()");
  s.exit(c);
  if (std::memcmp(got.data(), old.data(), n)) leak(m, "Leak from parent into child");
}

// vmsplice in the parent (before or after fork), the parent unmaps, the child writes.
void vmsplice_in_parent(ConformSys& s, Mem m, bool before_fork) {
  need(s, Facility::vmsplice);
  auto old = peek(s, 0, m.addr, m.size);
  int p = static_cast<int>(chk(s.pipe(0), "pipe()"));
  long n = 0;
  if (before_fork) n = chk(s.vmsplice(0, p, m.addr, m.size), "vmsplice()");
  int c = static_cast<int>(chk(s.fork(0), "fork()"));
  if (!before_fork) n = chk(s.vmsplice(0, p, m.addr, m.size), "vmsplice()");
  if (n == 0) fail("vmsplice() transferred nothing");
  chk(s.munmap(0, m.addr, m.size), "munmap()");
  fill(s, c, m.addr, m.size, 0xff);
  s.exit(c);
  std::vector<unsigned char> got(n);
  for (long total = 0; total < n;) total += chk(s.pipe_read(0, p, got.data() + total, n - total), "read()");
  if (std::memcmp(got.data(), old.data(), n)) leak(m, "Leak from child into parent");
}

// A R/W long-term pin (io_uring fixed buffer); then R/O-map the page again, or fork;
// then write: the pin must see the write.
void iouring(ConformSys& s, Mem m, bool use_fork) {
  need(s, Facility::io_uring);
  int h = s.fixed_buffer_register(0, m.addr, m.size);
  if (h < 0) skip(fmt::format("io_uring_register_buffers() failed ({})", err(h)));
  int c = -1;
  if (use_fork) {
    c = static_cast<int>(chk(s.fork(0), "fork()"));
  } else {
    chk(s.mprotect(0, m.addr, m.size, PROT_READ), "mprotect()");
    chk(s.mprotect(0, m.addr, m.size, PROT_READ | PROT_WRITE), "mprotect()");
  }
  fill(s, 0, m.addr, m.size, 0xff);
  std::vector<unsigned char> seen(m.size);
  long r = s.fixed_buffer_read(h, seen.data(), m.size);
  auto now = peek(s, 0, m.addr, m.size);
  if (c >= 0) s.exit(c);
  s.fixed_buffer_unregister(h);
  if (r != static_cast<long>(m.size)) fail(fmt::format("write_fixed failed ({})", r < 0 ? err(r) : "short"));
  if (seen != now) fail("Longterm R/W pin is not reliable: the pin does not see the page table's page");
}

enum class RoPin { plain, shared, previously_shared, ro_exclusive };

void ro_pin(ConformSys& s, Mem m, RoPin kind, bool fast) {
  need(s, Facility::gup_test_pin);
  int c = -1;
  if (kind == RoPin::shared || kind == RoPin::previously_shared) {
    c = static_cast<int>(chk(s.fork(0), "fork()"));
    if (kind == RoPin::previously_shared) {
      s.exit(c);
      c = -1;
    }
  } else if (kind == RoPin::ro_exclusive) {
    chk(s.mprotect(0, m.addr, m.size, PROT_READ), "mprotect()");
    chk(s.mprotect(0, m.addr, m.size, PROT_READ | PROT_WRITE), "mprotect()");
  }
  int h = s.pin_longterm(0, m.addr, m.size, false, fast);
  if (h == -EINVAL) skip("PIN_LONGTERM_TEST_START failed (EINVAL)");
  if (h < 0) fail(fmt::format("PIN_LONGTERM_TEST_START failed ({})", err(h)));
  fill(s, 0, m.addr, m.size, 0xff);
  std::vector<unsigned char> seen(m.size);
  long r = s.pin_read(h, seen.data(), m.size);
  auto now = peek(s, 0, m.addr, m.size);
  s.unpin(h);
  if (c >= 0) s.exit(c);
  if (r < 0) fail("PIN_LONGTERM_TEST_READ failed");
  if (seen != now) fail("Longterm R/O pin is not reliable");
}

struct AnonCase {
  const char* name;
  const char* shows;
  std::function<void(ConformSys&, Mem)> fn;
};

const char* kShowsForkPin = "pinned pages copied at fork (70e806e4e645 'mm: Do early cow for pinned pages during fork() for ptes', 5.9)";
const char* kShowsRoPin = "R/O pins unshare COW-shared anon pages (PageAnonExclusive, FAULT_FLAG_UNSHARE, 5.19)";

std::vector<AnonCase> anon_cases() {
  return {
      {"Basic COW after fork()", "", [](ConformSys& s, Mem m) { cow_in_parent(s, m, false); }},
      {"Basic COW after fork() with mprotect() optimization", "",
       [](ConformSys& s, Mem m) { cow_in_parent(s, m, true); }},
      {"vmsplice() + unmap in child", kCve2020, [](ConformSys& s, Mem m) { vmsplice_in_child(s, m, false); }},
      {"vmsplice() + unmap in child with mprotect() optimization", kCve2020,
       [](ConformSys& s, Mem m) { vmsplice_in_child(s, m, true); }},
      {"vmsplice() before fork(), unmap in parent after fork()", kCve2020,
       [](ConformSys& s, Mem m) { vmsplice_in_parent(s, m, true); }},
      {"vmsplice() + unmap in parent after fork()", kCve2020,
       [](ConformSys& s, Mem m) { vmsplice_in_parent(s, m, false); }},
      {"R/O-mapping a page registered as iouring fixed buffer",
       "write faults reuse exclusive anon pages (PageAnonExclusive, 5.19)",
       [](ConformSys& s, Mem m) { iouring(s, m, false); }},
      {"fork() with an iouring fixed buffer", kShowsForkPin, [](ConformSys& s, Mem m) { iouring(s, m, true); }},
      {"R/O GUP pin on R/O-mapped shared page", kShowsRoPin,
       [](ConformSys& s, Mem m) { ro_pin(s, m, RoPin::shared, false); }},
      {"R/O GUP-fast pin on R/O-mapped shared page", kShowsRoPin,
       [](ConformSys& s, Mem m) { ro_pin(s, m, RoPin::shared, true); }},
      {"R/O GUP pin on R/O-mapped previously-shared page", kShowsRoPin,
       [](ConformSys& s, Mem m) { ro_pin(s, m, RoPin::previously_shared, false); }},
      {"R/O GUP-fast pin on R/O-mapped previously-shared page", kShowsRoPin,
       [](ConformSys& s, Mem m) { ro_pin(s, m, RoPin::previously_shared, true); }},
      {"R/O GUP pin on R/O-mapped exclusive page", kShowsRoPin,
       [](ConformSys& s, Mem m) { ro_pin(s, m, RoPin::ro_exclusive, false); }},
      {"R/O GUP-fast pin on R/O-mapped exclusive page", kShowsRoPin,
       [](ConformSys& s, Mem m) { ro_pin(s, m, RoPin::ro_exclusive, true); }},
  };
}

// ---- anonymous THP collapse (cow.c) -----------------------------------------------------

enum class Collapse { unshared, fully_shared, lower_shared, upper_shared };

void thp_collapse(ConformSys& s, Collapse kind) {
  need(s, Facility::madv_collapse);
  const uint64_t mem = thp_area(s, kThp);
  const size_t size = kThp;
  chk(s.mprotect(0, mem + kPage, kPage, PROT_READ), "mprotect()");
  chk(s.mprotect(0, mem + kPage, kPage, PROT_READ | PROT_WRITE), "mprotect()");
  if (kind == Collapse::unshared) {
    long r = s.madvise(0, mem, size, MADV_COLLAPSE);
    if (r) skip(fmt::format("MADV_COLLAPSE failed: {}", err(r)));
  } else if (kind == Collapse::lower_shared) {
    chk(s.madvise(0, mem + size / 2, size / 2, MADV_DONTFORK), "MADV_DONTFORK");
  } else if (kind == Collapse::upper_shared) {
    chk(s.madvise(0, mem, size / 2, MADV_DONTFORK), "MADV_DONTFORK");
  }
  int c = static_cast<int>(chk(s.fork(0), "fork()"));
  uint64_t caddr = mem;
  size_t csize = size;
  if (kind == Collapse::lower_shared) csize = size / 2;
  if (kind == Collapse::upper_shared) caddr = mem + size / 2, csize = size / 2;
  auto old = peek(s, c, caddr, csize);
  if (kind != Collapse::unshared) {
    if (kind != Collapse::fully_shared) chk(s.madvise(0, mem, size, MADV_DOFORK), "MADV_DOFORK");
    long r = s.madvise(0, mem, size, MADV_COLLAPSE);
    if (r) {
      s.exit(c);
      skip(fmt::format("MADV_COLLAPSE failed: {}", err(r)));
    }
  }
  fill(s, 0, mem, size, 0xff);
  auto now = peek(s, c, caddr, csize);
  s.exit(c);
  if (now != old) fail("Leak from parent into child");
}

// ---- non-anonymous pages in private mappings (cow.c) ------------------------------------

enum class NonAnon { zeropage, memfd, tmpfile, huge_zeropage, memfd_hugetlb };

const char* non_anon_name(NonAnon n) {
  switch (n) {
    case NonAnon::zeropage: return "shared zeropage";
    case NonAnon::memfd: return "memfd";
    case NonAnon::tmpfile: return "tmpfile";
    case NonAnon::huge_zeropage: return "huge zeropage";
    case NonAnon::memfd_hugetlb: return "memfd hugetlb (2048 kB)";
  }
  return "?";
}

/** Two views: @mem private writable, @smem read-only (shared for files), both faulted in. */
struct TwoViews {
  uint64_t mem = 0, smem = 0;
  size_t size = 0;
};

TwoViews setup_non_anon(ConformSys& s, NonAnon n) {
  TwoViews v;
  v.size = kPage;
  switch (n) {
    case NonAnon::zeropage:
      v.mem = chk(s.mmap(0, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
      v.smem = chk(s.mmap(0, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
      break;
    case NonAnon::memfd:
    case NonAnon::tmpfile: {
      need(s, n == NonAnon::memfd ? Facility::memfd : Facility::disk_file);
      int f = static_cast<int>(chk(s.open_file(n == NonAnon::memfd ? FileKind::memfd : FileKind::tmpfile, kPage),
                                   "open()"));
      v.mem = chk(s.mmap(0, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, f), "mmap()");
      v.smem = chk(s.mmap(0, kPage, PROT_READ, MAP_SHARED, f), "mmap()");
      break;
    }
    case NonAnon::huge_zeropage: {
      need(s, Facility::huge_zeropage);
      v.size = kThp;
      // Two THP-aligned ranges, read-faulted: each should get the huge zero page.
      for (uint64_t* out : {&v.mem, &v.smem}) {
        long raw = chk(s.mmap(0, 2 * kThp, out == &v.mem ? PROT_READ | PROT_WRITE : PROT_READ,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
        *out = (static_cast<uint64_t>(raw) + kThp) & ~(kThp - 1);
        chk(s.madvise(0, *out, kThp, MADV_HUGEPAGE), "MADV_HUGEPAGE");
      }
      peek(s, 0, v.mem, 1);
      peek(s, 0, v.smem, 1);
      if (s.populated(0, v.mem + kPage) != 1 || s.populated(0, v.smem + kPage) != 1)
        skip("Did not get THPs populated");
      return v;
    }
    case NonAnon::memfd_hugetlb: {
      // As cow.c: a file of one huge page, a private and a shared mapping of it; too few
      // free huge pages for the file or the private mapping's reserve is a skip.
      need(s, Facility::memfd_hugetlb);
      v.size = kThp;
      int f = s.open_file(FileKind::memfd_hugetlb, kThp);
      if (f == -ENOSPC || f == -ENOMEM) skip("need more free huge pages");
      chk(f, "memfd_create()");
      long mem = s.mmap(0, kThp, PROT_READ | PROT_WRITE, MAP_PRIVATE, f);
      if (mem < 0) skip("need more free huge pages");
      v.mem = static_cast<uint64_t>(mem);
      v.smem = chk(s.mmap(0, kThp, PROT_READ, MAP_SHARED, f), "mmap()");
      break;
    }
  }
  peek(s, 0, v.mem, 1);
  peek(s, 0, v.smem, 1);
  return v;
}

// Write the private view: the other view must not change.
void non_anon_cow(ConformSys& s, TwoViews v) {
  auto old = peek(s, 0, v.smem, v.size);
  fill(s, 0, v.mem, v.size, 0xff);
  if (peek(s, 0, v.smem, v.size) != old) fail("Other mapping modified");
}

void non_anon_ro_pin(ConformSys& s, TwoViews v, bool fast) { ro_pin(s, Mem{v.mem, v.size}, RoPin::plain, fast); }

// ---- long-term pins of file mappings (gup_longterm.c) -----------------------------------

enum class LtType { ro, ro_fast, rw, rw_fast, iouring };

/**
 * longterm() - map @kind's file shared or private, fault it in, pin it long-term:
 * R/O pins and pins of private mappings must work; R/W pins of shared mappings only on
 * tmpfs/hugetlbfs (a disk filesystem needs dirty tracking: upstream refuses, 6.5). A
 * hugetlb file is one huge page; too few free huge pages for it (or for a private
 * mapping's reserve) is a skip, as in gup_longterm.c.
 */
void longterm(ConformSys& s, FileKind kind, LtType type, bool shared) {
  const bool hugetlb = kind == FileKind::memfd_hugetlb;
  need(s, kind == FileKind::memfd ? Facility::memfd : hugetlb ? Facility::memfd_hugetlb : Facility::disk_file);
  if (type == LtType::iouring) need(s, Facility::io_uring);
  else need(s, Facility::gup_test_pin);
  const size_t size = hugetlb ? kThp : kPage;
  int f = s.open_file(kind, size);
  if (hugetlb && (f == -ENOSPC || f == -ENOMEM)) skip("need more free huge pages");
  chk(f, "open()");
  long mem = s.mmap(0, size, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, f);
  if (hugetlb && !shared && mem < 0) skip("need more free huge pages");
  chk(mem, "mmap()");
  fill(s, 0, mem, size, 0);
  const bool rw = type == LtType::rw || type == LtType::rw_fast || type == LtType::iouring;
  const bool should_work = !shared || !rw || kind == FileKind::memfd || hugetlb;
  if (type == LtType::iouring) {
    int h = s.fixed_buffer_register(0, mem, size);
    if (h == -ENOSPC || h == -EOPNOTSUPP || h == -EFAULT) {
      if (should_work) fail(fmt::format("Should have worked ({})", err(h)));
      return;
    }
    if (h < 0) skip(fmt::format("io_uring_register_buffers() failed ({})", err(h)));
    s.fixed_buffer_unregister(h);
    if (!should_work) fail("Should have failed");
    return;
  }
  if (type == LtType::ro || type == LtType::ro_fast) chk(s.mprotect(0, mem, size, PROT_READ), "mprotect()");
  int h = s.pin_longterm(0, mem, size, rw, type == LtType::ro_fast || type == LtType::rw_fast);
  if (h == -EINVAL) skip("PIN_LONGTERM_TEST_START failed (EINVAL)");
  if (h == -EFAULT) {
    if (should_work) fail("Should have worked");
    return;
  }
  if (h < 0) fail(fmt::format("PIN_LONGTERM_TEST_START failed ({})", err(h)));
  s.unpin(h);
  if (!should_work) fail("Should have failed");
}

// ---- O_DIRECT ------------------------------------------------------------------------

constexpr size_t kDioLen = 4 * kPage;

int dio_file(ConformSys& s, unsigned char v) {
  need(s, Facility::disk_file);
  need(s, Facility::odirect);
  int f = static_cast<int>(chk(s.open_file(FileKind::tmpfile, kDioLen), "open()"));
  std::vector<unsigned char> b(kDioLen, v);
  if (chk(s.file_pwrite(f, b.data(), kDioLen, 0), "pwrite()") != static_cast<long>(kDioLen)) fail("short pwrite()");
  return f;
}

uint64_t anon_buffer(ConformSys& s, size_t len, unsigned char v) {
  long a = chk(s.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
  s.madvise(0, a, len, MADV_NOHUGEPAGE);
  fill(s, 0, a, len, v);
  return a;
}

// An O_DIRECT read into memory COW-shared with a child lands in the parent only.
void dio_read_cow(ConformSys& s) {
  int f = dio_file(s, 0x5a);
  uint64_t mem = anon_buffer(s, kDioLen, 1);
  int c = static_cast<int>(chk(s.fork(0), "fork()"));
  long r = chk(s.dio_read(0, f, mem, kDioLen, 0), "O_DIRECT read");
  auto parent = peek(s, 0, mem, kDioLen);
  auto child = peek(s, c, mem, kDioLen);
  s.exit(c);
  if (r != static_cast<long>(kDioLen)) fail("short O_DIRECT read");
  if (parent != std::vector<unsigned char>(kDioLen, 0x5a)) fail("the parent does not see what it read");
  if (child != std::vector<unsigned char>(kDioLen, 1)) fail("Leak from parent into child: the read reached the child");
}

// An O_DIRECT write from memory COW-shared with a child writes the parent's bytes,
// after the child changed its copy.
void dio_write_cow(ConformSys& s) {
  int f = dio_file(s, 0);
  uint64_t mem = anon_buffer(s, kDioLen, 1);
  int c = static_cast<int>(chk(s.fork(0), "fork()"));
  fill(s, c, mem, kDioLen, 0x77);
  long r = chk(s.dio_write(0, f, mem, kDioLen, 0), "O_DIRECT write");
  s.exit(c);
  std::vector<unsigned char> disk(kDioLen);
  chk(s.file_pread(f, disk.data(), kDioLen, 0), "pread()");
  if (r != static_cast<long>(kDioLen)) fail("short O_DIRECT write");
  if (disk != std::vector<unsigned char>(kDioLen, 1)) fail("the file does not hold the writer's bytes");
}

// O_DIRECT reads racing MADV_DONTNEED of their buffer: every read succeeds, and each
// page afterwards holds the file's bytes or zeroes (a zapped page), nothing else.
void dio_dontneed(ConformSys& s) {
  int f = dio_file(s, 0x5a);
  uint64_t mem = anon_buffer(s, kDioLen, 1);
  long r = s.dio_read_racing_dontneed(0, f, mem, kDioLen, 200);
  if (r < 0) fail(fmt::format("O_DIRECT read failed ({})", err(r)));
  auto now = peek(s, 0, mem, kDioLen);
  for (size_t pg = 0; pg < kDioLen; pg += kPage) {
    const unsigned char first = now[pg];
    if (first != 0 && first != 0x5a) fail(fmt::format("page {} holds {:#x}", pg / kPage, first));
    for (size_t i = 1; i < kPage; i++)
      if (now[pg + i] != first) fail(fmt::format("page {} is torn", pg / kPage));
  }
}

// O_DIRECT into memory registered with userfaultfd: GUP waits for the handler (seed 001).
void dio_uffd(ConformSys& s) {
  need(s, Facility::userfaultfd);
  int f = dio_file(s, 0x5a);
  long mem = chk(s.mmap(0, kDioLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1), "mmap()");
  s.madvise(0, mem, kDioLen, MADV_NOHUGEPAGE);
  long r = s.dio_read_uffd(0, f, mem, kDioLen);
  if (r < 0) fail(fmt::format("O_DIRECT read failed ({})", err(r)));
  if (r != static_cast<long>(kDioLen)) fail("short O_DIRECT read");
  if (peek(s, 0, mem, kDioLen) != std::vector<unsigned char>(kDioLen, 0x5a)) fail("the read did not land");
}

// ---- Dirty COW ------------------------------------------------------------------------

// CVE-2016-5195: a FOLL_FORCE write to a read-only private file mapping goes to a COW
// copy, never to the page cache (and so never to the file).
void dirty_cow(ConformSys& s, bool dontneed) {
  need(s, Facility::disk_file);
  need(s, Facility::force_write);
  int f = static_cast<int>(chk(s.open_file(FileKind::tmpfile, kPage), "open()"));
  std::vector<unsigned char> a(kPage, 'A');
  chk(s.file_pwrite(f, a.data(), kPage, 0), "pwrite()");
  long mem = chk(s.mmap(0, kPage, PROT_READ, MAP_PRIVATE, f), "mmap()");
  if (peek(s, 0, mem, kPage) != a) fail("the mapping does not show the file");
  std::vector<unsigned char> b(kPage, 'B');
  long w = s.force_write(0, mem, b.data(), kPage);
  if (w < 0) fail(fmt::format("FOLL_FORCE write failed ({})", err(w)));
  std::vector<unsigned char> view = peek(s, 0, mem, kPage);
  if (dontneed) {
    chk(s.madvise(0, mem, kPage, MADV_DONTNEED), "MADV_DONTNEED");
    if (peek(s, 0, mem, kPage) != a) fail("after MADV_DONTNEED the mapping does not show the file");
  }
  std::vector<unsigned char> file(kPage);
  chk(s.file_pread(f, file.data(), kPage, 0), "pread()");
  if (file != a) fail("the FOLL_FORCE write reached the file (CVE-2016-5195)");
  if (view != b) fail("the FOLL_FORCE write is not visible in the private mapping");
}

// ---- the catalogue --------------------------------------------------------------------

Case make_case(std::string name, std::string source, std::string shows, std::function<void(ConformSys&)> fn) {
  return Case{std::move(name), std::move(source), std::move(shows), [fn = std::move(fn)](ConformSys& s) {
                try {
                  fn(s);
                  return Outcome{};
                } catch (const CaseEnd& e) {
                  return e.out;
                }
              }};
}

std::vector<Case> build() {
  std::vector<Case> out;
  for (const AnonCase& ac : anon_cases())
    for (Backing b : {Backing::base, Backing::thp, Backing::pte_thp, Backing::single_pte_thp,
                      Backing::partial_mremap_thp, Backing::partial_shared_thp, Backing::hugetlb})
      out.push_back(make_case(fmt::format("{} ... with {}", ac.name, backing_name(b)), "cow.c", ac.shows,
                              [fn = ac.fn, b](ConformSys& s) { fn(s, setup_backing(s, b)); }));
  const std::pair<const char*, Collapse> collapse[] = {
      {"Basic COW after fork() when collapsing before fork()", Collapse::unshared},
      {"Basic COW after fork() when collapsing after fork() (fully shared)", Collapse::fully_shared},
      {"Basic COW after fork() when collapsing after fork() (lower shared)", Collapse::lower_shared},
      {"Basic COW after fork() when collapsing after fork() (upper shared)", Collapse::upper_shared}};
  for (const auto& entry : collapse) {
    const Collapse kind = entry.second;
    out.push_back(make_case(entry.first, "cow.c", "", [kind](ConformSys& s) { thp_collapse(s, kind); }));
  }
  for (NonAnon n : {NonAnon::zeropage, NonAnon::memfd, NonAnon::tmpfile, NonAnon::huge_zeropage, NonAnon::memfd_hugetlb}) {
    out.push_back(make_case(fmt::format("Basic COW ... with {}", non_anon_name(n)), "cow.c", "",
                            [n](ConformSys& s) { non_anon_cow(s, setup_non_anon(s, n)); }));
    out.push_back(make_case(fmt::format("R/O longterm GUP pin ... with {}", non_anon_name(n)), "cow.c", kShowsRoPin,
                            [n](ConformSys& s) { non_anon_ro_pin(s, setup_non_anon(s, n), false); }));
    out.push_back(make_case(fmt::format("R/O longterm GUP-fast pin ... with {}", non_anon_name(n)), "cow.c",
                            kShowsRoPin, [n](ConformSys& s) { non_anon_ro_pin(s, setup_non_anon(s, n), true); }));
  }
  const char* kShowsFilePin = "long-term R/W pins of disk-file pages refused (6.5, 'mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings')";
  const std::tuple<const char*, LtType, bool> lt[] = {
      {"R/W longterm GUP pin in MAP_SHARED file mapping", LtType::rw, true},
      {"R/W longterm GUP-fast pin in MAP_SHARED file mapping", LtType::rw_fast, true},
      {"R/O longterm GUP pin in MAP_SHARED file mapping", LtType::ro, true},
      {"R/O longterm GUP-fast pin in MAP_SHARED file mapping", LtType::ro_fast, true},
      {"R/W longterm GUP pin in MAP_PRIVATE file mapping", LtType::rw, false},
      {"R/W longterm GUP-fast pin in MAP_PRIVATE file mapping", LtType::rw_fast, false},
      {"R/O longterm GUP pin in MAP_PRIVATE file mapping", LtType::ro, false},
      {"R/O longterm GUP-fast pin in MAP_PRIVATE file mapping", LtType::ro_fast, false},
      {"io_uring fixed buffer with MAP_SHARED file mapping", LtType::iouring, true},
      {"io_uring fixed buffer with MAP_PRIVATE file mapping", LtType::iouring, false}};
  for (const auto& entry : lt) {
    const char* name = std::get<0>(entry);
    const LtType type = std::get<1>(entry);
    const bool shared = std::get<2>(entry);
    for (FileKind k : {FileKind::memfd, FileKind::tmpfile, FileKind::local_tmpfile, FileKind::memfd_hugetlb})
      out.push_back(make_case(fmt::format("{} ... with {}", name, to_string(k)), "gup_longterm.c",
                              shared && k != FileKind::memfd_hugetlb ? kShowsFilePin : "",
                              [k, type, shared](ConformSys& s) { longterm(s, k, type, shared); }));
  }
  out.push_back(make_case("O_DIRECT read into memory COW-shared by fork()", "guplab", "", dio_read_cow));
  out.push_back(make_case("O_DIRECT write from memory COW-shared by fork()", "guplab", "", dio_write_cow));
  out.push_back(make_case("O_DIRECT read racing MADV_DONTNEED", "guplab", "", dio_dontneed));
  out.push_back(make_case("O_DIRECT read into userfaultfd memory", "guplab",
                          "GUP waits for the userfaultfd handler (seed 001, FAULT_FLAG_ALLOW_RETRY)", dio_uffd));
  out.push_back(make_case("Dirty COW: FOLL_FORCE write to a R/O private file mapping", "guplab",
                          "CVE-2016-5195 (19be0eaffa3a 'mm: remove gup_flags FOLL_WRITE games from __get_user_pages()', 4.9)",
                          [](ConformSys& s) { dirty_cow(s, false); }));
  out.push_back(make_case("Dirty COW: FOLL_FORCE write, then MADV_DONTNEED", "guplab",
                          "CVE-2016-5195 (19be0eaffa3a 'mm: remove gup_flags FOLL_WRITE games from __get_user_pages()', 4.9)",
                          [](ConformSys& s) { dirty_cow(s, true); }));
  return out;
}

}  // namespace

const std::vector<Case>& catalogue() {
  static const std::vector<Case> kCases = build();
  return kCases;
}

}  // namespace guplab::conform
