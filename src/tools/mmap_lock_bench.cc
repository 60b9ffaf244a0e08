// mmap_lock_bench.cc - `guplab mmap-lock-bench`: a writer's mmap_lock wait while GUP
// faults file pages in from a slow device, with and without the retry protocol.
#include "tools/mmap_lock_bench.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "base/rcu.h"
#include "base/sched.h"
#include "base/task.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/super.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/swap.h"
#include "tools/strict_number.h"
#include "tools/usage_exit.h"

namespace guplab::tools {

namespace {

double percentile_us(std::vector<uint64_t>& ns, double q) {
  if (ns.empty()) return 0;
  std::sort(ns.begin(), ns.end());
  const size_t i = std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size() - 1) + 0.5));
  return static_cast<double>(ns[i]) / 1000.0;
}

// Write the file through the page cache and unmount: the next mount starts cold.
int make_file(Machine& m, const std::string& dev, uint64_t pages) {
  if (int err = m.mounts().mount(dev, "/mnt", "ext4", "")) return err;
  file* f = filp_open("/mnt/data", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (IS_ERR(f)) {
    m.mounts().umount("/mnt");
    return static_cast<int>(PTR_ERR(f));
  }
  std::vector<char> buf(PAGE_SIZE, 'd');
  int err = 0;
  for (uint64_t i = 0; i < pages && !err; i++) {
    loff_t pos = static_cast<loff_t>(i << PAGE_SHIFT);
    if (kernel_write(f, buf.data(), PAGE_SIZE, &pos) != static_cast<ssize_t>(PAGE_SIZE)) err = -EIO;
  }
  if (!err) err = vfs_fsync(f, 0);
  filp_close(f);
  if (int e = m.mounts().umount("/mnt"); e && !err) err = e;
  return err;
}

}  // namespace

MmapLockBenchResult run_mmap_lock_bench(const MmapLockBenchOptions& o, bool gup_retry) {
  MachineConfig c;
  c.backend = Backend::native;
  c.ram_bytes = std::max<uint64_t>(64ull << 20, (o.pages << PAGE_SHIFT) * 2 + (32ull << 20));
  c.gup_retry = gup_retry;
  Machine m(c);
  MmapLockBenchResult r;
  const uint64_t disk_mb = std::max<uint64_t>(16, ((o.pages << PAGE_SHIFT) >> 20) * 2 + 8);
  const std::string dev = fmt::format("ram0,size={}M,latency={}us", disk_mb, o.latency_us);
  std::vector<uint64_t> waits;
  m.run([&] {
    if (int err = ext4_mkfs(&m, dev)) {
      r.error = err;
      return;
    }
    if (int err = make_file(m, dev, o.pages)) {
      r.error = err;
      return;
    }
    if (int err = m.mounts().mount(dev, "/mnt", "ext4", "")) {
      r.error = err;
      return;
    }
    file* f = filp_open("/mnt/data", O_RDONLY, 0);
    if (IS_ERR(f)) {
      r.error = static_cast<int>(PTR_ERR(f));
      m.mounts().umount("/mnt");
      return;
    }
    mm_struct* mm = mm_alloc(&m);
    const long addr = file_mmap(mm, f, 0, o.pages << PAGE_SHIFT, PROT_READ, MAP_SHARED, 0);
    if (addr < 0) r.error = static_cast<int>(addr);
    std::atomic<unsigned> gupping{o.gup_tasks};
    std::atomic<uint64_t> got{0};
    std::atomic<int> gup_err{0};
    std::vector<task_struct*> tasks;
    const uint64_t t0 = ktime_get_ns();
    uint64_t t_end = t0;
    if (addr >= 0) {
      for (unsigned t = 0; t < o.gup_tasks; t++) {
        tasks.push_back(m.spawn(fmt::format("gup{}", t), [&, t] {
          // Interleaved pages: every task faults its own pages in from the device.
          for (uint64_t i = t; i < o.pages; i += o.gup_tasks) {
            page* p = nullptr;
            const long ret = get_user_pages_unlocked(static_cast<unsigned long>(addr) + (i << PAGE_SHIFT), 1, &p,
                                                     FOLL_NONE);
            if (ret != 1) {
              gup_err = ret < 0 ? static_cast<int>(ret) : -EFAULT;
              break;
            }
            put_page(p);
            got++;
          }
          gupping--;
        }, mm));
      }
      tasks.push_back(m.spawn("writer", [&] {
        while (gupping.load() > 0) {
          const long a = vm_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
          if (a < 0) break;
          const uint64_t w0 = ktime_get_ns();
          mmap_write_lock(mm);
          waits.push_back(ktime_get_ns() - w0);
          do_munmap(mm, static_cast<unsigned long>(a), PAGE_SIZE);
          mmap_write_unlock(mm);
          if (o.writer_gap_us) sleep_ns(o.writer_gap_us * 1000);
          else cond_resched();
        }
      }, mm));
      for (size_t i = 0; i + 1 < tasks.size(); i++) task_join(tasks[i]);
      t_end = ktime_get_ns();
      task_join(tasks.back());
    }
    if (gup_err && !r.error) r.error = gup_err;
    r.gup_pages = got;
    const double secs = static_cast<double>(t_end - t0) / 1e9;
    r.gup_pages_per_s = secs > 0 ? static_cast<double>(got) / secs : 0;
    mmput(mm);
    filp_close(f);
    m.mounts().umount("/mnt");
    rcu_barrier();
  });
  r.writer_samples = waits.size();
  r.p50_us = percentile_us(waits, 0.50);
  r.p99_us = percentile_us(waits, 0.99);
  r.max_us = waits.empty() ? 0 : static_cast<double>(*std::max_element(waits.begin(), waits.end())) / 1000.0;
  return r;
}

int mmap_lock_bench_main(int argc, char** argv) {
  CLI::App app{"a writer's mmap_lock wait while GUP faults file pages in from a slow device, retry protocol on and off",
               "guplab mmap-lock-bench"};
  MmapLockBenchOptions o;
  std::string format = "text";
  app.add_option("--latency-us", o.latency_us, "the ramdisk's per-request latency in microseconds")
      ->check(Whole(0, 1000000));
  app.add_option("--pages", o.pages, "pages of the file the GUP tasks fault in (each run)")
      ->check(Whole(1, uint64_t{1} << 18));
  app.add_option("--gup-tasks", o.gup_tasks, "tasks calling get_user_pages_unlocked()")->check(Whole(1, 64));
  app.add_option("--writer-gap-us", o.writer_gap_us, "the writer's pause between its mmap/munmap rounds (us)")
      ->check(Whole(0, 1000000));
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }
  const MmapLockBenchResult on = run_mmap_lock_bench(o, true);
  const MmapLockBenchResult off = run_mmap_lock_bench(o, false);
  for (const auto* r : {&on, &off}) {
    if (r->error) {
      fmt::print(stderr, "guplab mmap-lock-bench: the run with retry {} failed: {}\n", r == &on ? "on" : "off",
                 errname(r->error));
      return 1;
    }
  }
  if (format == "json") {
    auto row = [](const MmapLockBenchResult& r) {
      nlohmann::json j;
      j["writer_wait_us"] = {{"p50", r.p50_us}, {"p99", r.p99_us}, {"max", r.max_us}};
      j["gup_pages_per_s"] = r.gup_pages_per_s;
      j["writer_samples"] = r.writer_samples;
      j["gup_pages"] = r.gup_pages;
      return j;
    };
    nlohmann::json j;
    j["latency_us"] = o.latency_us;
    j["pages"] = o.pages;
    j["gup_tasks"] = o.gup_tasks;
    j["writer_gap_us"] = o.writer_gap_us;
    j["retry_on"] = row(on);
    j["retry_off"] = row(off);
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("mmap-lock-bench: {} GUP tasks x get_user_pages_unlocked() over {} file pages, device latency {} us\n",
             o.gup_tasks, o.pages, o.latency_us);
  fmt::print("{:<10} {:>14} {:>14} {:>14} {:>16} {:>10}\n", "retry", "wait p50 us", "wait p99 us", "wait max us",
             "gup pages/s", "samples");
  for (const auto* r : {&on, &off})
    fmt::print("{:<10} {:>14.1f} {:>14.1f} {:>14.1f} {:>16.0f} {:>10}\n", r == &on ? "on" : "off", r->p50_us,
               r->p99_us, r->max_us, r->gup_pages_per_s, r->writer_samples);
  if (off.p99_us > 0)
    fmt::print("p99 wait, retry on / off: {:.2f}\n", on.p99_us / off.p99_us);
  return 0;
}

}  // namespace guplab::tools
