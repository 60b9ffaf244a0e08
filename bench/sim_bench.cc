// sim_bench.cc - the sim backend's cost per small run: a 2-task run (spawn, a spinlock
// taken four times by each, join), in runs per second, on a fresh 4 MiB machine per run
// and on one machine reused for every run. The items/s counter is runs per second; the
// steps counter is scheduling points per run.
#include <benchmark/benchmark.h>

#include <memory>

#include "base/spinlock.h"
#include "base/task.h"
#include "machine/machine.h"

namespace guplab {
namespace {

MachineConfig sim_bench_config(uint64_t seed) {
  MachineConfig c;
  c.ram_bytes = 4ull << 20;
  c.backend = Backend::sim;
  c.seed = seed;
  return c;
}

void two_task_run(Machine* m) {
  spinlock_t lock;
  spin_lock_init(&lock, "l");
  int x = 0;
  m->run([&] {
    auto body = [&] {
      for (int i = 0; i < 4; i++) {
        SpinGuard g(&lock);
        x++;
      }
    };
    task_struct* a = m->spawn("a", body);
    task_struct* b = m->spawn("b", body);
    task_join(a);
    task_join(b);
  });
}

void BM_sim_small_run(benchmark::State& state) {
  const bool fresh_machine = state.range(0) != 0;
  auto shared = std::make_unique<Machine>(sim_bench_config(1));
  uint64_t runs = 0, steps = 0;
  for (auto _ : state) {
    std::unique_ptr<Machine> own;
    Machine* m = shared.get();
    if (fresh_machine) m = (own = std::make_unique<Machine>(sim_bench_config(runs + 1))).get();
    two_task_run(m);
    steps += m->sim_result()->steps;
    runs++;
  }
  state.SetItemsProcessed(static_cast<int64_t>(runs));
  state.counters["steps/run"] = runs ? static_cast<double>(steps) / static_cast<double>(runs) : 0.0;
}

BENCHMARK(BM_sim_small_run)->Name("sim/two_task_run")->ArgName("fresh_machine")->Arg(1)->Arg(0)->UseRealTime();

}  // namespace
}  // namespace guplab
