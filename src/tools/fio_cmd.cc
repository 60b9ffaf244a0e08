// fio_cmd.cc - `guplab fio`: command line, run, reports.
#include "tools/fio_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lab/fio/json_report.h"
#include "lab/fio/mem_budget.h"
#include "lab/fio/report.h"
#include "lab/fio/runner.h"
#include "lab/fio/units.h"
#include "tools/cell_options.h"

namespace guplab::tools {

namespace {

constexpr const char* kUsage = R"(usage: guplab fio [options] JOBFILE [--OPTION=VALUE ...]

Runs a fio job file through the model's O_DIRECT path (pin_user_pages_fast() into GUP
bios; completions unpin) on a booted model kernel and prints fio's report. Each job
process (numjobs) is a model task with its own address space holding iodepth buffers;
the asynchronous engines (ioengine=libaio, io_uring) keep iodepth I/Os in flight, the
synchronous ones (sync, psync, vsync, pvsync, pvsync2) do one at a time; any other engine
is refused. direct=1 is required.

options:
  --output-format=normal|json  fio's text report (default) or fio's JSON
  --eta=auto|always|never      fio's status line: only on a terminal (auto, the default),
                               always, or never
  --design=DESIGN              pin tracking the machine boots with: get, bias, dma_count,
                               fake_vma, folio_pincount (default)
  --device=SPEC                the target of every job; by default the embedded ramdisk
                               (one per filename, sized to its jobs). SPEC is
                                 uring:PATH[,depth=N][,size=BYTES]  a host file or block
                                   device, O_DIRECT through io_uring; a file is created or
                                   grown to the jobs' offset+size (and written out first
                                   when a job reads), not on tmpfs (no O_DIRECT there),
                                   never the job file itself; opened read-only when the
                                   jobs only read and nothing is grown
                                 ram<N>[,size=S][,latency=T][,depth=N][,lbs=B][,chunk=B]
                                   the embedded ramdisk with options (lbs: 512, 1024,
                                   2048 or 4096)
  --mem-limit=SIZE             host memory the run may take for its ramdisks and the model's
                               RAM (default: half the host's RAM; at most all of it); a job
                               asking for more is refused before anything is allocated
  -h, --help                   this text

job options, as fio's command line gives them: applied to every job, over the file:
  --name= --filename= --size= --offset= --bs= (--blocksize=) --rw= (--readwrite=)
  --rwmixread= --rwmixwrite= --iodepth= --numjobs= --direct= --ioengine= --runtime=
  --time_based --group_reporting --thread --norandommap --randrepeat= --loops= --hipri

exit status: 0 all jobs ran and the pins balance (nr_foll_pin_acquired ==
nr_foll_pin_released); 1 a job failed, the pins do not balance, or the model recorded
an oops or WARN; 2 a bad command line, job file or device (nothing ran).
)";

enum class OutputFormat : uint8_t { normal, json };
enum class EtaMode : uint8_t { automatic, always, never };

struct FioArgs {
  std::string job_file;
  OutputFormat format = OutputFormat::normal;
  EtaMode eta = EtaMode::automatic;
  PinDesign design = PinDesign::folio_pincount;
  std::string device;
  uint64_t mem_limit = 0;  // 0: fio::default_mem_limit()
  std::vector<std::string> job_options;  // "--bs=8k" ...
  bool help = false;
};

int usage_error(const std::string& msg) {
  fmt::print(stderr, "guplab fio: {}\n(guplab fio --help for the options)\n", msg);
  return 2;
}

/**
 * take_value() - the value of option @name at argv[*i] ("--name=v" or "--name v");
 * nullopt if argv[*i] is not that option. Advances *i past a separate value.
 */
std::optional<std::string> take_value(int argc, char** argv, int* i, std::string_view name, std::string* err) {
  const std::string_view a = argv[*i];
  if (a.substr(0, name.size()) != name) return std::nullopt;
  if (a.size() > name.size() && a[name.size()] == '=') return std::string(a.substr(name.size() + 1));
  if (a.size() != name.size()) return std::nullopt;
  if (*i + 1 >= argc) {
    *err = fmt::format("{} needs a value", name);
    return std::string();
  }
  return std::string(argv[++*i]);
}

/** parse_args() - @argv into @out; an error message, or empty. */
std::string parse_args(int argc, char** argv, FioArgs* out) {
  for (int i = 1; i < argc; i++) {
    const std::string_view a = argv[i];
    std::string err;
    if (a == "-h" || a == "--help") {
      out->help = true;
      return {};
    }
    if (auto v = take_value(argc, argv, &i, "--output-format", &err)) {
      if (!err.empty()) return err;
      if (*v == "normal") out->format = OutputFormat::normal;
      else if (*v == "json") out->format = OutputFormat::json;
      else return fmt::format("--output-format: '{}' is not normal or json", *v);
      continue;
    }
    if (auto v = take_value(argc, argv, &i, "--eta", &err)) {
      if (!err.empty()) return err;
      if (*v == "auto") out->eta = EtaMode::automatic;
      else if (*v == "always") out->eta = EtaMode::always;
      else if (*v == "never") out->eta = EtaMode::never;
      else return fmt::format("--eta: '{}' is not auto, always or never", *v);
      continue;
    }
    if (auto v = take_value(argc, argv, &i, "--design", &err)) {
      if (!err.empty()) return err;
      auto d = parse_pin_design(*v);
      if (!d) return fmt::format("--design: unknown design '{}' ({})", *v, pin_design_names());
      out->design = *d;
      continue;
    }
    if (auto v = take_value(argc, argv, &i, "--device", &err)) {
      if (!err.empty()) return err;
      if (v->empty()) return "--device needs a value (uring:PATH or ram<N>)";
      out->device = *v;
      continue;
    }
    if (auto v = take_value(argc, argv, &i, "--mem-limit", &err)) {
      if (!err.empty()) return err;
      const uint64_t host = fio::host_ram_bytes();
      const auto n = fio::parse_size(*v);
      if (!n || *n < (64ull << 20) || *n > host)
        return fmt::format("--mem-limit: '{}' is not a size from 64m to the host's RAM ({} bytes)", *v, host);
      out->mem_limit = *n;
      continue;
    }
    if (a.substr(0, 2) == "--") {  // a job option; with_overrides() checks it
      out->job_options.emplace_back(a);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') return fmt::format("unknown option '{}'", a);
    if (!out->job_file.empty()) return fmt::format("one job file only ('{}' and '{}')", out->job_file, a);
    out->job_file = std::string(a);
  }
  if (out->job_file.empty()) return "no job file given";
  return {};
}

/** guplab_json() - what guplab adds to fio's JSON: the machine and the pin check. */
nlohmann::ordered_json guplab_json(const FioArgs& args, const fio::RunOutcome& o) {
  nlohmann::ordered_json g;
  g["design"] = to_string(args.design);
  g["devices"] = o.devices;
  g["nr_foll_pin_acquired"] = o.pins_acquired;
  g["nr_foll_pin_released"] = o.pins_released;
  g["pins_balanced"] = o.pins_acquired == o.pins_released;
  g["problems"] = o.problems;
  return g;
}

}  // namespace

int fio_main(int argc, char** argv) {
  FioArgs args;
  if (std::string err = parse_args(argc, argv, &args); !err.empty()) return usage_error(err);
  if (args.help) {
    fmt::print("{}", kUsage);
    return 0;
  }
  auto file = fio::load_job_file(args.job_file);
  if (!file) return usage_error(file.error());
  auto with = fio::with_overrides(std::move(file.value()), args.job_options);
  if (!with) return usage_error(with.error());

  const bool tty = isatty(STDOUT_FILENO) == 1;
  const bool json = args.format == OutputFormat::json;
  fio::RunConfig cfg;
  cfg.design = args.design;
  cfg.device = args.device;
  cfg.mem_limit = args.mem_limit;
  cfg.preamble_out = json ? nullptr : stdout;
  const bool eta = args.eta == EtaMode::always || (args.eta == EtaMode::automatic && tty);
  cfg.progress.out = eta ? stdout : nullptr;

  auto outcome = fio::run_fio(with.value(), cfg);
  if (!outcome) return usage_error(outcome.error());
  const fio::RunOutcome& o = outcome.value();
  if (json) {
    nlohmann::ordered_json j = fio::to_json(o.result);
    j["guplab"] = guplab_json(args, o);
    fmt::print("{}\n", fio::dump_fio_style(j));
  } else {
    fmt::print("{}", fio::format_text(o.result));
    fmt::print("\nguplab: design {}; {}; nr_foll_pin_acquired {} {} nr_foll_pin_released {}\n", to_string(args.design),
               fmt::join(o.devices, "; "), o.pins_acquired, o.pins_acquired == o.pins_released ? "==" : "!=",
               o.pins_released);
  }
  std::fflush(stdout);
  for (size_t i = 0; i < o.result.stats.size(); i++) {
    if (!o.result.stats[i].verify_error.empty()) fmt::print(stderr, "{}\n", o.result.stats[i].verify_error);
    if (int e = o.result.stats[i].error)
      fmt::print(stderr, "guplab fio: job '{}' (process {}) stopped on {}: {}\n", o.result.jobs[i].name,
                 o.result.jobs[i].clone, o.result.stats[i].verify_error.empty() ? "an I/O error" : "a verify error",
                 std::strerror(e));
  }
  for (const std::string& p : o.problems) fmt::print(stderr, "guplab fio: FAILED: {}\n", p);
  return o.ok() ? 0 : 1;
}

}  // namespace guplab::tools
