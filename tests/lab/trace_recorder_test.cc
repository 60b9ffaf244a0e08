// trace_recorder_test.cc - traces of a replayed run: byte-identical twice, well-formed
// Perfetto JSON with a track per task and the model's events, trace_pipe-style text, and
// tracing that leaves the schedule alone.
#include "lab/trace/trace_recorder.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "lab/explorer.h"
#include "lab/scenario.h"

namespace guplab {
namespace {

struct Traced {
  ScenarioResult result;
  std::string json;
  std::string ftrace;
};

Traced traced_run(const char* name, PinDesign d, WritebackPolicy p, uint64_t seed, bool with_sinks = true) {
  ExploreOptions o;
  o.scenario = find_scenario(name);
  o.design = d;
  o.policy = p;
  TraceRecorder rec("test");
  ScenarioParams params = explore_params(o, seed, 1);
  params.trace = true;
  if (with_sinks) {
    params.sim.sink = &rec;
    params.trace_sink = &rec;
  }
  Traced t;
  t.result = run_scenario(*o.scenario, params);
  std::ostringstream out;
  rec.write_json(out);
  t.json = out.str();
  t.ftrace = rec.ftrace();
  return t;
}

TEST(TraceRecorder, ReplayingAFailingSeedTwiceGivesIdenticalTraces) {
  const uint64_t seed = explore_seed(1, 0);
  const Traced a = traced_run("ext4-bug", PinDesign::get, WritebackPolicy::ignore, seed);
  const Traced b = traced_run("ext4-bug", PinDesign::get, WritebackPolicy::ignore, seed);
  ASSERT_EQ(a.result.outcome, Outcome::oops);
  EXPECT_EQ(a.json, b.json);
  EXPECT_EQ(a.ftrace, b.ftrace);
}

TEST(TraceRecorder, TracingDoesNotChangeTheSchedule) {
  for (uint64_t i = 0; i < 5; i++) {
    const uint64_t seed = explore_seed(2, i);
    const Traced with = traced_run("torn-writeback", PinDesign::bias, WritebackPolicy::bounce, seed, true);
    const Traced without = traced_run("torn-writeback", PinDesign::bias, WritebackPolicy::bounce, seed, false);
    EXPECT_EQ(with.result.steps, without.result.steps);
    EXPECT_EQ(with.result.choices, without.result.choices);
    EXPECT_EQ(with.result.reason, without.result.reason);
  }
}

TEST(TraceRecorder, JsonHasATrackPerTaskAndTheModelsEvents) {
  const Traced t = traced_run("ext4-bug", PinDesign::get, WritebackPolicy::ignore, explore_seed(1, 0));
  const nlohmann::json doc = nlohmann::json::parse(t.json);
  ASSERT_TRUE(doc.contains("traceEvents"));
  std::set<std::string> threads, cats, names;
  size_t slices = 0;
  for (const auto& e : doc["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph"));
    if (e["ph"] == "M" && e["name"] == "thread_name") threads.insert(e["args"]["name"].get<std::string>());
    if (e["ph"] == "X") {
      slices++;
      EXPECT_GE(e["dur"].get<double>(), 0.0);
    }
    if (e.contains("cat")) cats.insert(e["cat"].get<std::string>());
    if (e.contains("name")) names.insert(e["name"].get<std::string>());
  }
  for (const char* task : {"ext4-bug-1", "kworker/ram0-3", "rdma0-5", "flush-6", "kswapd-7"}) EXPECT_TRUE(threads.count(task)) << task;
  EXPECT_GT(slices, 10u);
  for (const char* c : {"sched", "lock", "pin", "dma", "writeback", "reclaim", "fault", "oops"}) EXPECT_TRUE(cats.count(c)) << c;
  for (const char* n : {"pin_user_pages", "folio_start_writeback", "folio_end_writeback", "handle_mm_fault", "BUG"})
    EXPECT_TRUE(names.count(n)) << n;
}

TEST(TraceRecorder, FtraceLinesLookLikeTracePipe) {
  const Traced t = traced_run("ext4-bug", PinDesign::get, WritebackPolicy::ignore, explore_seed(1, 0));
  std::istringstream in(t.ftrace);
  std::string line;
  size_t n = 0, pins = 0;
  while (std::getline(in, line)) {
    n++;
    // "            rdma0-4 [000] .....     0.000019: pin_user_pages: start=..."
    EXPECT_NE(line.find(" [000] ..... "), std::string::npos) << line;
    if (line.find("pin_user_pages: start=") != std::string::npos) pins++;
  }
  EXPECT_GT(n, 100u);
  EXPECT_GE(pins, 1u);
  EXPECT_NE(t.ftrace.find("BUG: !PagePrivate(page)"), std::string::npos);
}

TEST(TraceRecorder, MachineTracePointsReachTheSinkUnderNative) {
  ExploreOptions o;
  o.scenario = find_scenario("fork-pin");
  o.design = PinDesign::folio_pincount;
  o.policy = WritebackPolicy::skip;
  TraceRecorder rec;
  ScenarioParams p = explore_params(o, 1, 1);
  p.backend = Backend::native;
  p.trace_sink = &rec;
  const ScenarioResult r = run_scenario(*o.scenario, p);
  EXPECT_EQ(r.outcome, Outcome::ok);
  size_t pins = 0, unpins = 0;
  for (const auto& e : rec.records()) {
    pins += e.name.rfind("pin_user_pages", 0) == 0;
    unpins += e.name.rfind("unpin_user_page", 0) == 0;
  }
  EXPECT_GE(pins, 1u);
  EXPECT_GE(unpins, 1u);
}

}  // namespace
}  // namespace guplab
