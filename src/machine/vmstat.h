// vmstat.h - the machine's event and state counters, printed as /proc/vmstat.
//
// Counters are per machine (never global). Hot counters are relaxed atomic adds; a
// reader gets a snapshot that is exact once the machine is quiet.
// Threading: any task.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace guplab {

enum vm_stat_item : unsigned {
  NR_FREE_PAGES,
  NR_ZONE_INACTIVE_ANON,
  NR_ZONE_ACTIVE_ANON,
  NR_ZONE_INACTIVE_FILE,
  NR_ZONE_ACTIVE_FILE,
  NR_ZONE_UNEVICTABLE,
  NR_ANON_MAPPED,
  NR_FILE_PAGES,
  NR_FILE_DIRTY,
  NR_WRITEBACK,
  NR_ANON_THPS,
  NR_PAGETABLE,
  NR_FOLL_PIN_ACQUIRED,
  NR_FOLL_PIN_RELEASED,
  PGALLOC,
  PGFREE,
  PGFAULT,
  PGMAJFAULT,
  PGREUSE,
  COW_FAULTS,  // lab name: write faults that copied a page
  THP_FAULT_ALLOC,
  THP_FAULT_FALLBACK,
  THP_SPLIT_PMD,
  PGSCAN,
  PGSTEAL,
  PGREFILL,
  PGACTIVATE,
  PGROTATED,
  PGPGIN,
  PGPGOUT,
  GUP_FAST_FALLBACK,   // lab: gup_fast calls that fell back to the slow path
  GUP_FAST_PAGES,      // lab: pages taken by the lockless walk
  GUP_SLOW_PAGES,      // lab: pages taken by the slow path
  GUP_PIN_OVERFLOW,    // lab: pins refused with -EOVERFLOW
  PGMIGRATE_SUCCESS,
  PGMIGRATE_FAIL,
  COMPACT_MIGRATE_SCANNED,
  COMPACT_FREE_SCANNED,
  NR_VM_STAT_ITEMS
};

const char* vm_stat_name(vm_stat_item item);

class VmStat {
 public:
  void mod(vm_stat_item i, int64_t delta) { v_[i].fetch_add(delta, std::memory_order_relaxed); }
  void inc(vm_stat_item i) { mod(i, 1); }
  int64_t read(vm_stat_item i) const { return v_[i].load(std::memory_order_relaxed); }
  /** format() - every counter as "name value\n", in /proc/vmstat order. */
  std::string format() const;

 private:
  std::array<std::atomic<int64_t>, NR_VM_STAT_ITEMS> v_{};
};

}  // namespace guplab
