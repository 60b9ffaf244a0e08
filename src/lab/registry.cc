// registry.cc - the list of scenarios `guplab run` knows, in the order they print.
// Each scenario file provides an accessor (lab/scenarios/common.h); add a line here to
// register a new one.
#include "lab/scenario.h"
#include "lab/scenarios/common.h"

namespace guplab {

const std::vector<const Scenario*>& all_scenarios() {
  static const std::vector<const Scenario*> kAll = {
      ext4_bug_scenario(), torn_writeback_scenario(), lost_update_scenario(), dio_vs_truncate_scenario(),
      fork_pin_scenario(), gup_put_page_leak_scenario(),
      dax_truncate_scenario(),
  };
  return kAll;
}

}  // namespace guplab
