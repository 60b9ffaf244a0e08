// pin_bench.cc - pin and unpin per page, per design, for 4 KiB pages and THP, through the
// lockless walk (pin_user_pages_fast(), 512 pages a call, as gup_test -a -n 512) and the
// slow path (pin_user_pages(FOLL_LONGTERM), as gup_test -L -n 512), each next to issue 2's
// reference measured in the same iteration: a bare std::atomic fetch_add, then fetch_sub,
// over the same mem_map entries in the same order (the _refcount of each page returned).
//
// One machine per benchmark (RAM for the buffer plus slack), its buffer mapped and
// faulted in once before timing. An iteration pins the whole buffer, unpins it with one
// unpin_user_pages() call, then runs the two bare loops; the iteration time is pin +
// unpin. Counters (per 4 KiB page, averaged over iterations):
//   pin_ns unpin_ns        the model
//   bare_inc_ns bare_dec_ns the reference over the same entries
//   pin/bare unpin/bare     the ratios, taken side by side in each iteration
// fake_vma has no lockless pinning (every pin takes the slow path), so its "fast" row
// measures the fallback. Arguments: buffer MiB (default 1024, as issue 3's gup_test).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/madvise.h"
#include "mm/mm_struct.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"

namespace guplab {
namespace {

constexpr long kPerCall = 512;
constexpr PinDesign kDesigns[] = {PinDesign::get, PinDesign::bias, PinDesign::dma_count, PinDesign::fake_vma,
                                  PinDesign::folio_pincount};

/** One booted machine with a faulted-in buffer, the benchmark thread as its task. */
class PinBuffer {
 public:
  PinBuffer(PinDesign d, unsigned long bytes, bool thp) : machine_(config(d, bytes)) {
    scope_.emplace(machine_.task_init("pin_bench"));
    mm_ = mm_alloc(&machine_);
    scope_->task()->mm = mm_;
    // 2 MiB aligned, so that every 2 MiB of it can be a THP.
    const long raw = vm_mmap(mm_, 0, bytes + PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    if (raw < 0) return;
    start_ = (static_cast<unsigned long>(raw) + PMD_SIZE - 1) & PMD_MASK;
    if (do_madvise(mm_, start_, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) return;
    const char zero = 0;
    for (unsigned long a = start_; a < start_ + bytes; a += PAGE_SIZE)
      if (uaccess_write(mm_, a, &zero, 1)) return;
    thp_ok_ = !thp || machine_.vmstat().read(NR_ANON_THPS) == static_cast<int64_t>(bytes / PMD_SIZE);
    pages_.resize(bytes / PAGE_SIZE);
    ok_ = true;
  }
  ~PinBuffer() {
    scope_->task()->mm = nullptr;
    mmput(mm_);
    rcu_barrier();
    scope_.reset();
  }
  PinBuffer(const PinBuffer&) = delete;
  PinBuffer& operator=(const PinBuffer&) = delete;

  bool ok() const { return ok_ && thp_ok_; }
  long nr_pages() const { return static_cast<long>(pages_.size()); }
  Machine& machine() { return machine_; }

  /** pin() - the whole buffer, kPerCall pages a call; false if a call came up short. */
  bool pin(bool longterm) NO_THREAD_SAFETY_ANALYSIS {
    if (longterm) mmap_read_lock(mm_);
    bool all = true;
    for (long i = 0; i < nr_pages() && all; i += kPerCall) {
      const unsigned long a = start_ + static_cast<unsigned long>(i) * PAGE_SIZE;
      const long got = longterm ? pin_user_pages(a, kPerCall, FOLL_WRITE | FOLL_LONGTERM, &pages_[static_cast<size_t>(i)])
                                : pin_user_pages_fast(a, static_cast<int>(kPerCall), FOLL_WRITE, &pages_[static_cast<size_t>(i)]);
      all = got == kPerCall;
    }
    if (longterm) mmap_read_unlock(mm_);
    return all;
  }
  void unpin() { unpin_user_pages(pages_.data(), pages_.size()); }
  /** bare_inc() / bare_dec() - the reference: one atomic per page returned, in order. */
  void bare_inc() {
    for (page* p : pages_) p->_refcount.counter.fetch_add(1, std::memory_order_relaxed);
  }
  void bare_dec() {
    for (page* p : pages_) p->_refcount.counter.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  static MachineConfig config(PinDesign d, unsigned long bytes) {
    MachineConfig c;
    c.ram_bytes = ((bytes + bytes / 16 + (64ull << 20)) + PMD_SIZE - 1) & PMD_MASK;
    c.pin_design = d;
    c.thp = true;
    return c;
  }

  Machine machine_;
  std::optional<TaskScope> scope_;
  mm_struct* mm_ = nullptr;
  unsigned long start_ = 0;
  std::vector<page*> pages_;
  bool ok_ = false, thp_ok_ = false;
};

// Args: design index into kDesigns, thp (0/1), longterm slow path (0/1), buffer MiB.
void BM_pin(benchmark::State& state) {
  const PinDesign design = kDesigns[state.range(0)];
  const bool thp = state.range(1), longterm = state.range(2);
  const unsigned long bytes = static_cast<unsigned long>(state.range(3)) << 20;
  state.SetLabel(std::string(to_string(design)) + (thp ? " THP" : " 4KiB") +
                 (longterm ? " pin_user_pages(LONGTERM)" : " pin_user_pages_fast"));
  PinBuffer buf(design, bytes, thp);
  if (!buf.ok()) {
    state.SkipWithError(thp ? "setup failed (mapping, fault-in or THP allocation)" : "setup failed (mapping or fault-in)");
    return;
  }
  const double n = static_cast<double>(buf.nr_pages());
  double pin_ns = 0, unpin_ns = 0, inc_ns = 0, dec_ns = 0;
  for (auto _ : state) {
    const uint64_t t0 = host_time_ns();
    const bool all = buf.pin(longterm);
    const uint64_t t1 = host_time_ns();
    buf.unpin();
    const uint64_t t2 = host_time_ns();
    buf.bare_inc();
    const uint64_t t3 = host_time_ns();
    buf.bare_dec();
    const uint64_t t4 = host_time_ns();
    if (!all) {
      state.SkipWithError("a pin call came up short");
      break;
    }
    state.SetIterationTime(static_cast<double>(t2 - t0) * 1e-9);
    pin_ns += static_cast<double>(t1 - t0) / n;
    unpin_ns += static_cast<double>(t2 - t1) / n;
    inc_ns += static_cast<double>(t3 - t2) / n;
    dec_ns += static_cast<double>(t4 - t3) / n;
  }
  const auto it = static_cast<double>(state.iterations());
  if (it == 0) return;
  state.counters["pin_ns"] = pin_ns / it;
  state.counters["unpin_ns"] = unpin_ns / it;
  state.counters["bare_inc_ns"] = inc_ns / it;
  state.counters["bare_dec_ns"] = dec_ns / it;
  state.counters["pin/bare"] = pin_ns / inc_ns;
  state.counters["unpin/bare"] = unpin_ns / dec_ns;
  state.counters["pins_balanced"] =
      buf.machine().vmstat().read(NR_FOLL_PIN_ACQUIRED) == buf.machine().vmstat().read(NR_FOLL_PIN_RELEASED);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * buf.nr_pages());
}

BENCHMARK(BM_pin)
    ->ArgNames({"design", "thp", "longterm", "MiB"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {0, 1}, {0, 1}, {1024}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace guplab
