// explorer.cc - many sim runs of one scenario cell, on a few host threads.
#include "lab/explorer.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/errno.h"
#include "machine/boot_cache.h"
#include "machine/registry.h"

namespace guplab {

namespace {

constexpr size_t kKeepFailures = 10;

bool is_failure(Outcome o) { return o != Outcome::ok; }

// What every job adds to; merged under one host mutex (harness, not model).
struct Tally {
  std::mutex lock;
  ExploreResult result;
};

void add_run(Tally& t, const ExploreRun& run) {
  std::lock_guard<std::mutex> g(t.lock);
  ExploreResult& r = t.result;
  r.runs++;
  r.steps += run.steps;
  r.setup_steps += run.setup_steps;
  r.teardown_steps += run.teardown_steps;
  r.choices += run.choices;
  for (size_t k = 0; k < kSchedPointKinds; k++) r.steps_by_kind[k] += run.steps_by_kind[k];
  r.histogram[static_cast<size_t>(run.outcome)]++;
  auto& first = r.first_by_outcome[static_cast<size_t>(run.outcome)];
  if (!first || run.index < first->index) first = run;
  if (!is_failure(run.outcome)) return;
  r.failed++;
  if (run.explained) r.explained++;
  if (!r.first_failure || run.index < r.first_failure->index) r.first_failure = run;
  auto at = std::lower_bound(r.failures.begin(), r.failures.end(), run.index,
                             [](const ExploreRun& a, uint64_t i) { return a.index < i; });
  r.failures.insert(at, run);
  if (r.failures.size() > kKeepFailures) r.failures.pop_back();
}

}  // namespace

bool explained_by_faults(const ScenarioResult& r) {
  if (r.buggify_fired == 0) return false;
  if (r.outcome != Outcome::lost && r.outcome != Outcome::warn) return false;
  for (const std::string& f : r.findings)
    if (f.rfind("warn: WARNING at", 0) == 0) return false;  // the kernel warned: look at it
  return true;
}

uint64_t explore_seed(uint64_t base, uint64_t index) {
  // splitmix64 of (base, index): neighbouring bases give unrelated runs.
  uint64_t z = base * 0x9e3779b97f4a7c15ull + index + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

ScenarioParams explore_params(const ExploreOptions& o, uint64_t seed, uint64_t pct_steps) {
  ScenarioParams p;
  p.design = o.design;
  p.policy = o.policy;
  p.seed = seed;
  p.scripted = o.scripted;
  p.gup_retry = o.gup_retry;
  p.backend = Backend::sim;
  p.trace = false;  // the recent-events ring only feeds oops reports; a replay turns it on
  p.sim.strategy = o.strategy;
  p.sim.pct_depth = o.pct_depth;
  p.sim.pct_steps = std::max<uint64_t>(pct_steps, 1);
  p.sim.buggify = o.buggify;
  p.sim.buggify_armed = false;  // armed when the scenario's tasks start (ScenarioContext::spawn)
  p.sim.quiet_harness = true;   // no choices in the setup (the same in every schedule) nor the teardown
  p.sim.spurious_wakeup_p = o.spurious_wakeup_p;
  return p;
}

uint64_t explore_pct_steps(const ExploreOptions& o) {
  if (o.strategy != SimStrategy::pct) return 1;
  if (o.pct_steps) return o.pct_steps;
  ExploreOptions probe = o;
  probe.strategy = SimStrategy::random;
  probe.buggify = false;
  probe.spurious_wakeup_p = 0;
  const ScenarioResult r = run_scenario(*o.scenario, explore_params(probe, 0, 1));
  return std::max<uint64_t>(r.steps, 1);
}

Result<ExploreResult> explore(const ExploreOptions& o) {
  auto bad = [](std::string what) { return Error{std::move(what), -EINVAL}; };
  if (!o.scenario) return bad("no scenario");
  if (o.shards == 0 || o.shard >= o.shards) return bad(fmt::format("shard {} of {} does not exist", o.shard + 1, o.shards));
  if (!o.scenario->applies(prediction_design(o.design), prediction_policy(o.policy)))
    return bad(fmt::format("{} does not run under design {} with policy {}", o.scenario->name(), to_string(o.design),
                           to_string(o.policy)));
  if (o.strategy == SimStrategy::pct && o.pct_depth == 0) return bad("PCT needs a depth of at least 1");
  if (o.strategy == SimStrategy::replay) return bad("replay is not a strategy to explore with");
  const uint64_t k = explore_pct_steps(o);
  // This shard's runs are indices shard, shard + shards, ...: the n-th is shard + n * shards.
  const uint64_t total = o.seeds > o.shard ? (o.seeds - o.shard + o.shards - 1) / o.shards : 0;
  const unsigned jobs = std::max(1u, std::min<unsigned>(o.jobs, static_cast<unsigned>(std::max<uint64_t>(total, 1))));

  Tally tally;
  tally.result.total = total;
  tally.result.jobs = jobs;
  tally.result.pct_steps = o.strategy == SimStrategy::pct ? k : 0;
  std::atomic<uint64_t> next{0}, done{0}, failed{0};
  std::atomic<uint64_t> stop_after{UINT64_MAX};  // stop_at_first_failure: no run beyond this n
  std::atomic<unsigned> jobs_left{jobs};

  // Take the next run of the shard and do it on @cache's mappings; false when none is left.
  auto run_next = [&](BootCache& cache) -> bool {
    const uint64_t n = next.fetch_add(1, std::memory_order_relaxed);
    if (n >= total || n > stop_after.load(std::memory_order_relaxed)) return false;
    ExploreRun run;
    run.index = o.shard + n * o.shards;
    run.seed = explore_seed(o.base_seed, run.index);
    ScenarioParams p = explore_params(o, run.seed, k);
    p.boot_cache = &cache;
    const ScenarioResult r = run_scenario(*o.scenario, p);
    run.outcome = r.outcome;
    run.reason = r.reason;
    run.steps = r.steps;
    run.choices = r.choices.size();
    run.steps_by_kind = r.steps_by_kind;
    run.setup_steps = r.setup_steps;
    run.teardown_steps = r.teardown_steps;
    run.faults = r.buggify_fired;
    run.explained = explained_by_faults(r);
    add_run(tally, run);
    if (is_failure(run.outcome)) {
      failed.fetch_add(1, std::memory_order_relaxed);
      if (o.stop_at_first_failure && (!o.stop_on || run.outcome == *o.stop_on)) {
        uint64_t cur = stop_after.load();
        while (n < cur && !stop_after.compare_exchange_weak(cur, n)) {
        }
      }
    }
    done.fetch_add(1, std::memory_order_relaxed);
    return true;
  };

  const uint64_t t0 = host_time_ns();
  uint64_t last_progress = t0;
  const uint64_t every = static_cast<uint64_t>(o.progress_every_ms) * NSEC_PER_MSEC;
  auto maybe_progress = [&] {
    const uint64_t now = host_time_ns();
    if (!o.progress || now - last_progress < every) return;
    o.progress(done.load(), total, failed.load());
    last_progress = now;
  };
  if (jobs == 1) {
    // On the caller's thread, reporting progress between runs.
    BootCache cache;
    while (run_next(cache)) maybe_progress();
  } else {
    std::vector<std::thread> threads;
    threads.reserve(jobs);
    for (unsigned j = 0; j < jobs; j++)
      threads.emplace_back([&] {
        BootCache cache;
        while (run_next(cache)) {
        }
        jobs_left.fetch_sub(1);
      });
    while (jobs_left.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      maybe_progress();
    }
    for (auto& t : threads) t.join();
  }
  ExploreResult r = std::move(tally.result);
  r.seconds = static_cast<double>(host_time_ns() - t0) / 1e9;
  if (o.progress) o.progress(r.runs, total, r.failed);
  return r;
}

}  // namespace guplab
