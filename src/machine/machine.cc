// machine.cc - booting a machine: memory, zones, zero page; logs and tasks.
#include "machine/machine.h"

#include <fmt/format.h>

#include <cstring>

#include "base/preempt.h"
#include "base/rcu.h"
#include "block/genhd.h"
#include "block/pmem.h"
#include "drivers/iommu.h"
#include "machine/boot_cache.h"
#include "fs/super.h"
#include "mm/fake_vma.h"
#include "mm/hugetlb.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"
#include "mm/pin_design.h"
#include "sim/scheduler.h"
#include "base/bug.h"

namespace guplab {

std::string OopsRecord::format() const {
  std::string out = "------------[ cut here ]------------\n";
  if (kind == "BUG" && cond == kMightSleepCond)  // base/preempt.h: the kernel's own wording
    out += fmt::format("BUG: {} at {}\n", cond, site);
  else
    out += fmt::format("{} at {}: {}\n", kind == "BUG" ? "kernel BUG" : "WARNING", site, cond);
  if (!message.empty()) out += fmt::format("  {}\n", message);
  out += fmt::format("CPU: 0 PID: {} Comm: {} time: {}.{:06} \n", pid, task, time_ns / 1000000000, (time_ns / 1000) % 1000000);
  if (!recent_events.empty()) {
    out += "Recent events (oldest first):\n";
    for (const auto& e : recent_events) out += fmt::format("  {}\n", e);
  }
  out += "---[ end trace ]---\n";
  return out;
}

namespace {
// "fs/ext4/inode.cc" for ".../src/fs/ext4/inode.cc": sites read as the kernel's do.
std::string_view source_path(std::string_view file) {
  const size_t at = file.rfind("/src/");
  return at == std::string_view::npos ? file : file.substr(at + 5);
}
}  // namespace

Machine::Machine(const MachineConfig& cfg)
    : cfg_(cfg), mem_(this, cfg.ram_bytes, cfg.boot_cache ? &cfg.boot_cache->mem : nullptr) {
  if (cfg.boot_cache) sync_points_.adopt(std::move(cfg.boot_cache->sync_names));
  bit_waits_.set_key_base(page_memmap_header(mem_.mem_map()));
  // The writeback policy's row, once: under a design that tracks nothing, every policy
  // acts as ignore.
  wb_effective_ = pin_design_props(cfg.pin_design).tracks_pins ? cfg.wb_policy : WritebackPolicy::ignore;
  wb_ = &wb_policy_row(wb_effective_);
  lruvec_init(&lru_);
  const unsigned long nr = mem_.nr_pages();
  // ZONE_NORMAL first, ZONE_MOVABLE after, split on a MAX_ORDER block boundary.
  const unsigned long block = 1ul << (MAX_ORDER - 1);
  unsigned long normal = (nr * cfg.normal_zone_percent / 100) / block * block;
  if (normal == 0) normal = block;
  if (normal > nr) normal = nr;
  // pfn 0 is the shared zero page, never freed.
  zero_page_ = mem_.pfn_to_page(0);
  zone_init(this, &zones_[ZONE_NORMAL], ZONE_NORMAL, "Normal", 0, normal, 0);
  zone_init(this, &zones_[ZONE_MOVABLE], ZONE_MOVABLE, "Movable", normal, nr - normal, ~0ul);
  std::memset(page_address(zero_page_), 0, PAGE_SIZE);
  __SetPageReserved(zero_page_);
  __SetPageZero(zero_page_);
  __SetPageUptodate(zero_page_);
  init_page_count(zero_page_);
  hugetlb_ = std::make_unique<HugetlbPools>(this, cfg);  // may refuse the boot
  if (cfg.pmem_bytes) pmem_ = pmem_reserve_boot(this, cfg.pmem_bytes);  // may refuse the boot
  boot_free_pages_ = nr_free_pages(this);
  vmstat_.mod(NR_FREE_PAGES, static_cast<int64_t>(boot_free_pages_));
  fake_vmas_ = std::make_unique<FakeVmaTable>();
  iommu_ = std::make_unique<Iommu>(&mem_);
  block_ = std::make_unique<BlockLayer>(this);
  mounts_ = std::make_unique<MountTable>(this);
}

Machine::~Machine() {
  mounts_.reset();  // flushers stop; page caches are dropped, nothing is written back
  block_.reset();  // devices end their I/O and completion tasks while RAM is still here
  // Page-table pages of torn-down address spaces are freed through call_rcu(); they
  // live in this machine's arena, so every callback must have run before it goes.
  rcu_barrier();
  if (cfg_.boot_cache) cfg_.boot_cache->sync_names = sync_points_.release();
}

TaskInit Machine::task_init(const std::string& comm, mm_struct* mm) {
  TaskInit ti;
  ti.comm = comm;
  ti.machine = this;
  ti.bugs = this;
  ti.mm = mm;
  ti.pid = next_pid_.fetch_add(1, std::memory_order_relaxed);
  ti.seed = cfg_.seed;
  return ti;
}

task_struct* Machine::spawn(const std::string& comm, std::function<void()> fn, mm_struct* mm) {
  return task_spawn(task_init(comm, mm), std::move(fn));
}

void Machine::run(const std::function<void()>& fn, const std::string& comm) {
  if (cfg_.backend == Backend::sim) {
    if (!sim_) {
      sim_ = std::make_unique<SimScheduler>([this](const std::string& c) { return task_init(c); });
      if (cfg_.boot_cache) sim_->share_stacks(cfg_.boot_cache->stacks(sim_opts_.stack_size));
    }
    sim_->run(sim_opts_, cfg_.seed, this, task_init(comm), fn);
    // Every task of the run is gone with it, devices' completion tasks and flushers too.
    block_->sim_run_ended();
    mounts_->sim_run_ended();
    return;
  }
  TaskScope scope(task_init(comm));
  run_task_body(scope.task(), fn);
}

void Machine::set_sim_options(const SimOptions& opts) {
  GUPLAB_CHECK(!(sim_ && sim_->in_run()) && "set_sim_options() during a sim run");
  sim_opts_ = opts;
}

const SimRunResult* Machine::sim_result() const { return sim_ ? &sim_->result() : nullptr; }

void Machine::record_oops(const BugReport& r) noexcept {
  try {
    OopsRecord o;
    o.kind = r.kind;
    o.site = fmt::format("{}:{} ({})", source_path(r.file), r.line, r.func);
    o.cond = r.cond;
    o.message = r.message;
    if (task_struct* t = current()) {
      o.task = t->comm;
      o.pid = t->pid;
    }
    // Under sim, the virtual time of the oops (reading it is not a scheduling point).
    o.time_ns = sim_hooks() ? sim_hooks()->now_ns() : host_time_ns();
    o.recent_events = recent_events();
    if (trace_sink_) emit_trace("oops", o.kind, fmt::format("{} at {}{}", o.cond, o.site, o.message.empty() ? "" : ": " + o.message));
    RawSpinGuard g(log_lock_);
    oopses_.push_back(std::move(o));
  } catch (...) {
  }
  set_halted();
}

void Machine::record_warn(const BugReport& r) noexcept {
  try {
    OopsRecord o;
    o.kind = r.kind;
    o.site = fmt::format("{}:{} ({})", source_path(r.file), r.line, r.func);
    o.cond = r.cond;
    o.message = r.message;
    if (task_struct* t = current()) {
      o.task = t->comm;
      o.pid = t->pid;
    }
    if (trace_sink_) emit_trace("warn", o.kind, fmt::format("{} at {}{}", o.cond, o.site, o.message.empty() ? "" : ": " + o.message));
    RawSpinGuard g(log_lock_);
    if (r.once) {
      for (const auto& s : warned_once_)
        if (s == o.site) return;
      warned_once_.push_back(o.site);
    }
    warnings_.push_back(std::move(o));
  } catch (...) {
  }
}

std::vector<OopsRecord> Machine::oopses() const {
  RawSpinGuard g(log_lock_);
  return oopses_;
}
std::vector<OopsRecord> Machine::warnings() const {
  RawSpinGuard g(log_lock_);
  return warnings_;
}
size_t Machine::nr_oops() const {
  RawSpinGuard g(log_lock_);
  return oopses_.size();
}
size_t Machine::nr_warnings() const {
  RawSpinGuard g(log_lock_);
  return warnings_.size();
}

namespace {

// The category of a free-form trace line, from its first word ("reclaim: ...").
const char* line_category(std::string_view word) {
  static constexpr std::pair<std::string_view, const char*> kCats[] = {
      {"reclaim", "reclaim"},       {"try_to_unmap", "reclaim"},   {"writeback", "writeback"},
      {"clear_page_dirty_for_io", "writeback"}, {"ext4_writepage", "writeback"}, {"flusher", "writeback"},
      {"page_mkclean", "writeback"}, {"truncate", "truncate"},     {"fault", "fault"},
      {"fake_vma", "pin"},          {"ext4", "fs"},               {"mount", "fs"},
      {"umount", "fs"},             {"sync", "fs"},
  };
  for (const auto& [w, c] : kCats)
    if (word == w) return c;
  if (word.starts_with("ram") || word.starts_with("rd") || word.starts_with("dma") || word.starts_with("nvme")) return "dma";
  return "dev";
}

void split_line(std::string_view line, std::string* name, std::string* args) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon > 40) {
    *name = "event";
    *args = std::string(line);
    return;
  }
  *name = std::string(line.substr(0, colon));
  size_t rest = colon + 1;
  while (rest < line.size() && line[rest] == ' ') rest++;
  *args = std::string(line.substr(rest));
}

}  // namespace

void Machine::emit_trace(const char* cat, std::string name, std::string args) {
  GUPLAB_CHECK(trace_sink_);
  TraceEvent e;
  e.cat = cat;
  e.name = std::move(name);
  if (const task_struct* t = current()) {
    e.pid = t->pid;
    e.comm = t->comm.c_str();
  }
  // Reading the virtual clock directly is not a scheduling point (ktime_get_ns() is).
  e.time_ns = sim_hooks() ? sim_hooks()->now_ns() : host_time_ns() - boot_host_ns_;
  e.args = std::move(args);
  trace_sink_->on_trace(e);
}

void Machine::emit_trace_line(std::string_view line) {
  std::string name, args;
  split_line(line, &name, &args);
  emit_trace(line_category(name), std::move(name), std::move(args));
}

void Machine::trace_task_line(std::string_view what) {
  if (trace_sink_) emit_trace_line(what);
  if (!cfg_.trace) return;
  const task_struct* t = current();
  push_ring(fmt::format("{}-{}: {}", t ? t->comm : std::string("?"), t ? t->pid : 0, what));
}

void Machine::trace(std::string line) {
  if (trace_sink_) emit_trace_line(line);
  if (!cfg_.trace) return;
  push_ring(std::move(line));
}

void Machine::push_ring(std::string line) {
  RawSpinGuard g(log_lock_);
  if (ring_.size() < cfg_.trace_ring) {
    ring_.push_back(std::move(line));
  } else {
    ring_[ring_next_] = std::move(line);
    ring_next_ = (ring_next_ + 1) % ring_.size();
  }
}

std::vector<std::string> Machine::recent_events() const {
  RawSpinGuard g(log_lock_);
  std::vector<std::string> out;
  for (size_t i = 0; i < ring_.size(); i++) out.push_back(ring_[(ring_next_ + i) % ring_.size()]);
  return out;
}

Machine* current_machine() {
  task_struct* t = current();
  BUG_ON(!t || !t->machine);
  return t->machine;
}

void mod_vmstat(vm_stat_item item, int64_t delta) { current_machine()->vmstat().mod(item, delta); }

}  // namespace guplab
