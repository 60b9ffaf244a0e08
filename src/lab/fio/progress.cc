// progress.cc - fio's status line.
#include "lab/fio/progress.h"

#include <algorithm>

#include "lab/fio/units.h"
#include "base/bug.h"

namespace guplab::fio {

char state_char(const JobSpec& job, JobState state) {
  switch (state) {
    case JobState::pending: return 'P';
    case JobState::setting_up: return 'I';
    case JobState::finishing: return 'f';
    case JobState::done: return '_';
    case JobState::failed: return 'X';
    case JobState::running: break;
  }
  const bool random = is_random(job.rw);
  if (does_read(job.rw) && does_write(job.rw)) {
    if (job.rwmixread == 100) return random ? 'r' : 'R';
    if (job.rwmixread == 0) return random ? 'w' : 'W';
    return random ? 'm' : 'M';
  }
  if (does_read(job.rw)) return random ? 'r' : 'R';
  return random ? 'w' : 'W';
}

std::string condense_run_str(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 1;
    while (i + n < s.size() && s[i + n] == s[i]) n++;
    if (!out.empty()) out += ',';
    out += strprintf("%c(%zu)", s[i], n);
    i += n;
  }
  return out;
}

std::string eta_to_str(uint64_t sec) {
  const uint64_t s = sec % 60, m = sec / 60 % 60, h = sec / 3600 % 24, d = sec / 86400;
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::string out;
  if (d) out += strprintf("%02llud:", u(d));
  if (h || d) out += strprintf("%02lluh:", u(h));
  return out + strprintf("%02llum:%02llus", u(m), u(s));
}

uint64_t job_eta_sec(const JobSpec& job, const JobProgress& p) {
  const uint64_t timeout = static_cast<uint64_t>(job.runtime.count()) / 1000000;
  switch (p.state) {
    case JobState::pending:
    case JobState::setting_up:
      return timeout;  // fio can only guess: the whole runtime, if there is one
    case JobState::running:
      break;
    default:
      return 0;
  }
  const uint64_t elapsed = (p.elapsed_ms + 999) / 1000;
  const uint64_t total = job.size * job.loops;
  uint64_t done = 0;
  for (uint64_t b : p.io_bytes) done += b;
  double perc = total ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0.0;
  if (job.time_based) perc = timeout ? std::min(perc, static_cast<double>(elapsed) / static_cast<double>(timeout)) : 0.0;
  uint64_t eta;
  if (perc == 0.0)
    eta = timeout;
  else
    eta = static_cast<uint64_t>(static_cast<double>(elapsed) / perc) - elapsed;
  if (timeout && eta > timeout - std::min(timeout, elapsed)) eta = timeout - std::min(timeout, elapsed);
  return eta;
}

ProgressLine::ProgressLine(std::span<const JobSpec> jobs) : jobs_(jobs.begin(), jobs.end()) {
  GUPLAB_CHECK(!jobs_.empty());
}

std::string ProgressLine::update(uint64_t now_ms, std::span<const JobProgress> progress) {
  GUPLAB_CHECK(progress.size() == jobs_.size());
  GUPLAB_CHECK(now_ms >= prev_ms_);
  unsigned running = 0;
  std::string run_str;
  std::array<uint64_t, kNumDdirs> bytes{}, ios{};
  uint64_t eta = 0;
  const uint64_t elapsed = (now_ms + 999) / 1000;
  for (size_t i = 0; i < jobs_.size(); i++) {
    const JobProgress& p = progress[i];
    if (p.state == JobState::running || p.state == JobState::finishing) running++;
    run_str += state_char(jobs_[i], p.state);
    for (size_t d = 0; d < kNumDdirs; d++) {
      bytes[d] += p.io_bytes[d];
      ios[d] += p.ios[d];
    }
    eta = std::max(eta, job_eta_sec(jobs_[i], p));
  }
  const bool eta_known = elapsed >= 3;  // fio gives no estimate in the first three seconds

  // Rates since the previous update.
  const uint64_t mtime = now_ms - prev_ms_;
  std::array<uint64_t, kNumDdirs> rate_kib{}, iops{};
  for (size_t d = 0; d < kNumDdirs; d++) {
    if (mtime) {
      rate_kib[d] = (bytes[d] - prev_bytes_[d]) * 1000 / mtime / 1024;
      iops[d] = (ios[d] - prev_ios_[d]) * 1000 / mtime;
    }
  }
  prev_ms_ = now_ms;
  prev_bytes_ = bytes;
  prev_ios_ = ios;

  std::string out = strprintf("Jobs: %u (f=%u)", running, running);
  if (eta_known && running) {
    std::string perc;
    if (!eta && !eta_good_) {
      perc = "-.-%";
    } else {
      eta_good_ = true;
      perc = strprintf("%3.1f%%", static_cast<double>(elapsed) / static_cast<double>(elapsed + eta) * 100.0);
    }
    out += strprintf(": [%s][%s]", condense_run_str(run_str).c_str(), perc.c_str());
    static constexpr std::array<char, kNumDdirs> kLetter = {'r', 'w', 't'};
    std::string rates, counts;
    for (size_t d = 0; d < kNumDdirs; d++) {
      if (!rate_kib[d] && !iops[d]) continue;
      const char* sep = rates.empty() ? "" : ",";
      rates += strprintf("%s%c=%s", sep, kLetter[d], num2str(rate_kib[d], 4, 1024, true, Unit::byte_per_sec).c_str());
      counts += strprintf("%s%c=%s", sep, kLetter[d], num2str(iops[d], 4, 1, false, Unit::none).c_str());
    }
    if (!rates.empty()) out += "[" + rates + "][" + counts + " IOPS]";
    out += "[eta " + eta_to_str(eta) + "]";
  }
  const size_t len = out.size();
  if (len < last_len_) out.append(last_len_ - len, ' ');
  last_len_ = len;
  return out;
}

}  // namespace guplab::fio
