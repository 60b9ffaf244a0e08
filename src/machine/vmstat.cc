// vmstat.cc - counter names as /proc/vmstat spells them.
#include "machine/vmstat.h"

#include <fmt/format.h>

namespace guplab {

const char* vm_stat_name(vm_stat_item item) {
  static constexpr const char* kNames[NR_VM_STAT_ITEMS] = {
      "nr_free_pages",        "nr_zone_inactive_anon", "nr_zone_active_anon",
      "nr_zone_inactive_file", "nr_zone_active_file",  "nr_zone_unevictable",
      "nr_anon_pages",        "nr_file_pages",         "nr_dirty",
      "nr_writeback",         "nr_anon_transparent_hugepages", "nr_page_table_pages",
      "nr_foll_pin_acquired", "nr_foll_pin_released",  "pgalloc",
      "pgfree",               "pgfault",               "pgmajfault",
      "pgreuse",              "cow_faults",            "thp_fault_alloc",
      "thp_fault_fallback",   "thp_split_pmd",         "pgscan",
      "pgsteal",              "pgrefill",              "pgactivate",
      "pgrotated",            "pgpgin",                "pgpgout",
      "gup_fast_fallback",    "gup_fast_pages",        "gup_slow_pages",
      "gup_pin_overflow",
      "pgmigrate_success",    "pgmigrate_fail",        "compact_migrate_scanned",
      "compact_free_scanned",
  };
  return item < NR_VM_STAT_ITEMS ? kNames[item] : "?";
}

std::string VmStat::format() const {
  std::string out;
  for (unsigned i = 0; i < NR_VM_STAT_ITEMS; i++)
    out += fmt::format("{} {}\n", vm_stat_name(static_cast<vm_stat_item>(i)), read(static_cast<vm_stat_item>(i)));
  return out;
}

}  // namespace guplab
