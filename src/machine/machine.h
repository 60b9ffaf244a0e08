// machine.h - Machine: one booted model kernel.
//
// Everything a kernel keeps in globals lives here: physical memory and mem_map, zones,
// the LRU, the hugetlb pools, the page-lock wait table, vmstat counters, the oops and WARN logs, the
// recent-events ring, the zero page. Many machines can live in one process (one per
// design, one per explored seed); a task reaches its machine through current().
//
// Threading: construction and destruction happen with no task running on the machine.
// Everything else is safe from any of its tasks.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/bit_wait.h"
#include "base/bug.h"
#include "base/clock.h"
#include "base/raw_spinlock.h"
#include "base/task.h"
#include "machine/config.h"
#include "machine/sync_point.h"
#include "machine/trace_sink.h"
#include "machine/vmstat.h"
#include "mm/lru.h"
#include "mm/memory_model.h"
#include "mm/page_alloc.h"
#include "sim/options.h"
#include "sim/result.h"

namespace guplab {

class SimScheduler;
class BlockLayer;    // block/genhd.h
class MountTable;    // fs/super.h
class FakeVmaTable;  // mm/fake_vma.h
class HugetlbPools;  // mm/hugetlb.h
class Iommu;         // drivers/iommu.h
struct dax_device;  // block/pmem.h

/** One oops: where, which task, what, and the events that led to it. */
struct OopsRecord {
  std::string kind;  // "BUG" / "WARNING"
  std::string site;  // file:line (function)
  std::string cond;
  std::string message;
  std::string task;
  int pid = 0;
  uint64_t time_ns = 0;
  std::vector<std::string> recent_events;
  std::string format() const;
};

class Machine final : public BugSink {
 public:
  explicit Machine(const MachineConfig& cfg);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const MachineConfig& config() const { return cfg_; }
  PinDesign pin_design() const { return cfg_.pin_design; }
  WritebackPolicy wb_policy() const { return cfg_.wb_policy; }
  /**
   * wb_effective_policy() - the writeback policy as it acts: the configured one, or
   * `ignore` under a design that does not track pins (nothing to know).
   */
  WritebackPolicy wb_effective_policy() const { return wb_effective_; }
  /** wb() - the row of wb_effective_policy() (machine/wb_policy.h), computed at boot. */
  const WbPolicy& wb() const { return *wb_; }

  PhysMem& mem() { return mem_; }
  zone* zones() { return zones_; }
  lruvec* lru() { return &lru_; }
  BitWaitTable* bit_wait_table() { return &bit_waits_; }
  VmStat& vmstat() { return vmstat_; }
  SyncPoints& sync_points() { return sync_points_; }
  page* zero_page() const { return zero_page_; }
  unsigned long boot_free_pages() const { return boot_free_pages_; }
  /** block() - the machine's block devices by name (block/genhd.h). */
  BlockLayer& block() { return *block_; }
  /** mounts() - the machine's mounted filesystems (fs/super.h). */
  MountTable& mounts() { return *mounts_; }
  /** fake_vmas() - which fake vmas hold which pins, design fake_vma (mm/fake_vma.h). */
  FakeVmaTable& fake_vmas() { return *fake_vmas_; }
  /** hugetlb() - the machine's hugetlb pools, one per huge page size (mm/hugetlb.h). */
  HugetlbPools& hugetlb() { return *hugetlb_; }
  /** iommu() - the machine's IOMMU model and its scratch frame (drivers/iommu.h). */
  Iommu& iommu() { return *iommu_; }
  /** pmem() - the pmem region's frames (config().pmem_bytes), or null if none (block/pmem.h). */
  dax_device* pmem() const { return pmem_.get(); }

  /** spawn() - start a model task on this machine; join with task_join(). */
  task_struct* spawn(const std::string& comm, std::function<void()> fn, mm_struct* mm = nullptr);
  /** task_init() - a TaskInit for a new task of this machine (for TaskScope). */
  TaskInit task_init(const std::string& comm, mm_struct* mm = nullptr);
  /**
   * run() - run @fn as this machine's first task and wait for every task it spawned.
   * Under the native backend it runs on the calling thread; under sim the machine's
   * scheduler runs all tasks as fibers on the calling thread, with config().seed and
   * sim_options(), and sim_result() tells how the run went (sim/scheduler.h). A sim
   * run ends once every task has ended, so devices and mounts made in it must be removed
   * and unmounted in it (a waiting completion task or flusher would be a deadlock);
   * after it, those still there are offline, their tasks gone.
   */
  void run(const std::function<void()>& fn, const std::string& comm = "init");

  /** set_sim_options() - strategy, limits and faults of later sim runs. REQUIRES: not in run(). */
  void set_sim_options(const SimOptions& opts);
  const SimOptions& sim_options() const { return sim_opts_; }
  /** sim_result() - the last sim run's result; null under native or before a run. */
  const SimRunResult* sim_result() const;

  // BugSink
  void record_oops(const BugReport& r) noexcept override;
  void record_warn(const BugReport& r) noexcept override;
  /**
   * halt() - declare the machine dead without an oops (a sim run that ended in a
   * deadlock or at its step limit: tasks were unwound holding locks). Everything that
   * tears it down afterwards takes the crash path. REQUIRES: not in run().
   */
  void halt() { set_halted(); }

  std::vector<OopsRecord> oopses() const;
  std::vector<OopsRecord> warnings() const;
  size_t nr_oops() const;
  size_t nr_warnings() const;

  /**
   * trace() - add a line to the recent-events ring (when config().trace) and give it to
   * the trace sink, if one is set, as an event named by the line's first word.
   */
  void trace(std::string line);
  /** trace_task_line() - as trace(), for a line about the running task (drivers/dev_trace.h). */
  void trace_task_line(std::string_view what);
  bool tracing() const { return cfg_.trace || trace_sink_; }
  std::vector<std::string> recent_events() const;

  /**
   * set_trace_sink() - deliver every trace_point() (machine/trace_point.h) and trace()
   * line to @sink (not owned; null: none). REQUIRES: no task running on the machine.
   */
  void set_trace_sink(TraceSink* sink) { trace_sink_ = sink; }
  TraceSink* trace_sink() const { return trace_sink_; }
  /** emit_trace() - stamp one event with the task and the time and deliver it. REQUIRES: a sink. */
  void emit_trace(const char* cat, std::string name, std::string args);

 private:
  MachineConfig cfg_;
  WritebackPolicy wb_effective_ = WritebackPolicy::ignore;
  const WbPolicy* wb_ = &wb_policy_row(WritebackPolicy::ignore);
  PhysMem mem_;
  zone zones_[MAX_NR_ZONES];
  lruvec lru_;
  BitWaitTable bit_waits_;
  VmStat vmstat_;
  SyncPoints sync_points_;
  page* zero_page_ = nullptr;
  unsigned long boot_free_pages_ = 0;
  std::atomic<int> next_pid_{1};
  SimOptions sim_opts_;
  TraceSink* trace_sink_ = nullptr;
  uint64_t boot_host_ns_ = host_time_ns();  // native trace times count from boot
  std::unique_ptr<SimScheduler> sim_;  // the sim backend, created by the first sim run()

  void push_ring(std::string line);
  void emit_trace_line(std::string_view line);  // a free-form line, named by its first word

  mutable RawSpinlock log_lock_;
  std::vector<OopsRecord> oopses_ GUARDED_BY(log_lock_);
  std::vector<OopsRecord> warnings_ GUARDED_BY(log_lock_);
  std::vector<std::string> warned_once_ GUARDED_BY(log_lock_);
  std::vector<std::string> ring_ GUARDED_BY(log_lock_);
  size_t ring_next_ GUARDED_BY(log_lock_) = 0;

  std::unique_ptr<FakeVmaTable> fake_vmas_;
  std::unique_ptr<HugetlbPools> hugetlb_;
  std::unique_ptr<Iommu> iommu_;
  std::unique_ptr<dax_device> pmem_;
  // Block devices: their completion tasks and in-flight I/O use the RAM above, so
  // ~Machine stops them first.
  std::unique_ptr<BlockLayer> block_;
  // Mounted filesystems: their flushers submit to the devices above, so they go first
  // of all (without writing anything back: a crash).
  std::unique_ptr<MountTable> mounts_;
};

/** current_machine() - the running task's machine. REQUIRES: running in a model task. */
Machine* current_machine();

/** mod_vmstat() / count_vm_event() - counters of the running task's machine. */
void mod_vmstat(vm_stat_item item, int64_t delta);
inline void count_vm_event(vm_stat_item item) { mod_vmstat(item, 1); }

}  // namespace guplab
