// scenario.cc - running a scenario and applying the generic oracles.
#include "lab/scenario.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/buggify.h"
#include "base/rcu.h"
#include "base/task.h"
#include "drivers/dev_trace.h"
#include "machine/machine.h"
#include "sim/result.h"
#include "base/bug.h"

namespace guplab {

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::oops: return "oops";
    case Outcome::deadlock: return "deadlock";
    case Outcome::corrupt: return "corrupt";
    case Outcome::false_negative: return "false_negative";
    case Outcome::torn: return "torn";
    case Outcome::lost: return "lost";
    case Outcome::leak: return "leak";
    case Outcome::warn: return "warn";
    case Outcome::ok: return "ok";
  }
  return "?";
}

ScenarioContext::~ScenarioContext() {
  GUPLAB_CHECK(tasks_.empty() && "the runner joins every task before the context goes");
  while (!objects_.empty()) objects_.pop_back();
}

void ScenarioContext::found(Outcome o, std::string why) {
  RawSpinGuard g(lock_);
  findings_.emplace_back(o, std::move(why));
}

std::vector<std::pair<Outcome, std::string>> ScenarioContext::findings() const {
  RawSpinGuard g(lock_);
  return findings_;
}

void ScenarioContext::note(std::string_view line) { dev_trace(&m_, line); }

task_struct* ScenarioContext::spawn(const std::string& comm, std::function<void()> fn, mm_struct* mm) {
  GUPLAB_CHECK(!torn_down_ && "spawn() after teardown()");
  // Faults are injected once the scenario's tasks start, not into its setup (a failed
  // mkfs tells nothing about pins); an exploration's choices start here too.
  sim_buggify_arm(true);
  sim_setup_done();
  task_struct* t = m_.spawn(comm, std::move(fn), mm);
  tasks_.push_back(t);
  return t;
}

void ScenarioContext::join(task_struct* t) {
  auto it = std::find(tasks_.begin(), tasks_.end(), t);
  GUPLAB_CHECK(it != tasks_.end() && "join() of a task this context did not spawn, or twice");
  tasks_.erase(it);
  task_join(t);
}

void ScenarioContext::teardown() {
  GUPLAB_CHECK(tasks_.empty() && "teardown() with a spawned task not joined");
  torn_down_ = true;
  sim_teardown_begin();
}

void ScenarioContext::join_all() noexcept {
  while (!tasks_.empty()) {
    task_struct* t = tasks_.front();
    tasks_.erase(tasks_.begin());
    try {
      task_join(t);
    } catch (const MachineHalted&) {
      // Under sim an unwinding run refuses joins; the scheduler frees the task itself.
    }
  }
}

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
  cfg.boot_cache = p.boot_cache;
  cfg.gup_retry = p.gup_retry;
  ScenarioResult r;
  r.scenario = s.name();
  r.params = p;
  Machine m(cfg);
  if (p.backend == Backend::sim) m.set_sim_options(p.sim);
  m.set_trace_sink(p.trace_sink);
  // Sync points are where the oracles look and where scripts order things; an
  // unscripted run keeps the oracles and loads no ordering.
  m.sync_points().enable();
  ScenarioContext ctx(m, p);
  m.run(
      [&] {
        try {
          s.run(ctx);
        } catch (...) {
          ctx.join_all();
          throw;
        }
        ctx.join_all();
      },
      s.name());
  bool deadlocked = false;
  std::vector<std::pair<Outcome, std::string>> all;
  if (const SimRunResult* sr = m.sim_result()) {
    r.steps = sr->steps;
    r.choices = sr->choices;
    r.steps_by_kind = sr->steps_by_kind;
    r.setup_steps = sr->setup_steps;
    r.teardown_steps = sr->teardown_steps;
    r.buggify_fired = sr->buggify_fired;
    r.spurious_wakeups = sr->spurious_wakeups;
    if (sr->outcome == SimOutcome::deadlock || sr->outcome == SimOutcome::step_limit) {
      deadlocked = true;
      std::string who;
      for (const BlockedTask& b : sr->blocked) who += fmt::format("{}{}-{} on {}", who.empty() ? "" : ", ", b.comm, b.pid, b.what);
      all.emplace_back(Outcome::deadlock, sr->outcome == SimOutcome::deadlock
                                              ? fmt::format("every task blocked: {}", who)
                                              : fmt::format("no progress within {} scheduling steps ({} of them setup, {} teardown)",
                                                            sr->steps + sr->setup_steps + sr->teardown_steps,
                                                            sr->setup_steps, sr->teardown_steps));
      r.deadlock_report = sr->format();
      m.halt();  // unwound tasks may have left locks held: tear down as after a crash
    }
  }
  if (!m.halted() && !deadlocked) {
    // The oracle's run is one task: no choices to replay, no faults to inject.
    if (p.backend == Backend::sim && (p.sim.strategy == SimStrategy::replay || p.sim.buggify)) {
      SimOptions quiet = p.sim;
      quiet.strategy = SimStrategy::random;
      quiet.replay.clear();
      quiet.buggify = false;
      quiet.spurious_wakeup_p = 0;
      m.set_sim_options(quiet);
    }
    m.run([&] { s.check(ctx); }, "oracle");
  }

  for (auto& f : ctx.findings()) all.push_back(std::move(f));
  // A script whose point was never passed did not run the interleaving it describes
  // (a point renamed in the model, or a path that no longer passes it): say which.
  if (!m.halted() && !deadlocked)
    for (const std::string& n : m.sync_points().never_passed())
      all.emplace_back(Outcome::warn, fmt::format("the script orders sync point '{}', which no task passed: "
                                                  "the run did not follow the script",
                                                  n));
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
  if (!m.halted() && !deadlocked && r.pins_acquired != r.pins_released)
    all.emplace_back(Outcome::leak, fmt::format("nr_foll_pin_acquired {} != nr_foll_pin_released {}", r.pins_acquired,
                                                r.pins_released));
  for (const auto& w : m.warnings())
    all.emplace_back(Outcome::warn, fmt::format("WARNING at {}: {}{}", w.site, w.cond, w.message.empty() ? "" : " (" + w.message + ")"));

  r.outcome = Outcome::ok;
  std::string passed;
  for (const auto& [o, why] : all) {
    r.findings.push_back(fmt::format("{}: {}", to_string(o), why));
    if (o == Outcome::ok) passed += (passed.empty() ? "" : "; ") + why;
    if (static_cast<int>(o) < static_cast<int>(r.outcome)) {
      r.outcome = o;
      r.reason = why;
    }
  }
  if (r.outcome == Outcome::ok) r.reason = passed.empty() ? "every oracle passed" : "every oracle passed: " + passed;
  return r;
}

const Scenario* find_scenario(const std::string& name) {
  for (const Scenario* s : all_scenarios())
    if (name == s->name()) return s;
  return nullptr;
}

}  // namespace guplab
