// script.h - scripting a scenario's interleaving through named sync points.
//
// A Script is configured before the scenario's tasks start and then only read: order()
// loads "a task reaching B waits until A was passed" dependencies; on() attaches
// actions to a point (any number per point, run in the order attached, in the task
// that reaches it: a DMA landing, a check, a note); mark_any() makes a marker point
// pass whenever any of several points passes (an OR, which dependencies alone can't
// express: "writeback wrote the page, or skipped it, or is waiting for the pin").
// pass() is a scenario's own sync point.
//
// Threading: configure from the scenario's body before spawning the tasks that reach
// the points; actions then run in whichever task reaches them.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace guplab {

class ScenarioContext;
class SyncPoints;

class Script {
 public:
  /** REQUIRES: @ctx's machine has sync points enabled (the runner does it when scripted). */
  explicit Script(ScenarioContext& ctx);
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  /**
   * order() - for each (before, after): a task reaching @after waits until @before was
   * passed. A name that claims to be a model point (its prefix is one the model's points
   * use, machine/sync_point_names.h) but is none, and is no marker of this script, is
   * refused: the pair is not loaded and a warn finding names the point (it would never
   * be passed). Points ordered but never passed are reported after the run
   * (run_scenario()). Returns the number of pairs refused (0: all loaded).
   */
  int order(const std::vector<std::pair<std::string, std::string>>& deps);
  /** on() - run @fn each time @point is reached (before the point counts as passed). */
  void on(const std::string& point, std::function<void()> fn);
  /** mark_any() - passing any point of @sources passes @marker too. */
  void mark_any(const std::string& marker, const std::vector<std::string>& sources);
  /** note_at() - put @line in the recent-events ring each time @point is reached. */
  void note_at(const std::string& point, std::string line);

  /** pass() - the running task passes the scenario's own point @name. */
  static void pass(const std::string& name);
  /** passed() - how many times @name has been passed. */
  unsigned long passed(const std::string& name) const;

 private:
  // Not a name that claims to be a model point without being one (see order()).
  bool known(const std::string& name) const;

  ScenarioContext& ctx_;
  SyncPoints& sp_;
  // Written only while configuring (before tasks run); read by the installed callbacks.
  std::map<std::string, std::vector<std::function<void()>>> actions_;
  std::set<std::string> markers_;  // mark_any()'s
};

}  // namespace guplab
