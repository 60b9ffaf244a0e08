// sync_point.cc - waiting for predecessors and running callbacks.
#include "machine/sync_point.h"

#include "base/sched.h"
#include "base/task.h"
#include "machine/machine.h"

namespace guplab {

void SyncPoints::load_dependency(const std::vector<std::pair<std::string, std::string>>& deps) {
  RawSpinGuard g(lock_);
  for (const auto& [pred, succ] : deps) {
    predecessors_[succ].push_back(pred);
    ordered_.insert(pred);
    ordered_.insert(succ);
  }
  if (!deps.empty()) has_deps_.store(true, std::memory_order_release);
}

void SyncPoints::set_callback(const std::string& name, std::function<void()> fn) {
  RawSpinGuard g(lock_);
  callbacks_[name] = std::move(fn);
}

void SyncPoints::clear_all() {
  RawSpinGuard g(lock_);
  predecessors_.clear();
  callbacks_.clear();
  passed_.clear();
  ordered_.clear();
  has_deps_.store(false, std::memory_order_release);
}

std::vector<std::string> SyncPoints::never_passed() {
  RawSpinGuard g(lock_);
  std::vector<std::string> out;
  for (const auto& n : ordered_)
    if (passed_.find(n) == passed_.end()) out.push_back(n);
  return out;
}

bool SyncPoints::reached(const std::string& name) { return hits(name) > 0; }

unsigned long SyncPoints::hits(const std::string& name) {
  RawSpinGuard g(lock_);
  auto it = passed_.find(name);
  return it == passed_.end() ? 0 : it->second;
}

void SyncPoints::process(const char* name) {
  if (!enabled()) return;
  if (SimHooks* h = sim_hooks()) h->sync_point(name);
  const std::string_view n(name);
  std::function<void()> cb;
  // A test holding a task at a sync point (and its callback) is the lab's doing, not
  // the model's: it may do so in interrupt context without a might_sleep() report.
  LabSleepScope lab;
  // What the task waits for, named, so that a deadlock report (sim) or a stuck run
  // (native, in a debugger) says which point of the script never came: often a
  // misspelt name, or a code path that no longer passes it.
  std::string waiting;
  auto ready = [&] {
    RawSpinGuard g(lock_);
    auto it = predecessors_.find(n);
    if (it == predecessors_.end()) return true;
    for (const auto& p : it->second)
      if (passed_.find(p) == passed_.end()) {
        waiting = "sync point '" + std::string(n) + "' waits for '" + p + "', never reached so far";
        return false;
      }
    return true;
  };
  const bool deps = has_deps_.load(std::memory_order_acquire);
  might_sleep();
  for (;;) {
    if (!deps) break;
    const uint32_t s = wq_.seq.load(std::memory_order_acquire);
    if (ready()) break;
    wait_queue_sleep(&wq_, s, waiting.c_str());
  }
  {
    RawSpinGuard g(lock_);
    auto it = callbacks_.find(n);
    if (it != callbacks_.end()) cb = it->second;
  }
  if (cb) cb();
  {
    RawSpinGuard g(lock_);
    auto it = passed_.find(n);
    if (it == passed_.end())
      passed_.emplace(std::string(n), 1);
    else
      it->second++;
  }
  if (deps) wake_up_all(&wq_);
}

void sync_point(const char* name) {
  task_struct* t = current();
  if (!t || !t->machine) return;
  SyncPoints& sp = t->machine->sync_points();
  if (!sp.enabled()) return;
  sp.process(name);
}

}  // namespace guplab
