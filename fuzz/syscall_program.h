// syscall_program.h - the syscall-sequence fuzzer's interpreter: bytes decoded into a run of
// mmap (anonymous and ext4 file, private and shared), munmap, mprotect, madvise, fork, exit,
// every GUP and pin flavour and its release, reads and writes through the mappings, O_DIRECT
// to a ramdisk, pwrite, ftruncate, fsync, sync (writeback) and reclaim, on a small Machine
// under a tracking pin design (folio_pincount) and a safe writeback policy (skip).
// After every step: each page the program holds pinned is page_maybe_dma_pinned() (no false
// negative). At the end, everything is released and torn down, and then: nr_foll_pin_acquired
// == nr_foll_pin_released, every frame is free again, no oops and no WARN.
// run_syscall_program() returns "" when all of that held, else what did not.
// Used by fuzz/syscall_fuzz.cc (libFuzzer) and by tests/lab/fuzz_corpus_test.cc, which
// replays every input kept in fuzz/corpus/syscall/ (the seeds and every crash found).
// With ProgramStats::log set, each step is logged; FUZZ_VERBOSE=1 in the environment also
// prints it as it goes (to find where a program hangs).
// Threading: one program at a time per calling thread (it boots its own Machine).
#pragma once
#include <fcntl.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/errno.h"
#include "base/rcu.h"
#include "base/task.h"
#include "block/genhd.h"
#include "fs/direct-io.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/super.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/madvise.h"
#include "mm/mmap.h"
#include "mm/mm_struct.h"
#include "mm/mprotect.h"
#include "mm/page_alloc.h"
#include "mm/pin.h"
#include "mm/swap.h"
#include "mm/uaccess.h"
#include "mm/vmscan.h"

namespace guplab::fuzz {

/** The bytes of one program, read from the front; past the end every read is 0. */
class ByteReader {
 public:
  ByteReader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool done() const { return i_ >= n_; }
  uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  unsigned pick(unsigned n) { return u8() % n; }

 private:
  const uint8_t* d_;
  size_t n_, i_ = 0;
};

inline constexpr unsigned long kWindow = 0x40000000ul;  // the mappings' address window
inline constexpr unsigned kWindowPages = 1024;           // 4 MiB: room for two THPs
inline constexpr size_t kMaxSteps = 256;

/**
 * Finding F1 of the first fuzzing run (issue 15): pin_user_pages_fast(FOLL_LONGTERM) of a
 * MAP_PRIVATE ext4 file mapping never returns (GUP's slow path spins; see
 * fuzz/findings/README.md and the DISABLED_ test in tests/lab/fuzz_corpus_test.cc). While it
 * is open, programs drop FOLL_LONGTERM on file-backed vmas so the fuzzer can go on past it;
 * set this to false to look for it again.
 */
inline constexpr bool kAvoidFindingF1 = false;

/** file_backed() - is the vma at @addr of @mm file-backed? */
inline bool file_backed(mm_struct* mm, unsigned long addr) {
  mmap_read_lock(mm);
  vm_area_struct* vma = vma_lookup(mm, addr);
  const bool file = vma && vma->vm_file;
  mmap_read_unlock(mm);
  return file;
}

/** gup_remote() - [pin|get]_user_pages_remote() as a caller must: mmap_lock held for read on
 *  entry; with @use_locked, the *locked protocol (the call may drop it). */
inline long gup_remote(mm_struct* mm, bool pin, bool use_locked, unsigned long addr, unsigned long nr, foll_flags f,
                       page** pages) NO_THREAD_SAFETY_ANALYSIS {
  int locked = 1;
  mmap_read_lock(mm);
  const long r = pin ? pin_user_pages_remote(mm, addr, nr, f, pages, use_locked ? &locked : nullptr)
                     : get_user_pages_remote(mm, addr, nr, f, pages, use_locked ? &locked : nullptr);
  if (locked) mmap_read_unlock(mm);
  return r;
}

/** pin_locked() - pin_user_pages() as its caller must: under mmap_lock for read. */
inline long pin_locked(mm_struct* mm, unsigned long addr, unsigned long nr, foll_flags f, page** pages) {
  mmap_read_lock(mm);
  const long r = pin_user_pages(addr, nr, f, pages);
  mmap_read_unlock(mm);
  return r;
}

/** What programs did (summed over runs): so a test can tell it reached the paths it checks. */
struct ProgramStats {
  uint64_t steps = 0, pins = 0, forks = 0;
  std::string* log = nullptr;  // optional: each step's operation, one per line
};

/** run_syscall_program() - run the program @data/@n; "" if every check held. @stats: optional,
 *  added to. @avoid_f1: keep clear of finding F1 (kAvoidFindingF1); false replays it. */
inline std::string run_syscall_program(const uint8_t* data, size_t n, ProgramStats* stats = nullptr,
                                       bool avoid_f1 = true) {
  ByteReader in(data, n);
  std::string problem;
  const auto fail = [&](const std::string& what) {
    if (problem.empty()) problem = what;
  };
  MachineConfig mc;
  mc.ram_bytes = 64ull << 20;
  mc.pin_design = PinDesign::folio_pincount;
  mc.wb_policy = WritebackPolicy::skip;
  mc.trace = false;
  auto m = std::make_unique<Machine>(mc);
  try {
    TaskScope scope(m->task_init("fuzz"));
    task_struct* t = scope.task();
    mm_struct* mms[2] = {mm_alloc(m.get()), nullptr};
    unsigned cur = 0;
    t->mm = mms[0];
    t->files = files_alloc();
    const unsigned long boot_free = m->boot_free_pages();
    if (ext4_mkfs(m.get(), "ram0,size=8M") != 0) return "mkfs failed";
    std::string err;
    if (m->mounts().mount("ram0,size=8M", "/mnt", "ext4", "", &err) != 0) return "mount failed: " + err;
    const int fd = ksys_open("/mnt/f", O_RDWR | O_CREAT, 0644);
    if (fd < 0) return "open failed";
    ksys_ftruncate(fd, 64 << 10);
    block_device* raw = blkdev_get_by_path(m.get(), "ram1,size=1M");
    if (IS_ERR(raw)) return "no ram1";
    dio_file raw_file = blkdev_dio_file(raw);

    std::vector<page*> pins, refs;
    std::vector<char> buf(64 << 10);
    for (size_t step = 0; step < kMaxSteps && !in.done() && problem.empty(); step++) {
      t->mm = mms[cur];
      mm_struct* mm = mms[cur];
      const unsigned op = in.pick(20);
      if (stats) stats->steps++;
      const unsigned long addr = kWindow + (in.pick(kWindowPages) << PAGE_SHIFT) + (in.pick(8) == 0 ? in.pick(64) * 64 : 0);
      const unsigned npages = 1 + in.pick(16);
      const unsigned long len = static_cast<unsigned long>(npages) << PAGE_SHIFT;
      const int prot = static_cast<int>(in.pick(4) == 0 ? in.pick(8) : PROT_READ | PROT_WRITE);
      if (stats && stats->log)
        *stats->log += "op " + std::to_string(op) + " mm " + std::to_string(cur) + " page " +
                       std::to_string((addr - kWindow) >> PAGE_SHIFT) + " n " + std::to_string(npages) + " prot " +
                       std::to_string(prot) + "\n";
      if (stats && stats->log && std::getenv("FUZZ_VERBOSE")) std::fprintf(stderr, "%s", stats->log->c_str()), stats->log->clear();
      switch (op) {
        case 0: case 1: {  // mmap anonymous
          const bool big = in.pick(4) == 0;
          const int flags = (in.pick(3) == 0 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED |
                            (in.pick(4) == 0 ? MAP_POPULATE : 0);
          vm_mmap(mm, big ? kWindow + (in.pick(2) << 21) : addr & PAGE_MASK, big ? 2ul << 20 : len, prot, flags, nullptr, 0);
          break;
        }
        case 2: {  // mmap the ext4 file
          const int flags = (in.pick(2) ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
          if (stats && stats->log) *stats->log += std::string("  file ") + (flags & MAP_SHARED ? "shared" : "private") + "\n";
          ksys_mmap_pgoff(addr & PAGE_MASK, len, prot, flags, fd, in.pick(16));
          break;
        }
        case 3: vm_munmap(mm, addr & PAGE_MASK, len); break;
        case 4: do_mprotect(mm, addr & PAGE_MASK, len, prot); break;
        case 5: {
          static constexpr int kAdvice[] = {MADV_DONTNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTFORK,
                                            MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK};
          do_madvise(mm, addr & PAGE_MASK, len, kAdvice[in.pick(7)]);
          break;
        }
        case 6:  // fork
          if (!mms[1]) mms[1] = dup_mm(mms[0]);
          if (stats && mms[1]) stats->forks++;
          break;
        case 7:  // the child exits
          if (mms[1]) {
            t->mm = mms[0];
            mmput(mms[1]);
            mms[1] = nullptr;
            cur = 0;
          }
          break;
        case 8: cur = mms[1] ? 1 - cur : 0; break;
        case 9: case 10: case 11: {  // GUP or pin, of every flavour
          foll_flags f = FOLL_NONE;
          if (in.pick(2)) f = f | FOLL_WRITE;
          if (in.pick(4) == 0) f = f | FOLL_FORCE;
          const unsigned flavour = in.pick(10);
          const bool pin = flavour < 6;
          if (pin && in.pick(3) == 0 && !(kAvoidFindingF1 && avoid_f1 && file_backed(mm, addr))) f = f | FOLL_LONGTERM;
          const unsigned nr = 1 + in.pick(8);
          if (stats && stats->log) *stats->log += "  gup flavour " + std::to_string(flavour) + " flags " + std::to_string(static_cast<unsigned>(f)) + " nr " + std::to_string(nr) + "\n";
          if (stats && stats->log && std::getenv("FUZZ_VERBOSE")) std::fprintf(stderr, "%s", stats->log->c_str()), stats->log->clear();
          page* got[8] = {};
          long r = 0;
          switch (flavour) {
            case 0: r = pin_user_pages_fast(addr, static_cast<int>(nr), f, got); break;
            case 1: r = pin_user_pages_fast_only(addr, static_cast<int>(nr), f, got); break;
            case 2: r = pin_locked(mm, addr, nr, f, got); break;
            case 3: r = pin_user_pages_unlocked(addr, nr, got, f); break;
            case 4: r = gup_remote(mm, true, false, addr, nr, f, got); break;
            case 5: r = gup_remote(mm, true, true, addr, nr, f, got); break;
            case 6: r = get_user_pages_fast(addr, static_cast<int>(nr), f, got); break;
            case 7: r = get_user_pages_fast_only(addr, static_cast<int>(nr), f, got); break;
            case 8: r = get_user_pages_unlocked(addr, nr, got, f); break;
            default: r = gup_remote(mm, false, in.pick(2), addr, nr, f, got); break;
          }
          if (r > static_cast<long>(nr)) fail("GUP returned more pages than asked for");
          for (long i = 0; i < r && i < static_cast<long>(nr); i++) (pin ? pins : refs).push_back(got[i]);
          if (stats && pin && r > 0) stats->pins += static_cast<uint64_t>(r);
          break;
        }
        case 12: {  // release one pin or reference, of every flavour
          const bool pin = !pins.empty() && (refs.empty() || in.pick(2));
          std::vector<page*>& v = pin ? pins : refs;
          if (v.empty()) break;
          const size_t k = in.pick(static_cast<unsigned>(v.size()));
          page* p = v[k];
          v.erase(v.begin() + static_cast<long>(k));
          if (!pin) {
            put_page(p);
            break;
          }
          switch (in.pick(4)) {
            case 0: unpin_user_page(p); break;
            case 1: unpin_user_pages(&p, 1); break;
            case 2: unpin_user_pages_dirty_lock(&p, 1, in.pick(2)); break;
            default: unpin_user_page_range_dirty_lock(p, 1, in.pick(2)); break;
          }
          break;
        }
        case 13: {  // write through the mapping
          const uint64_t v = in.u8() * 0x0101010101010101ull;
          uaccess_write(mm, addr, &v, sizeof(v));
          break;
        }
        case 14: {
          uint64_t v = 0;
          uaccess_read(mm, addr, &v, sizeof(v));
          break;
        }
        case 15: {  // O_DIRECT from or into the mapping
          const uint64_t pos = static_cast<uint64_t>(in.pick(64)) * 4096;
          const size_t count = (in.pick(4) == 0 ? 512 : 4096) * (1 + in.pick(4));
          if (in.pick(2)) dio_pwrite(&raw_file, addr, count, pos);
          else dio_pread(&raw_file, addr, count, pos);
          break;
        }
        case 16: {  // pwrite, ftruncate
          const loff_t pos = static_cast<loff_t>(in.pick(32)) * 2048;
          if (in.pick(3)) ksys_pwrite64(fd, buf.data(), 1 + in.pick(8) * 1024, pos);
          else ksys_ftruncate(fd, pos);
          break;
        }
        case 17: in.pick(2) ? ksys_fsync(fd) : ksys_fdatasync(fd); break;
        case 18: ksys_sync(); break;
        default: try_to_free_pages(m.get(), 1 + in.pick(64), gfp_t::GFP_KERNEL); break;
      }
      for (page* p : pins)
        if (!is_zero_folio(page_folio(p)) && !page_maybe_dma_pinned(p)) {  // the zero page is never counted (upstream 6.5)
          folio* f = page_folio(p);
          fail("page_maybe_dma_pinned() is false for a page the program holds pinned (folio order " +
               std::to_string(folio_order(f)) + ", refcount " + std::to_string(page_ref_count(f)) + ")");
          if (stats && stats->log) *stats->log += "FAIL\n";
        }
    }
    // Teardown: release everything, then check the balance.
    for (page* p : pins) unpin_user_page(p);
    for (page* p : refs) put_page(p);
    t->mm = nullptr;
    for (mm_struct*& x : mms)
      if (x) mmput(x), x = nullptr;
    ksys_close(fd);
    blkdev_put(raw);
    del_gendisk(m.get(), "ram1");
    put_files_struct(t->files);
    t->files = nullptr;
    if (int e = m->mounts().umount("/mnt")) fail(std::string("umount: ") + errname(e));
    rcu_barrier();
    const int64_t acq = m->vmstat().read(NR_FOLL_PIN_ACQUIRED), rel = m->vmstat().read(NR_FOLL_PIN_RELEASED);
    if (acq != rel) fail("pins do not balance: acquired " + std::to_string(acq) + " released " + std::to_string(rel));
    if (nr_free_pages(m.get()) != boot_free)
      fail("frames leaked: " + std::to_string(boot_free - nr_free_pages(m.get())) + " not free after teardown");
    for (const auto& o : m->oopses()) fail("oops: " + o.format());
    for (const auto& w : m->warnings()) fail("WARN: " + w.format());
  } catch (const std::exception& e) {  // an oops halts the machine by throwing
    fail(std::string("halted: ") + e.what() + (m->oopses().empty() ? "" : ": " + m->oopses()[0].format()));
  }
  m.reset();
  return problem;
}

}  // namespace guplab::fuzz
