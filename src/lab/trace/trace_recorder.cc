// trace_recorder.cc - collecting a run's events and writing them as JSON or ftrace text.
#include "lab/trace/trace_recorder.h"

#include <fmt/format.h>

#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

namespace guplab {

namespace {

struct KindInfo {
  const char* cat;
  const char* name;
};

KindInfo kind_info(SimEventKind k) {
  switch (k) {
    case SimEventKind::task_start: return {"sched", "task_start"};
    case SimEventKind::task_end: return {"sched", "task_end"};
    case SimEventKind::switch_to: return {"sched", "sched_switch"};
    case SimEventKind::block: return {"lock", "block"};
    case SimEventKind::wake: return {"sched", "sched_wakeup"};
    case SimEventKind::sleep: return {"sched", "sleep"};
    case SimEventKind::sync_point: return {"sync", "sync_point"};
    case SimEventKind::rcu_gp_wait: return {"rcu", "synchronize_rcu"};
    case SimEventKind::rcu_callback: return {"rcu", "rcu_callback"};
    case SimEventKind::spurious_wakeup: return {"fault_injection", "spurious_wakeup"};
    case SimEventKind::buggify: return {"fault_injection", "buggify"};
    case SimEventKind::deadlock: return {"sched", "deadlock"};
    case SimEventKind::halt: return {"sched", "halt"};
    case SimEventKind::abort_unwind: return {"sched", "unwind"};
  }
  return {"sched", "?"};
}

}  // namespace

void TraceRecorder::on_event(const SimEvent& e) {
  const KindInfo ki = kind_info(e.kind);
  Record r;
  r.time_ns = e.time_ns;
  r.pid = e.pid;
  r.comm = e.comm ? e.comm : "";
  r.cat = ki.cat;
  r.name = ki.name;
  switch (e.kind) {
    case SimEventKind::switch_to: r.run_start = true; break;
    case SimEventKind::block:
      r.run_end = true;
      r.args = fmt::format("on={}", e.name ? e.name : "?");
      break;
    case SimEventKind::sleep:
      r.run_end = true;
      r.args = fmt::format("until={}", e.arg);
      break;
    case SimEventKind::task_end: r.run_end = true; break;
    case SimEventKind::wake: r.args = fmt::format("waker={}", e.arg); break;
    case SimEventKind::sync_point:
      r.name = e.name ? e.name : "?";
      break;
    case SimEventKind::rcu_gp_wait: r.args = fmt::format("readers={}", e.arg); break;
    case SimEventKind::spurious_wakeup: r.args = fmt::format("on={}", e.name ? e.name : "?"); break;
    case SimEventKind::buggify: r.args = fmt::format("site={}", e.name ? e.name : "?"); break;
    case SimEventKind::deadlock: r.args = fmt::format("blocked={}", e.arg); break;
    default: break;
  }
  r.args += (r.args.empty() ? "" : " ") + fmt::format("step={}", e.step);
  add(std::move(r));
}

void TraceRecorder::on_trace(const TraceEvent& e) {
  Record r;
  r.time_ns = e.time_ns;
  r.pid = e.pid;
  r.comm = e.comm ? e.comm : "";
  r.cat = e.cat;
  r.name = e.name;
  r.args = e.args;
  add(std::move(r));
}

void TraceRecorder::add(Record r) {
  RawSpinGuard g(lock_);
  records_.push_back(std::move(r));
}

std::vector<TraceRecorder::Record> TraceRecorder::records() const {
  RawSpinGuard g(lock_);
  return records_;
}

size_t TraceRecorder::size() const {
  RawSpinGuard g(lock_);
  return records_.size();
}

void TraceRecorder::write_json(std::ostream& out) const {
  const std::vector<Record> recs = records();
  using nlohmann::json;
  json events = json::array();
  std::map<int, std::string> names;  // pid -> "comm-pid", in pid order
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  int open_pid = -1;
  uint64_t open_at = 0;
  auto close_slice = [&](uint64_t at) {
    if (open_pid < 0) return;
    events.push_back({{"name", "running"}, {"cat", "sched"}, {"ph", "X"}, {"pid", 1}, {"tid", open_pid},
                      {"ts", us(open_at)}, {"dur", us(at - open_at)}});
    open_pid = -1;
  };
  uint64_t last = 0;
  for (const Record& r : recs) {
    last = r.time_ns;
    if (r.pid && !names.count(r.pid)) names[r.pid] = fmt::format("{}-{}", r.comm, r.pid);
    if (r.run_start) {
      close_slice(r.time_ns);
      open_pid = r.pid;
      open_at = r.time_ns;
      continue;  // the slice is the switch
    }
    json ev = {{"name", r.name}, {"cat", r.cat}, {"ph", "i"}, {"s", r.pid ? "t" : "p"}, {"pid", 1},
               {"tid", r.pid}, {"ts", us(r.time_ns)}};
    if (!r.args.empty()) ev["args"] = {{"detail", r.args}};
    events.push_back(std::move(ev));
    if (r.run_end && r.pid == open_pid) close_slice(r.time_ns);
  }
  close_slice(last);
  json meta = json::array();
  meta.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", title_.empty() ? "guplab" : title_}}}});
  for (const auto& [pid, name] : names)
    meta.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", pid}, {"args", {{"name", name}}}});
  for (auto& e : events) meta.push_back(std::move(e));
  json doc = {{"traceEvents", std::move(meta)}, {"displayTimeUnit", "ns"}};
  if (!title_.empty()) doc["otherData"] = {{"title", title_}};
  out << doc.dump(1) << '\n';
}

std::string TraceRecorder::ftrace() const {
  const std::vector<Record> recs = records();
  std::string out;
  for (const Record& r : recs) {
    const std::string who = r.pid ? fmt::format("{}-{}", r.comm, r.pid) : std::string("<sched>-0");
    fmt::format_to(std::back_inserter(out), "{:>22} [000] ..... {:>5}.{:06}: {}: {}\n", who,
                   r.time_ns / 1'000'000'000ull, (r.time_ns / 1000) % 1'000'000, r.name, r.args);
  }
  return out;
}

}  // namespace guplab
