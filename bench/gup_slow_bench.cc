// gup_slow_bench.cc - the cost of the GUP slow path's pins under the fake_vma design
// (seed 003: every pin_user_pages() call links a fake vma into rmap - i_mmap for file
// pages, an anon_vma child for anonymous ones - and the last unpin of its pages unlinks
// it) against bias (seed 000: an atomic add per page), per page, for file pages of the
// lab's ext4 and for anonymous pages, with 1 and 64 pages per call; and the unpin side.
// The ratio fake_vma/bias of the medians is what Jan Kara's second objection to seed
// 003 is about.
//
// One machine per benchmark (256 MiB, ext4 on a ramdisk for the file case); the 4096
// pages are mapped and faulted in once, so iterations measure pinning, not faults. An
// iteration pins all of them with pin_user_pages() (mmap_lock held for read, as its
// callers hold it) in calls of `pages/call`, then unpins them with unpin_user_pages();
// BM_pin_* times only the pinning, BM_unpin_* only the unpinning (CPU time of the
// task). items_per_second is pages per second; time/page is its inverse.
//
// Run: ./build/release/guplab_bench --benchmark_filter='BM_(pin|unpin)_' \
//        --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>

#include <memory>
#include <string>
#include <vector>

#include "base/errno.h"
#include "base/rcu.h"
#include "base/task.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/super.h"
#include "machine/machine.h"
#include "mm/fake_vma.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"

namespace guplab {
namespace {

constexpr unsigned long kPages = 4096;
constexpr unsigned long kBytes = kPages << PAGE_SHIFT;

enum class Backing { file, anon };

/** SlowPinBench - a booted machine with kPages mapped and faulted in, file or anon. */
class SlowPinBench {
 public:
  SlowPinBench(PinDesign d, Backing b) {
    MachineConfig c;
    c.ram_bytes = 256ull << 20;
    c.pin_design = d;
    c.wb_policy = WritebackPolicy::skip;
    m_ = std::make_unique<Machine>(c);
    scope_ = std::make_unique<TaskScope>(m_->task_init("bench"));
    mm_ = mm_alloc(m_.get());
    scope_->task()->mm = mm_;
    if (b == Backing::file) {
      if (ext4_mkfs(m_.get(), "ram0,size=64M") || m_->mounts().mount("ram0,size=64M", "/mnt", "ext4", "")) {
        error_ = "mkfs/mount failed";
        return;
      }
      mounted_ = true;
      filp_ = filp_open("/mnt/pinned", O_RDWR | O_CREAT | O_TRUNC, 0644);
      if (IS_ERR(filp_)) {
        filp_ = nullptr;
        error_ = "open failed";
        return;
      }
      std::vector<char> data(kBytes, 'p');
      loff_t pos = 0;
      if (kernel_write(filp_, data.data(), data.size(), &pos) != static_cast<ssize_t>(kBytes) || vfs_fsync(filp_, 0)) {
        error_ = "write failed";
        return;
      }
      addr_ = file_mmap(mm_, filp_, 0, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    } else {
      addr_ = vm_mmap(mm_, 0, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    }
    if (addr_ < 0) {
      error_ = "mmap failed";
      return;
    }
    // Fault every page in (writes: file pages through page_mkwrite, anon pages exclusive).
    std::vector<char> buf(kBytes, 'q');
    if (uaccess_write(mm_, static_cast<unsigned long>(addr_), buf.data(), buf.size())) error_ = "fault-in failed";
    pages_.assign(kPages, nullptr);
  }
  ~SlowPinBench() {
    scope_->task()->mm = nullptr;
    mmput(mm_);
    if (filp_) filp_close(filp_);
    if (mounted_) m_->mounts().umount("/mnt");
    rcu_barrier();
  }
  const char* error() const { return error_; }

  /** pin_all() - pin every page, @per_call pages per pin_user_pages() call. */
  bool pin_all(unsigned long per_call) NO_THREAD_SAFETY_ANALYSIS {
    const unsigned long a = static_cast<unsigned long>(addr_);
    mmap_read_lock(mm_);
    bool ok = true;
    for (unsigned long i = 0; i < kPages && ok; i += per_call)
      ok = pin_user_pages(a + (i << PAGE_SHIFT), per_call, FOLL_WRITE, pages_.data() + i) ==
           static_cast<long>(per_call);
    mmap_read_unlock(mm_);
    return ok;
  }
  void unpin_all() { unpin_user_pages(pages_.data(), kPages); }
  Machine* machine() { return m_.get(); }

 private:
  std::unique_ptr<Machine> m_;
  std::unique_ptr<TaskScope> scope_;
  mm_struct* mm_ = nullptr;
  file* filp_ = nullptr;
  bool mounted_ = false;
  long addr_ = -1;
  std::vector<page*> pages_;
  const char* error_ = nullptr;
};

void run(benchmark::State& state, PinDesign d, Backing b, bool time_pin) {
  const unsigned long per_call = static_cast<unsigned long>(state.range(0));
  SlowPinBench bench(d, b);
  if (bench.error()) {
    state.SkipWithError(bench.error());
    return;
  }
  // Warm-up: one full pass (fake vma allocations, table shards, host faults).
  if (!bench.pin_all(per_call)) {
    state.SkipWithError("pin_user_pages failed");
    return;
  }
  bench.unpin_all();
  for (auto _ : state) {
    if (!time_pin) state.PauseTiming();
    const bool ok = bench.pin_all(per_call);
    if (time_pin) state.PauseTiming();
    else state.ResumeTiming();
    if (!ok) {
      state.SkipWithError("pin_user_pages failed");
      break;
    }
    bench.unpin_all();
    if (time_pin) state.ResumeTiming();
  }
  const double pages = static_cast<double>(state.iterations()) * static_cast<double>(kPages);
  state.SetItemsProcessed(static_cast<int64_t>(pages));
  state.counters["time/page"] = benchmark::Counter(pages, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (d == PinDesign::fake_vma)
    state.counters["fake_vmas/iter"] =
        static_cast<double>(fake_vma_stats(bench.machine()).inserted) / static_cast<double>(state.iterations() + 1);
}

void BM_pin_file_fake_vma(benchmark::State& s) { run(s, PinDesign::fake_vma, Backing::file, true); }
void BM_pin_file_bias(benchmark::State& s) { run(s, PinDesign::bias, Backing::file, true); }
void BM_pin_anon_fake_vma(benchmark::State& s) { run(s, PinDesign::fake_vma, Backing::anon, true); }
void BM_pin_anon_bias(benchmark::State& s) { run(s, PinDesign::bias, Backing::anon, true); }
void BM_unpin_file_fake_vma(benchmark::State& s) { run(s, PinDesign::fake_vma, Backing::file, false); }
void BM_unpin_file_bias(benchmark::State& s) { run(s, PinDesign::bias, Backing::file, false); }
void BM_unpin_anon_fake_vma(benchmark::State& s) { run(s, PinDesign::fake_vma, Backing::anon, false); }
void BM_unpin_anon_bias(benchmark::State& s) { run(s, PinDesign::bias, Backing::anon, false); }

// CPU time of the pinning task: the model runs it alone (no flusher or device work is
// involved), and the host is shared with builds.
#define GUP_SLOW_BENCH(fn) BENCHMARK(fn)->ArgName("pages/call")->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)
GUP_SLOW_BENCH(BM_pin_file_fake_vma);
GUP_SLOW_BENCH(BM_pin_file_bias);
GUP_SLOW_BENCH(BM_pin_anon_fake_vma);
GUP_SLOW_BENCH(BM_pin_anon_bias);
GUP_SLOW_BENCH(BM_unpin_file_fake_vma);
GUP_SLOW_BENCH(BM_unpin_file_bias);
GUP_SLOW_BENCH(BM_unpin_anon_fake_vma);
GUP_SLOW_BENCH(BM_unpin_anon_bias);

}  // namespace
}  // namespace guplab
