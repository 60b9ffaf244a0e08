// sync_point.cc - waiting for predecessors and running callbacks.
#include "machine/sync_point.h"

#include <algorithm>
#include <cstring>

#include "base/bug.h"
#include "base/sched.h"
#include "base/task.h"
#include "machine/machine.h"

namespace guplab {

SyncPoints::Entry& SyncPoints::entry(std::string_view name) {
  auto it = names_.points_.find(name);
  if (it == names_.points_.end()) it = names_.points_.emplace(std::string(name), Point{}).first;
  return *it;
}

SyncPoints::Point& SyncPoints::point_of(const char* name) {
  Memo& m = names_.memo_[(reinterpret_cast<uintptr_t>(name) >> 3) % kMemoSlots];
  if (m.name == name && std::strcmp(m.entry->first.c_str(), name) == 0) return m.entry->second;
  m = Memo{name, &entry(name)};
  return m.entry->second;
}

void SyncPoints::load_dependency(const std::vector<std::pair<std::string, std::string>>& deps) {
  RawSpinGuard g(lock_);
  for (const auto& [pred, succ] : deps) {
    Point& s = point(succ);
    s.predecessors.push_back(pred);
    s.ordered = true;
    point(pred).ordered = true;
  }
  if (!deps.empty()) has_deps_ = true;
}

void SyncPoints::set_callback(const std::string& name, std::function<void()> fn) {
  RawSpinGuard g(lock_);
  point(name).callback = fn ? std::make_shared<const std::function<void()>>(std::move(fn)) : nullptr;
}

void SyncPoints::adopt(Names&& n) {
  RawSpinGuard g(lock_);
  GUPLAB_CHECK(names_.points_.empty() && !has_deps_ && "adopt() into a table in use");
  names_ = std::move(n);
  n.points_.clear();
  n.memo_.fill(Memo{});
}

SyncPoints::Names SyncPoints::release() {
  RawSpinGuard g(lock_);
  Names out;
  if (names_.points_.size() <= kMaxKeptNames) {
    for (auto& [name, pt] : names_.points_) pt = Point{};
    std::swap(out, names_);
  }
  names_.points_.clear();
  names_.memo_.fill(Memo{});
  has_deps_ = false;
  return out;
}

void SyncPoints::clear_all() {
  RawSpinGuard g(lock_);
  names_.points_.clear();
  names_.memo_.fill(Memo{});
  has_deps_ = false;
}

std::vector<std::string> SyncPoints::never_passed() {
  RawSpinGuard g(lock_);
  std::vector<std::string> out;
  for (const auto& [n, pt] : names_.points_)
    if (pt.ordered && pt.passed == 0) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

bool SyncPoints::reached(const std::string& name) { return hits(name) > 0; }

unsigned long SyncPoints::hits(const std::string& name) {
  RawSpinGuard g(lock_);
  auto it = names_.points_.find(name);
  return it == names_.points_.end() ? 0 : it->second.passed;
}

void SyncPoints::process(const char* name) {
  if (!enabled()) return;
  if (SimHooks* h = sim_hooks()) h->sync_point(name);
  // Entries are looked up again after every unlocked stretch: a test may clear_all()
  // while a device's task is inside process() (clear_all() frees them). has_deps_ is
  // read under the lock that load_dependency() sets it under: a pass that counts itself
  // without waking anyone did so before any dependency (and so any waiter) existed.
  bool deps;
  {
    RawSpinGuard g(lock_);
    Point& pt = point_of(name);
    deps = has_deps_;
    if (!deps && !pt.callback) {  // most passes: nothing to wait for, nothing to run
      pt.passed++;
      return;
    }
  }
  std::shared_ptr<const std::function<void()>> cb;
  // A test holding a task at a sync point (and its callback) is the lab's doing, not
  // the model's: it may do so in interrupt context without a might_sleep() report.
  LabSleepScope lab;
  // What the task waits for, named, so that a deadlock report (sim) or a stuck run
  // (native, in a debugger) says which point of the script never came: often a
  // misspelt name, or a code path that no longer passes it.
  std::string waiting;
  auto ready = [&] {
    RawSpinGuard g(lock_);
    for (const auto& p : point_of(name).predecessors) {
      auto it = names_.points_.find(p);
      if (it == names_.points_.end() || it->second.passed == 0) {
        waiting = "sync point '" + std::string(name) + "' waits for '" + p + "', never reached so far";
        return false;
      }
    }
    return true;
  };
  might_sleep();
  while (deps) {
    const uint32_t s = wq_.seq.load(std::memory_order_acquire);
    if (ready()) break;
    wait_queue_sleep(&wq_, s, waiting.c_str());
  }
  {
    RawSpinGuard g(lock_);
    const Point& pt = point_of(name);
    if (pt.callback) cb = pt.callback;
  }
  if (cb) (*cb)();
  {
    RawSpinGuard g(lock_);
    point_of(name).passed++;
    deps = has_deps_;
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
