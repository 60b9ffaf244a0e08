// fault_bench.cc - fault-in of 1 GiB of anonymous memory through handle_mm_fault(),
// with 4 KiB pages and with THP, in pages (4 KiB) per second; and the reference every
// pin benchmark is compared with: a bare std::atomic fetch_add over as many mem_map
// _refcount words.
//
// One machine (1.5 GiB of RAM) is booted per benchmark, not per iteration; one warm-up
// pass first touches the arena on the host, so iterations measure the model. Each
// iteration maps 1 GiB, write-faults every page (or every 2 MiB), and is timed only for
// the faults; teardown (mmput + rcu_barrier) is outside the timing.
#include <benchmark/benchmark.h>

#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/madvise.h"
#include "mm/memory.h"
#include "mm/mmap.h"

namespace guplab {
namespace {

constexpr unsigned long kBytes = 1ul << 30;
constexpr unsigned long kPages = kBytes >> PAGE_SHIFT;

MachineConfig bench_config() {
  MachineConfig c;
  c.ram_bytes = 1536ull << 20;
  c.thp = true;
  return c;
}

// Map 1 GiB and write-fault it in; returns the mm (to be mmput) and the timed ns.
mm_struct* fault_in(Machine* m, bool thp, benchmark::State* state) {
  mm_struct* mm = mm_alloc(m);
  long a = vm_mmap(mm, 0, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  if (a < 0 || (thp && do_madvise(mm, a, kBytes, MADV_HUGEPAGE))) {
    if (state) state->SkipWithError("mmap failed");
    return mm;
  }
  const unsigned long step = thp ? PMD_SIZE : PAGE_SIZE;
  if (state) state->ResumeTiming();
  mmap_read_lock(mm);
  vm_area_struct* vma = vma_lookup(mm, a);
  for (unsigned long addr = a; addr < a + kBytes; addr += step) {
    vm_fault_t ret = handle_mm_fault(vma, addr, FAULT_FLAG_WRITE | FAULT_FLAG_USER);
    if (ret != VM_FAULT_NONE) {
      if (state) state->SkipWithError("fault failed");
      break;
    }
  }
  mmap_read_unlock(mm);
  if (state) state->PauseTiming();
  return mm;
}

void run_fault_bench(benchmark::State& state, bool thp) {
  Machine m(bench_config());
  TaskScope scope(m.task_init("bench"));
  mmput(fault_in(&m, thp, nullptr));  // warm-up: host-fault the arena
  rcu_barrier();
  const int64_t thp0 = m.vmstat().read(THP_FAULT_ALLOC);
  for (auto _ : state) {
    state.PauseTiming();
    mm_struct* mm = fault_in(&m, thp, &state);
    mmput(mm);
    rcu_barrier();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPages));
  state.counters["pages/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kPages), benchmark::Counter::kIsRate);
  state.counters["thp_allocs/iter"] =
      static_cast<double>(m.vmstat().read(THP_FAULT_ALLOC) - thp0) / static_cast<double>(state.iterations());
}

void BM_fault_in_4k(benchmark::State& state) { run_fault_bench(state, false); }
void BM_fault_in_thp(benchmark::State& state) { run_fault_bench(state, true); }

// The reference: what incrementing kPages refcounts costs with nothing else around it.
void BM_bare_atomic_mem_map(benchmark::State& state) {
  Machine m(bench_config());
  page* mem_map = m.mem().mem_map();
  for (auto _ : state) {
    for (unsigned long i = 0; i < kPages; i++) mem_map[i]._refcount.counter.fetch_add(1, std::memory_order_relaxed);
    benchmark::ClobberMemory();
  }
  for (unsigned long i = 0; i < kPages; i++)
    mem_map[i]._refcount.counter.fetch_sub(static_cast<int>(state.iterations()), std::memory_order_relaxed);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPages));
  state.counters["pages/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kPages), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_fault_in_4k)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_fault_in_thp)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_bare_atomic_mem_map)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace guplab
