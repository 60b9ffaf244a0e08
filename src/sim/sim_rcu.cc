// sim_rcu.cc - grace-period snapshots and the callback queue.
#include "sim/sim_rcu.h"
#include "base/bug.h"


namespace guplab {

void SimRcu::add_task(SimChoice id) {
  GUPLAB_CHECK(id == tasks_.size());
  tasks_.emplace_back();
}

void SimRcu::task_ended(SimChoice id) {
  TaskState& t = tasks_.at(id);
  if (t.reading) exit(id);  // ended inside a section (unwound): it holds nothing now
  t.ended = true;
}

void SimRcu::enter(SimChoice id) {
  TaskState& t = tasks_.at(id);
  GUPLAB_CHECK(!t.reading && !t.ended);
  t.reading = true;
  nr_reading_++;
}

void SimRcu::exit(SimChoice id) {
  TaskState& t = tasks_.at(id);
  GUPLAB_CHECK(t.reading);
  t.reading = false;
  t.exits++;
  nr_reading_--;
}

SimRcu::Snapshot SimRcu::snapshot() const {
  Snapshot s;
  if (nr_reading_ == 0) return s;
  for (size_t id = 0; id < tasks_.size(); id++)
    if (tasks_[id].reading) s.push_back({static_cast<SimChoice>(id), tasks_[id].exits});
  return s;
}

bool SimRcu::complete(const Snapshot& s) const {
  for (const Reader& r : s) {
    const TaskState& t = tasks_.at(r.id);
    if (!t.ended && t.exits == r.exits) return false;
  }
  return true;
}

void SimRcu::enqueue(rcu_head* head) {
  pending_.push_back({head, snapshot()});
  queued_++;
}

rcu_head* SimRcu::pop_ready() {
  if (!has_ready()) return nullptr;
  rcu_head* h = pending_.front().head;
  pending_.pop_front();
  return h;
}

}  // namespace guplab
