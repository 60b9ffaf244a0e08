// script.cc - actions multiplexed onto sync-point callbacks.
#include "lab/script.h"

#include <fmt/format.h>


#include "lab/scenario.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"

namespace guplab {

Script::Script(ScenarioContext& ctx) : ctx_(ctx), sp_(ctx.machine().sync_points()) {}

bool Script::known(const std::string& name) const {
  return !sp::models_prefix(name) || sp::is_model_sync_point(name) || markers_.count(name) > 0;
}

int Script::order(const std::vector<std::pair<std::string, std::string>>& deps) {
  std::vector<std::pair<std::string, std::string>> ok;
  int refused = 0;
  for (const auto& d : deps) {
    const std::string* bad = !known(d.first) ? &d.first : !known(d.second) ? &d.second : nullptr;
    if (!bad) {
      ok.push_back(d);
      continue;
    }
    refused++;
    ctx_.found(Outcome::warn, fmt::format("the script orders sync point '{}', which the model does not have "
                                          "(misspelt, or renamed in the model?): '{}' before '{}' not loaded",
                                          *bad, d.first, d.second));
  }
  sp_.load_dependency(ok);
  return refused;
}

void Script::on(const std::string& point, std::function<void()> fn) {
  if (!known(point))
    ctx_.found(Outcome::warn, fmt::format("the script acts at sync point '{}', which the model does not have "
                                          "(misspelt, or renamed in the model?)",
                                          point));
  auto& list = actions_[point];
  list.push_back(std::move(fn));
  // One callback per point runs the whole list; the list's address is stable (std::map).
  const std::vector<std::function<void()>>* actions = &list;
  sp_.set_callback(point, [actions] {
    for (const auto& a : *actions) a();
  });
}

void Script::mark_any(const std::string& marker, const std::vector<std::string>& sources) {
  markers_.insert(marker);
  for (const auto& src : sources) on(src, [marker] { TEST_SYNC_POINT(marker.c_str()); });
}

void Script::note_at(const std::string& point, std::string line) {
  on(point, [this, line = std::move(line)] { ctx_.note(line); });
}

void Script::pass(const std::string& name) { TEST_SYNC_POINT(name.c_str()); }

unsigned long Script::passed(const std::string& name) const { return sp_.hits(name); }

}  // namespace guplab
