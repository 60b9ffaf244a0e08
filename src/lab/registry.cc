// registry.cc - the list of scenarios `guplab run` knows, in the order they print.
// guplab's own scenario files provide an accessor (lab/scenarios/common.h) listed here;
// any other (out of tree, or a test's) registers itself with GUPLAB_REGISTER_SCENARIO.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/errno.h"
#include "lab/scenario.h"
#include "lab/scenarios/common.h"

namespace guplab {

namespace {

std::vector<const Scenario*>& registry() {
  static std::vector<const Scenario*> kAll = {
      ext4_bug_scenario(), torn_writeback_scenario(), lost_update_scenario(), dio_vs_truncate_scenario(),
      fork_pin_scenario(), gup_put_page_leak_scenario(), uffd_gup_scenario(), uffd_wp_pin_scenario(),
      longterm_truncate_scenario(), migrate_pinned_scenario(), dax_truncate_scenario(),
  };
  return kAll;
}

}  // namespace

const std::vector<const Scenario*>& all_scenarios() { return registry(); }

int register_scenario(const Scenario* s) {
  if (!s || !s->name() || !*s->name()) return -EINVAL;
  for (const Scenario* other : registry())
    if (std::strcmp(other->name(), s->name()) == 0) return -EEXIST;
  registry().push_back(s);
  return 0;
}

int register_scenario_or_die(const Scenario* s) {
  if (int err = register_scenario(s)) {
    std::fputs(fmt::format("guplab: cannot register scenario '{}': {}\n", s && s->name() ? s->name() : "(null)",
                           errname(err))
                   .c_str(),
               stderr);
    std::fflush(nullptr);
    std::_Exit(2);  // maybe inside dlopen(): no exit handlers (machine/registry.cc's registry_die())
  }
  return 0;
}

}  // namespace guplab
