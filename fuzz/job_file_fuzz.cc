// job_file_fuzz.cc - libFuzzer target: the fio job-file parser end to end short of running:
// parse_job_text(), command-line overrides taken from the input's last line, resolve_jobs(),
// plan_targets() (embedded ramdisks only) and the memory budget. Any error is a fine result;
// a crash, a sanitizer report or a broken promise (a resolved job with bs 0 or not a multiple
// of 512, numjobs copies missing) aborts.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lab/fio/job_file.h"
#include "lab/fio/mem_budget.h"
#include "lab/fio/targets.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "job_file_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace guplab::fio;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A last line starting "--" holds command-line overrides, one per space-separated word.
  std::vector<std::string> overrides;
  if (const size_t nl = text.rfind('\n'); nl != std::string_view::npos && text.substr(nl + 1).rfind("--", 0) == 0) {
    std::string_view rest = text.substr(nl + 1);
    text = text.substr(0, nl);
    while (!rest.empty()) {
      const size_t sp = rest.find(' ');
      overrides.emplace_back(rest.substr(0, sp));
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
  }
  auto file = parse_job_text(text, "fuzz.fio");
  if (!file) return 0;
  auto with = with_overrides(std::move(file.value()), overrides);
  if (!with) return 0;
  auto jobs = resolve_jobs(with.value());
  if (!jobs) return 0;
  size_t expected = 0;
  for (const JobSpec& j : jobs.value()) {
    check(j.bs > 0 && j.bs % 512 == 0, "a resolved job has a bad bs");
    check(j.numjobs >= 1 && j.clone < j.numjobs, "a resolved job has a bad clone index");
    expected += j.clone == 0 ? j.numjobs : 0;
  }
  check(expected == jobs->size(), "numjobs copies missing");
  if (jobs->size() > 4096) return 0;
  auto plans = plan_targets(jobs.value(), "", "fuzz.fio");
  if (!plans) return 0;
  (void)check_mem_budget(jobs.value(), plans.value(), UINT64_MAX / 2, 1ull << 30, false, "", "fuzz.fio");
  return 0;
}
