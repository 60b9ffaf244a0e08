// demo_cmd.cc - `guplab demo`: the headline experiment in under a minute.
//
// Three parts, each on its own freshly booted machines:
//   1. the seed scenarios over the pin design x writeback policy matrix (what breaks
//      where, one verdict per row, each cell explained by its oracle);
//   2. what a pin costs per design: gup_test's PIN_FAST benchmark next to a bare atomic
//      loop over the same mem_map entries (fake_vma goes through the slow path);
//   3. seed 000's direct-I/O fio job on the embedded ramdisk, per design;
//   4. the sim explorer finding seed 002's and seed 003's races with no script, and a
//      printed seed replaying its run exactly.
//
// Threading: runs on the calling thread; every machine it boots is its own.
#include "tools/demo_cmd.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "tools/usage_exit.h"
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "lab/explorer.h"
#include "lab/fio/runner.h"
#include "lab/fio/units.h"
#include "lab/matrix.h"
#include "lab/scenario.h"
#include "mm/pin_design.h"
#include "tools/gup_test.h"
#include "tools/strict_number.h"

namespace guplab::tools {

namespace {

int demo_scenarios(uint64_t seed) {
  fmt::print("== 1. The seed scenarios: pin design x writeback policy ==\n");
  fmt::print("   (guplab run --all; each cell is one machine, deterministic under the sim backend)\n\n");
  if (all_scenarios().empty()) {
    fmt::print("   no scenarios are registered in this build\n\n");
    return 0;
  }
  ScenarioParams base;
  base.seed = seed;
  base.backend = Backend::sim;
  std::vector<MatrixCell> cells = run_matrix(all_scenarios(), base);
  fmt::print("{}\n", format_matrix(cells, MatrixDetail::one_per_outcome));
  int differ = 0;
  for (const auto& c : cells) differ += !c.matches();
  return differ;
}

void demo_gup_test(uint64_t mb) {
  fmt::print("== 2. What a pin costs: gup_test -a -m {} -n 512 -r 3 --baseline, per design ==\n\n", mb);
  fmt::print("   {:<16} {:>14} {:>14} {:>16}\n", "design", "pin ns/page", "unpin ns/page", "pin vs atomic");
  for (PinDesign d : kAllPinDesigns) {
    GupTestOptions o;
    o.cmd = GupTestCmd::PIN_FAST_BENCHMARK;
    o.size_mb = mb;
    o.nr_pages_per_call = 512;
    o.repeats = 3;
    o.design = d;
    o.baseline = true;
    GupTestReport r = run_gup_test(o);
    long status = 0;
    for (const auto& run : r.runs)
      if (run.status < 0) status = run.status;
    if (status < 0) {
      fmt::print("   {:<16} failed: {}\n", to_string(d), status);
      continue;
    }
    const double ratio = r.baseline_get_ns_per_page > 0 ? r.get_ns_per_page / r.baseline_get_ns_per_page : 0;
    fmt::print("   {:<16} {:>14.2f} {:>14.2f} {:>15.2f}x{}\n", to_string(d), r.get_ns_per_page, r.put_ns_per_page,
               ratio, !pin_design_props(d).has_fast_path ? "   (no GUP-fast: slow path, rmap insert per pin)" : "");
  }
  fmt::print("\n");
}

/** Seed 000's job (shared/bench/seed000.fio) with the size given, on the embedded ramdisk. */
std::string seed000_job(uint64_t mb) {
  return fmt::format(
      "[reader]\ndirect=1\nioengine=libaio\nblocksize=4096\nsize={}m\nnumjobs=1\nrw=read\niodepth=64\n"
      "filename=guplab-fio.dat\n",
      mb);
}

/** One run of the seed job: its read figures and pin check. */
struct FioDemoRun {
  uint64_t iops = 0, bw = 0, p50_ns = 0, p99_ns = 0;
  int64_t acquired = 0, released = 0;
  bool ok = false;
  std::string error;
};

FioDemoRun demo_fio_once(const fio::JobFile& file, PinDesign d) {
  FioDemoRun run;
  fio::RunConfig cfg;
  cfg.design = d;
  auto r = fio::run_fio(file, cfg);
  if (!r) {
    run.error = r.error();
    return run;
  }
  const fio::DirStats& s = r->result.stats[0].at(fio::Ddir::read);
  const uint64_t ms = std::max<uint64_t>(s.runtime_ms, 1);
  run.iops = s.total_ios * 1000 / ms;
  run.bw = s.io_bytes * 1000 / ms;
  const std::vector<uint64_t> p = s.clat_hist.percentiles(std::array<double, 2>{50.0, 99.0});
  if (p.size() == 2) {
    run.p50_ns = p[0];
    run.p99_ns = p[1];
  }
  run.acquired = r->pins_acquired;
  run.released = r->pins_released;
  run.ok = r->ok();
  if (!run.ok) run.error = r->problems.empty() ? "a job failed" : r->problems[0];
  return run;
}

int demo_fio(uint64_t mb) {
  constexpr size_t kRounds = 3;
  fmt::print("== 3. Seed 000's fio job (direct I/O, 4 KiB reads, iodepth 64) on the ramdisk, per design ==\n\n");
  fmt::print("   (guplab fio seed000.fio --design D, with size={}m instead of the job's 1g to keep the demo short;\n"
             "    {} rounds over the designs, each row the round with the median IOPS)\n\n",
             mb, kRounds);
  auto file = fio::parse_job_text(seed000_job(mb), "seed000.fio");
  if (!file) {
    fmt::print("   {}\n\n", file.error());
    return 1;
  }
  constexpr size_t kDesigns = std::size(kAllPinDesigns);
  std::array<std::vector<FioDemoRun>, kDesigns> runs;
  for (size_t round = 0; round < kRounds; round++)
    for (size_t k = 0; k < kDesigns; k++) {  // a different design first each round
      const size_t i = (k + round) % kDesigns;
      runs[i].push_back(demo_fio_once(file.value(), kAllPinDesigns[i]));
    }
  fmt::print("   {:<16} {:>9} {:>11} {:>12} {:>12}   {}\n", "design", "IOPS", "BW", "clat p50", "clat p99",
             "pins acquired == released");
  int failed = 0;
  for (size_t i = 0; i < kDesigns; i++) {
    const char* name = to_string(kAllPinDesigns[i]);
    std::vector<FioDemoRun>& rs = runs[i];
    bool all_ok = true;
    for (const FioDemoRun& r : rs) {
      if (!r.ok) {
        fmt::print("   {:<16} FAILED: {}\n", name, r.error);
        all_ok = false;
        break;
      }
    }
    if (!all_ok) {
      failed++;
      continue;
    }
    std::sort(rs.begin(), rs.end(), [](const FioDemoRun& a, const FioDemoRun& b) { return a.iops < b.iops; });
    const FioDemoRun& m = rs[rs.size() / 2];
    fmt::print("   {:<16} {:>9} {:>11} {:>9.2f} us {:>9.2f} us   {} {} {}\n", name,
               fio::num2str(m.iops, 4, 1, false, fio::Unit::none),
               fio::num2str(m.bw, 4, 1, true, fio::Unit::byte_per_sec), static_cast<double>(m.p50_ns) / 1000.0,
               static_cast<double>(m.p99_ns) / 1000.0, m.acquired, m.acquired == m.released ? "==" : "!=",
               m.released);
  }
  fmt::print("\n");
  return failed;
}

int demo_explore(uint64_t seeds) {
  fmt::print("== 4. No script: the sim explorer finds the races from seeds alone ==\n");
  fmt::print("   (guplab explore SCENARIO --design D --policy P --seeds {}; unscripted, random walk)\n\n", seeds);
  struct Row {
    const char* scenario;
    PinDesign d;
    WritebackPolicy p;
  };
  constexpr Row kRows[] = {
      {"ext4-bug", PinDesign::get, WritebackPolicy::ignore},
      {"ext4-bug", PinDesign::folio_pincount, WritebackPolicy::skip},
      {"torn-writeback", PinDesign::get, WritebackPolicy::ignore},
      {"torn-writeback", PinDesign::bias, WritebackPolicy::wait},
  };
  fmt::print("   {:<15} {:<26} {:<22} {:>14} {:>12}  {}\n", "scenario", "design/policy", "outcomes", "first failure",
             "schedules/s", "replayed");
  int wrong = 0;
  for (const Row& row : kRows) {
    ExploreOptions o;
    o.scenario = find_scenario(row.scenario);
    if (!o.scenario) continue;
    o.design = row.d;
    o.policy = row.p;
    o.seeds = seeds;
    const Result<ExploreResult> res = explore(o);
    if (!res) {
      fmt::print("   {:<15} {}\n", row.scenario, res.error());
      wrong++;
      continue;
    }
    const ExploreResult& r = *res;
    std::string hist;
    for (Outcome oc : kAllOutcomes)
      if (r.count(oc)) hist += fmt::format("{}{} {}", hist.empty() ? "" : ", ", to_string(oc), r.count(oc));
    std::string first = "none", replayed = "-";
    if (r.first_failure) {
      first = fmt::format("run {}", r.first_failure->index);
      const ScenarioResult again = run_scenario(*o.scenario, explore_params(o, r.first_failure->seed, 1));
      const bool same = again.reason == r.first_failure->reason && again.steps == r.first_failure->steps;
      replayed = fmt::format("seed {:#x}: {}", r.first_failure->seed, same ? "same run" : "DIFFERS");
      wrong += !same;
    }
    const Outcome want = o.scenario->expected_unscripted_for(explore_params(o, 1, 1));
    wrong += want == Outcome::ok ? r.failed != 0 : r.count(want) == 0;
    fmt::print("   {:<15} {:<26} {:<22} {:>14} {:>12.0f}  {}\n", row.scenario,
               fmt::format("{}/{}", to_string(row.d), to_string(row.p)), hist, first, r.per_second(), replayed);
  }
  fmt::print("\n   replay one with its trace: guplab explore torn-writeback --design get --policy ignore \\\n"
             "       --replay SEED --trace torn.json   (open in ui.perfetto.dev; --ftrace for trace_pipe lines)\n\n");
  return wrong;
}

}  // namespace

int demo_main(int argc, char** argv) {
  CLI::App app{"the headline experiment: scenario matrix, pin cost per design, fio per design", "guplab demo"};
  uint64_t seed = 1, mb = 256, fio_mb = 128, explore_seeds = 2000;
  bool skip_fio = false;
  app.add_option("--seed", seed, "seed of the scenario machines")->check(Whole(0, UINT64_MAX, true));
  app.add_option("--gup-mb", mb, "size of the gup_test buffer in MiB")->check(Whole(1, 4096));
  app.add_option("--fio-mb", fio_mb, "size of the fio job in MiB (the seed's job says 1024)")->check(Whole(1, 4096));
  app.add_flag("--no-fio", skip_fio, "leave out the fio part");
  app.add_option("--explore-seeds", explore_seeds, "schedules per exploration in part 4")->check(Whole(1, 10000000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }
  fmt::print("guplab demo: how pages that devices DMA into are pinned, tracked and written back\n\n");
  const int differ = demo_scenarios(seed);
  demo_gup_test(mb);
  int fio_rc = 0;
  if (!skip_fio) fio_rc = demo_fio(fio_mb);
  const int explore_wrong = demo_explore(explore_seeds);
  if (differ) fmt::print("demo: {} matrix cell(s) differ from what the seeds predict (marked *)\n", differ);
  if (explore_wrong) fmt::print("demo: {} exploration(s) did not find what the seeds predict\n", explore_wrong);
  return differ || fio_rc || explore_wrong ? 1 : 0;
}

}  // namespace guplab::tools
