// runner.cc - the conformance runner and its reports (see runner.h).
#include "lab/conform/runner.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>

#include "lab/conform/host_sys.h"

namespace guplab::conform {

namespace {

std::string encode(const Outcome& o) { return std::string(to_string(o.result)) + "\t" + o.reason; }

Outcome decode(const std::string& s) {
  const size_t tab = s.find('\t');
  const std::string r = s.substr(0, tab);
  Outcome o;
  o.reason = tab == std::string::npos ? "" : s.substr(tab + 1);
  if (r == "pass") o.result = Result::pass;
  else if (r == "skip") o.result = Result::skip;
  else o.result = Result::fail;
  return o;
}

Outcome run_host(const Case& c, int timeout_s) {
  int fds[2];
  if (::pipe(fds)) return {Result::fail, "pipe() failed"};
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return {Result::fail, "fork() failed"};
  if (pid == 0) {
    ::setpgid(0, 0);
    ::close(fds[0]);
    std::string msg;
    {
      auto sys = make_host_sys();
      msg = encode(c.run(*sys));
    }
    ssize_t ignored = ::write(fds[1], msg.data(), msg.size());
    (void)ignored;
    _exit(0);
  }
  ::setpgid(pid, pid);
  ::close(fds[1]);
  std::string msg;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ::kill(-pid, SIGKILL);  // any process of the case still alive
  if (timed_out) return {Result::fail, fmt::format("timed out after {} s", timeout_s)};
  if (WIFSIGNALED(st)) return {Result::fail, fmt::format("the case's process died of signal {} ({})", WTERMSIG(st), strsignal(WTERMSIG(st)))};
  if (msg.empty()) return {Result::fail, "the case's process ended without an outcome"};
  return decode(msg);
}

Outcome run_model(const Case& c, const ModelSide& side) {
  auto sys = make_model_sys(side);
  Outcome o = c.run(*sys);
  std::string why = sys->finish();
  if (!why.empty()) {
    o.result = Result::fail;
    o.reason = o.reason.empty() ? "model: " + why : o.reason + "; model: " + why;
  }
  return o;
}

}  // namespace

Outcome run_case(const Case& c, const SideSpec& side, int timeout_s) {
  Outcome o = side.model ? run_model(c, *side.model) : run_host(c, timeout_s);
  // What a failure of the case's own check shows (not the machine's findings after it).
  if (o.result == Result::fail && !c.shows.empty() && o.reason.find(c.shows) == std::string::npos &&
      o.reason.rfind("model: ", 0) != 0)
    o.reason += " [shows: " + c.shows + "]";
  return o;
}

SideRun run_side(const std::vector<const Case*>& cases, const SideSpec& side, FILE* progress) {
  SideRun run;
  run.side = side.name();
  for (size_t i = 0; i < cases.size(); i++) {
    run.outcomes.push_back(run_case(*cases[i], side));
    if (progress) fmt::print(progress, "\r{}: {}/{}", run.side, i + 1, cases.size());
  }
  if (progress) fmt::print(progress, "\n");
  return run;
}

std::vector<const Case*> select_cases(const std::string& filter) {
  std::vector<const Case*> out;
  std::regex re(filter.empty() ? ".*" : filter);
  for (const Case& c : catalogue())
    if (std::regex_search(c.name, re)) out.push_back(&c);
  return out;
}

Agreement compare(const SideRun& host, const SideRun& other) {
  Agreement a;
  for (size_t i = 0; i < host.outcomes.size() && i < other.outcomes.size(); i++) {
    if (host.outcomes[i].result == Result::skip || other.outcomes[i].result == Result::skip) continue;
    a.both++;
    if (host.outcomes[i].result == other.outcomes[i].result) a.agree++;
    else a.differ.push_back(i);
  }
  return a;
}

void print_tap(FILE* out, const std::vector<const Case*>& cases, const SideRun& run) {
  fmt::print(out, "TAP version 13\n");
  if (run.side == "host") fmt::print(out, "# host kernel {}\n", host_kernel_release());
  else fmt::print(out, "# model: design {}\n", run.side);
  fmt::print(out, "1..{}\n", cases.size());
  int pass = 0, fail = 0, skip = 0;
  for (size_t i = 0; i < cases.size(); i++) {
    const Outcome& o = run.outcomes[i];
    switch (o.result) {
      case Result::pass:
        pass++;
        if (o.reason.rfind("XFAIL", 0) == 0) fmt::print(out, "ok {} {} # {}\n", i + 1, cases[i]->name, o.reason);
        else fmt::print(out, "ok {} {}\n", i + 1, cases[i]->name);
        break;
      case Result::skip:
        skip++;
        fmt::print(out, "ok {} {} # SKIP {}\n", i + 1, cases[i]->name, o.reason);
        break;
      case Result::fail:
        fail++;
        fmt::print(out, "# {}\nnot ok {} {}\n", o.reason, i + 1, cases[i]->name);
        break;
    }
  }
  fmt::print(out, "# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:{} error:0\n", pass, fail, skip);
}

std::string to_json(const std::vector<const Case*>& cases, const SideRun& run) {
  nlohmann::json j;
  j["side"] = run.side;
  if (run.side == "host") j["kernel"] = host_kernel_release();
  j["cases"] = nlohmann::json::array();
  for (size_t i = 0; i < cases.size(); i++)
    j["cases"].push_back({{"name", cases[i]->name},
                          {"result", to_string(run.outcomes[i].result)},
                          {"reason", run.outcomes[i].reason}});
  return j.dump(2);
}

void print_table(FILE* out, const std::vector<const Case*>& cases, const std::vector<SideRun>& runs) {
  size_t w = 4;
  for (const Case* c : cases) w = std::max(w, c->name.size());
  w = std::min<size_t>(w, 90);
  fmt::print(out, "{:<{}}", "case", w);
  for (const SideRun& r : runs) fmt::print(out, " | {:<{}}", r.side, std::max<size_t>(r.side.size(), 4));
  fmt::print(out, "\n");
  for (size_t i = 0; i < cases.size(); i++) {
    std::string name = cases[i]->name.size() > w ? cases[i]->name.substr(0, w - 3) + "..." : cases[i]->name;
    fmt::print(out, "{:<{}}", name, w);
    for (const SideRun& r : runs)
      fmt::print(out, " | {:<{}}", to_string(r.outcomes[i].result), std::max<size_t>(r.side.size(), 4));
    fmt::print(out, "\n");
  }
  const SideRun* host = nullptr;
  for (const SideRun& r : runs)
    if (r.side == "host") host = &r;
  fmt::print(out, "\n");
  for (const SideRun& r : runs) {
    int counts[3] = {0, 0, 0};
    for (const Outcome& o : r.outcomes) counts[static_cast<int>(o.result)]++;
    fmt::print(out, "# {}: pass {} fail {} skip {}\n", r.side, counts[0], counts[1], counts[2]);
  }
  if (!host) return;
  if (host) fmt::print(out, "# host kernel {}\n", host_kernel_release());
  for (const SideRun& r : runs) {
    if (&r == host) continue;
    Agreement a = compare(*host, r);
    fmt::print(out, "design {} agrees with the host on {} of {} cases run on both\n", r.side, a.agree, a.both);
    for (size_t i : a.differ)
      fmt::print(out, "  differs: {}: host {}, {} {} ({})\n", cases[i]->name, to_string(host->outcomes[i].result),
                 r.side, to_string(r.outcomes[i].result),
                 r.outcomes[i].result == Result::fail ? r.outcomes[i].reason : host->outcomes[i].reason);
  }
}

}  // namespace guplab::conform
