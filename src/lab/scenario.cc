// scenario.cc - running a scenario and applying the generic oracles.
#include "lab/scenario.h"

#include <fmt/format.h>

#include "base/rcu.h"
#include "machine/machine.h"

namespace guplab {

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::oops: return "oops";
    case Outcome::deadlock: return "deadlock";
    case Outcome::false_negative: return "false_negative";
    case Outcome::torn: return "torn";
    case Outcome::lost: return "lost";
    case Outcome::leak: return "leak";
    case Outcome::warn: return "warn";
    case Outcome::ok: return "ok";
  }
  return "?";
}

void ScenarioContext::found(Outcome o, std::string why) { findings_.emplace_back(o, std::move(why)); }

void ScenarioContext::note(std::string line) { m_.trace(std::move(line)); }

MachineConfig Scenario::config(const ScenarioParams&) const {
  MachineConfig c;
  c.ram_bytes = 64ull << 20;
  return c;
}

ScenarioResult run_scenario(const Scenario& s, const ScenarioParams& p) {
  MachineConfig cfg = s.config(p);
  cfg.pin_design = p.design;
  cfg.wb_policy = p.policy;
  cfg.seed = p.seed;
  cfg.backend = p.backend;
  cfg.trace = p.trace;
  ScenarioResult r;
  r.scenario = s.name();
  r.params = p;
  Machine m(cfg);
  if (p.scripted) m.sync_points().enable();
  ScenarioContext ctx(m, p);
  m.run([&] { s.run(ctx); }, s.name());
  if (!m.halted()) m.run([&] { s.check(ctx); }, "oracle");

  std::vector<std::pair<Outcome, std::string>> all = ctx.findings();
  if (m.nr_oops()) {
    OopsRecord o = m.oopses()[0];
    all.emplace_back(Outcome::oops, fmt::format("{} at {}: {}{}", o.kind == "BUG" ? "kernel BUG" : o.kind, o.site, o.cond,
                                                o.message.empty() ? "" : " (" + o.message + ")"));
    r.oops_report = o.format();
    r.events = o.recent_events;
  } else {
    r.events = m.recent_events();
  }
  r.pins_acquired = m.vmstat().read(NR_FOLL_PIN_ACQUIRED);
  r.pins_released = m.vmstat().read(NR_FOLL_PIN_RELEASED);
  if (!m.halted() && r.pins_acquired != r.pins_released)
    all.emplace_back(Outcome::leak, fmt::format("nr_foll_pin_acquired {} != nr_foll_pin_released {}", r.pins_acquired,
                                                r.pins_released));
  for (const auto& w : m.warnings())
    all.emplace_back(Outcome::warn, fmt::format("WARNING at {}: {}{}", w.site, w.cond, w.message.empty() ? "" : " (" + w.message + ")"));

  r.outcome = Outcome::ok;
  r.reason = "every oracle passed";
  for (const auto& [o, why] : all) {
    r.findings.push_back(fmt::format("{}: {}", to_string(o), why));
    if (static_cast<int>(o) < static_cast<int>(r.outcome)) {
      r.outcome = o;
      r.reason = why;
    }
  }
  return r;
}

const Scenario* find_scenario(const std::string& name) {
  for (const Scenario* s : all_scenarios())
    if (name == s->name()) return s;
  return nullptr;
}

}  // namespace guplab
