// script.cc - actions multiplexed onto sync-point callbacks.
#include "lab/script.h"


#include "lab/scenario.h"
#include "machine/machine.h"
#include "machine/sync_point.h"

namespace guplab {

Script::Script(ScenarioContext& ctx) : ctx_(ctx), sp_(ctx.machine().sync_points()) {}

void Script::order(const std::vector<std::pair<std::string, std::string>>& deps) { sp_.load_dependency(deps); }

void Script::on(const std::string& point, std::function<void()> fn) {
  auto& list = actions_[point];
  list.push_back(std::move(fn));
  // One callback per point runs the whole list; the list's address is stable (std::map).
  const std::vector<std::function<void()>>* actions = &list;
  sp_.set_callback(point, [actions] {
    for (const auto& a : *actions) a();
  });
}

void Script::mark_any(const std::string& marker, const std::vector<std::string>& sources) {
  for (const auto& src : sources) on(src, [marker] { TEST_SYNC_POINT(marker.c_str()); });
}

void Script::note_at(const std::string& point, std::string line) {
  on(point, [this, line = std::move(line)] { ctx_.note(line); });
}

void Script::pass(const std::string& name) { TEST_SYNC_POINT(name.c_str()); }

unsigned long Script::passed(const std::string& name) const { return sp_.hits(name); }

}  // namespace guplab
