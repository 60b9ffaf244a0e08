// runner.cc - running a fio job file on a booted model: jobs in tasks, the status line,
// the machine around them, and the checks that end every run.
#include "lab/fio/runner.h"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "base/atomic.h"
#include "base/clock.h"
#include "base/task.h"
#include "base/wait.h"
#include "base/wall_clock.h"
#include "block/blkdev.h"
#include "block/genhd.h"
#include "fs/direct-io.h"
#include "lab/fio/mem_budget.h"
#include "lab/fio/progress.h"
#include "lab/fio/targets.h"
#include "machine/machine.h"
#include "base/bug.h"

namespace guplab::fio {

namespace {

constexpr uint64_t kBaseRamBytes = 64ull << 20;  // the machine's own needs, page tables, the layout buffer
constexpr uint64_t kRamAlign = 2ull << 20;

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

/** job_seed() - the seed of job @index: fixed under randrepeat (fio's default), else not. */
uint64_t job_seed(const JobSpec& job, size_t index) {
  uint64_t x = 0x6669'6f5f'6775'706cull + index;
  if (!job.randrepeat) x ^= host_time_ns();
  return Random::splitmix64(x);
}

/** ram_for() - machine RAM for @jobs' buffers and the rest. */
uint64_t ram_for(const std::vector<JobSpec>& jobs) {
  uint64_t bytes = kBaseRamBytes;
  for (const JobSpec& j : jobs) {
    const uint64_t depth = is_sync_engine(j.ioengine) ? 1 : j.iodepth;
    bytes = sat_add(bytes, sat_mul(depth, sat_add(j.max_bs(), PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE));
  }
  if (bytes > (UINT64_MAX >> 2)) return UINT64_MAX;  // check_mem_budget() refuses it
  return round_up(bytes + bytes / 8, kRamAlign);  // and their page tables and mem_map slack
}

/** Job tasks tell the coordinator they are done. */
struct Finish {
  wait_queue_head_t wq;
  atomic_t nr;
};

/** wait_and_show() - until every job is done, printing the status line every interval. */
void wait_and_show(std::span<const JobSpec> jobs, std::span<JobLive> live, Finish* fin, const ProgressOptions& po) {
  const int n = static_cast<int>(jobs.size());
  const auto all_done = [&] { return atomic_read(&fin->nr) == n; };
  if (!po.out) {
    wait_event(&fin->wq, all_done);
    return;
  }
  ProgressLine line(jobs);
  std::vector<JobProgress> snaps(jobs.size());
  const uint64_t t0 = ktime_get_ns();
  bool shown = false;
  while (!wait_event_timeout(&fin->wq, all_done, po.interval_ms * NSEC_PER_MSEC)) {
    const uint64_t now = ktime_get_ns();
    for (size_t i = 0; i < jobs.size(); i++) snaps[i] = live[i].snapshot(now);
    fmt::print(po.out, "\r{}", line.update((now - t0) / NSEC_PER_MSEC, snaps));
    fflush(po.out);
    shown = true;
  }
  if (shown) {
    fmt::print(po.out, "\n");
    fflush(po.out);
  }
}

}  // namespace

std::vector<JobStats> run_jobs(std::span<const JobSpec> jobs, std::span<const JobTarget> targets, const IoHook& on_io,
                               const ProgressOptions& progress) {
  GUPLAB_CHECK(jobs.size() == targets.size());
  task_struct* self = current();
  GUPLAB_CHECK(self && self->machine);
  Machine* m = self->machine;
  const size_t n = jobs.size();
  std::vector<JobStats> stats(n);
  std::vector<JobLive> live(n);
  std::vector<JobContext> ctx(n);
  Finish fin;
  init_waitqueue_head(&fin.wq, "fio jobs");
  std::vector<task_struct*> tasks;
  for (size_t i = 0; i < n; i++) {
    GUPLAB_CHECK(!targets[i].files.empty());
    ctx[i] = JobContext{&jobs[i], i, targets[i].files, job_seed(jobs[i], i), &on_io};
  }
  // Groups: a stonewall job waits for every job before it.
  unsigned group = 0;
  for (size_t b = 0; b < n;) {
    size_t e = b + 1;
    while (e < n && !jobs[e].stonewall) e++;
    atomic_set(&fin.nr, 0);
    tasks.clear();
    for (size_t i = b; i < e; i++) {
      stats[i].groupid = group;
      tasks.push_back(m->spawn(jobs[i].name, [&, i] {
        run_io_job(ctx[i], &stats[i], &live[i]);
        atomic_inc_return(&fin.nr);  // fully ordered: the job's writes come before
        wake_up(&fin.wq);
      }));
    }
    try {
      wait_and_show(jobs.subspan(b, e - b), std::span<JobLive>(live).subspan(b, e - b), &fin, progress);
    } catch (...) {
      // The machine halted (an oops): the jobs unwind too; they use what lives here.
      for (task_struct* t : tasks) task_join(t);
      throw;
    }
    for (task_struct* t : tasks) task_join(t);
    // groupid of the stats is kept through a ramp_time reset by the job itself.
    for (size_t i = b; i < e; i++) stats[i].groupid = group;
    group++;
    b = e;
  }
  return stats;
}

bool RunOutcome::ok() const {
  if (!problems.empty()) return false;
  for (const JobStats& s : result.stats)
    if (s.error) return false;
  return true;
}

Result<RunOutcome> run_fio(const JobFile& file, const RunConfig& cfg) {
  auto resolved = resolve_jobs(file);
  if (!resolved) return Error{resolved.error()};
  std::vector<JobSpec> jobs = std::move(resolved.value());
  for (const JobSpec& j : jobs) {
    const std::string at = fmt::format("{}:{}: job '{}'", file.source, j.line, j.name);
    if (!j.direct)
      return Error{fmt::format("{}: direct=0 (buffered I/O) is not supported: guplab fio runs the model's O_DIRECT "
                               "path only; set direct=1",
                               at)};
    if (j.time_based && j.runtime.count() == 0)
      return Error{fmt::format("{}: time_based needs a runtime (it would never stop)", at)};
    if (j.time_based && j.verify != VerifyType::none && j.do_verify && does_write(j.rw))
      return Error{fmt::format("{}: verify with time_based is not supported (the log of writes to read back would "
                               "grow without bound); use size= or do_verify=0",
                               at)};
  }
  auto planned = plan_targets(jobs, cfg.device, file.source, file.read_from);
  if (!planned) return Error{planned.error()};
  const std::vector<TargetPlan>& plans = planned.value();
  const uint64_t ram = ram_for(jobs);
  const uint64_t limit = cfg.mem_limit ? cfg.mem_limit : default_mem_limit();
  if (auto ok = check_mem_budget(jobs, plans, ram, limit, cfg.mem_limit != 0, cfg.device, file.source); !ok)
    return Error{ok.error()};

  MachineConfig mc;
  mc.pin_design = cfg.design;
  mc.ram_bytes = ram;
  RunOutcome out;
  out.result.global_options = file.global_options;
  out.result.jobs = jobs;
  out.result.stats.resize(jobs.size());
  std::optional<Error> failed;
  uint64_t elapsed_ns = 0;
  {
    Machine m(mc);
    m.run(
        [&] {
          std::vector<block_device*> devs;
          std::vector<std::vector<uint64_t>> regions(jobs.size());
          std::vector<std::vector<std::string>> file_names(jobs.size());
          for (size_t i = 0; i < jobs.size(); i++) {
            file_names[i] = jobs[i].files();
            regions[i].resize(file_names[i].size());
          }
          for (const TargetPlan& tp : plans) {
            auto d = open_target(&m, tp);
            if (!d) {
              failed = Error{d.error()};
              break;
            }
            devs.push_back(d.value());
            out.devices.push_back(d.value()->describe());
            if (auto ok = check_jobs(jobs, tp, d.value(), file.source, &regions); !ok) {
              failed = Error{ok.error()};
              break;
            }
          }
          if (!failed && cfg.preamble_out) {
            fmt::print(cfg.preamble_out, "{}", format_preamble(jobs));
            fflush(cfg.preamble_out);
          }
          for (size_t k = 0; !failed && k < plans.size(); k++)
            if (auto ok = lay_out(plans[k], devs[k], jobs[plans[k].jobs[0]].name, cfg.preamble_out); !ok)
              failed = Error{ok.error()};
          if (!failed) {
            std::vector<dio_file> files;
            for (block_device* d : devs) files.push_back(blkdev_dio_file(d));
            std::vector<JobTarget> targets(jobs.size());
            for (size_t i = 0; i < jobs.size(); i++) targets[i].files.resize(regions[i].size());
            for (size_t k = 0; k < plans.size(); k++)
              for (size_t x = 0; x < plans[k].jobs.size(); x++) {
                const size_t i = plans[k].jobs[x], f = plans[k].files[x];
                targets[i].files[f] = JobFileTarget{&files[k], regions[i][f], file_names[i][f]};
              }
            const uint64_t t0 = ktime_get_ns();
            out.result.stats = run_jobs(jobs, targets, cfg.on_io, cfg.progress);
            // Unpins that completions left to the devices' workers (fake_vma) are part of the run.
            for (block_device* d : devs) d->flush_deferred();
            elapsed_ns = ktime_get_ns() - t0;
            if (cfg.inspect) cfg.inspect(devs);
          }
          std::vector<std::string> names;
          for (block_device* d : devs) {
            names.push_back(d->name());
            blkdev_put(d);
          }
          for (const std::string& name : names) del_gendisk(&m, name);  // stopped here, quiet
        },
        "fio");
    out.pins_acquired = m.vmstat().read(NR_FOLL_PIN_ACQUIRED);
    out.pins_released = m.vmstat().read(NR_FOLL_PIN_RELEASED);
    for (const OopsRecord& o : m.oopses()) out.problems.push_back("oops: " + o.format());
    for (const OopsRecord& w : m.warnings()) out.problems.push_back("warning: " + w.format());
  }
  if (failed) {
    // A refused run leaves the host files as they were.
    for (const TargetPlan& tp : plans)
      if (auto undone = undo_target(tp); !undone) failed->message += "; and " + undone.error();
    return *failed;
  }
  if (out.pins_acquired != out.pins_released)
    out.problems.push_back(fmt::format("pins do not balance: nr_foll_pin_acquired {} != nr_foll_pin_released {}",
                                       out.pins_acquired, out.pins_released));
  out.result.elapsed_sec = (elapsed_ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
  out.result.end_time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(host_realtime_ns())));
  return out;
}

}  // namespace guplab::fio
