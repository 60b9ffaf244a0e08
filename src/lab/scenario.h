// scenario.h - a Scenario sets a machine up, runs tasks on it, and checks the result
// with oracles (DESIGN decision 8).
//
// The runner boots a fresh Machine for each (design, policy, seed), runs the scenario's
// body as the machine's first task, and then applies the generic oracles (oops, WARN,
// pins leaked, deadlock) on top of what the scenario's own oracles reported (torn
// pages, lost updates, false negatives). A result carries the outcome, the reason in
// words, and the events that led to it.
//
// Threading: a Scenario object is immutable and shared; each run has its own Machine
// and ScenarioContext.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "machine/config.h"

namespace guplab {

class Machine;

/** What a run ended with, worst first. */
enum class Outcome : uint8_t { oops, deadlock, false_negative, torn, lost, leak, warn, ok };
inline constexpr Outcome kAllOutcomes[] = {Outcome::oops, Outcome::deadlock, Outcome::false_negative, Outcome::torn,
                                           Outcome::lost, Outcome::leak, Outcome::warn, Outcome::ok};
const char* to_string(Outcome o);

/** How a scenario runs. */
struct ScenarioParams {
  PinDesign design = PinDesign::folio_pincount;
  WritebackPolicy policy = WritebackPolicy::skip;
  uint64_t seed = 1;
  bool scripted = true;           // follow the scenario's sync points (false: scheduler decides)
  Backend backend = Backend::native;
  bool trace = true;              // keep the recent-events ring for oops reports
};

struct ScenarioResult {
  std::string scenario;
  ScenarioParams params;
  Outcome outcome = Outcome::ok;
  std::string reason;                  // the oracle's words
  std::vector<std::string> findings;   // every oracle that fired, "outcome: words"
  std::vector<std::string> events;     // recent events (from the oops, or the end of the run)
  std::string oops_report;             // the first oops, formatted as the kernel would
  int64_t pins_acquired = 0, pins_released = 0;
  uint64_t steps = 0;                  // scheduling decisions (sim backend)
};

/** ScenarioContext - what a running scenario reports its oracles' findings to. */
class ScenarioContext {
 public:
  ScenarioContext(Machine& m, const ScenarioParams& p) : m_(m), p_(p) {}
  Machine& machine() { return m_; }
  const ScenarioParams& params() const { return p_; }
  /** found() - an oracle saw @o; the worst finding wins. */
  void found(Outcome o, std::string why);
  /** note() - add a line to the machine's recent-events ring. */
  void note(std::string line);
  const std::vector<std::pair<Outcome, std::string>>& findings() const { return findings_; }

 private:
  Machine& m_;
  const ScenarioParams& p_;
  std::vector<std::pair<Outcome, std::string>> findings_;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual const char* name() const = 0;
  virtual const char* description() const = 0;
  /** config() - the machine to boot for @p (design and policy are filled in by the runner). */
  virtual MachineConfig config(const ScenarioParams& p) const;
  /** run() - the body, run as the machine's first task; spawn and join tasks inside. */
  virtual void run(ScenarioContext& ctx) const = 0;
  /** check() - scenario oracles after every task has finished (the machine is quiet). */
  virtual void check(ScenarioContext& ctx) const {}
  /** expected() - the outcome the design and the seeds predict, for the matrix verdicts. */
  virtual Outcome expected(PinDesign d, WritebackPolicy p) const = 0;
  /** designs() - which designs the scenario applies to (all by default). */
  virtual bool applies(PinDesign d, WritebackPolicy p) const { return true; }
};

/** run_scenario() - boot, run, apply every oracle. */
ScenarioResult run_scenario(const Scenario& s, const ScenarioParams& p);

/** all_scenarios() - every registered scenario, in a stable order. */
const std::vector<const Scenario*>& all_scenarios();
const Scenario* find_scenario(const std::string& name);

}  // namespace guplab
