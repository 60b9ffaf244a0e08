// job_file.cc - fio job file parsing, overrides and resolution.
#include "lab/fio/job_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <optional>

#include "lab/fio/fio_names.h"
#include "lab/fio/units.h"

namespace guplab::fio {
namespace {

enum class Kind : uint8_t { string, size, time, boolean, uint, rw, verify, bssplit, percentiles, file_service, engine };

/** One option guplab knows: its name, an alias, the kind of its value and, for a whole
 *  number, its range (check_value() checks it). apply() sets it on a job, by name. */
struct OptionDef {
  const char* name;
  const char* alias;  // nullptr if none
  Kind kind;
  uint64_t min = 0;           // for uint
  uint64_t max = UINT64_MAX;  // for uint
};

constexpr std::array<OptionDef, 38> kOptions = {{
    {"name", nullptr, Kind::string},
    {"filename", nullptr, Kind::string},
    {"size", nullptr, Kind::size},
    {"offset", nullptr, Kind::size},
    {"bs", "blocksize", Kind::size},
    {"rw", "readwrite", Kind::rw},
    {"rwmixread", nullptr, Kind::uint, 0, 100},
    {"rwmixwrite", nullptr, Kind::uint, 0, 100},
    {"iodepth", nullptr, Kind::uint, 1, 65536},
    {"numjobs", nullptr, Kind::uint, 1, 4096},
    {"direct", nullptr, Kind::boolean},
    {"ioengine", nullptr, Kind::engine},
    {"runtime", nullptr, Kind::time},
    {"time_based", nullptr, Kind::boolean},
    {"group_reporting", nullptr, Kind::boolean},
    {"thread", nullptr, Kind::boolean},
    {"norandommap", nullptr, Kind::boolean},
    {"randrepeat", nullptr, Kind::boolean},
    {"loops", nullptr, Kind::uint, 1, UINT32_MAX},
    {"hipri", nullptr, Kind::boolean},
    {"directory", nullptr, Kind::string},
    {"nrfiles", nullptr, Kind::uint, 1, 4096},
    {"filesize", nullptr, Kind::size},
    {"file_service_type", nullptr, Kind::file_service},
    {"bssplit", nullptr, Kind::bssplit},
    {"verify", nullptr, Kind::verify},
    {"verify_fatal", nullptr, Kind::boolean},
    {"do_verify", nullptr, Kind::boolean},
    {"ramp_time", nullptr, Kind::time},
    {"startdelay", nullptr, Kind::time},
    {"stonewall", "wait_for_previous", Kind::boolean},
    {"iodepth_batch_submit", "iodepth_batch", Kind::uint, 0, 65536},
    {"iodepth_batch_complete_min", "iodepth_batch_complete", Kind::uint, 0, 65536},
    {"iodepth_batch_complete_max", nullptr, Kind::uint, 0, 65536},
    {"rate_iops", nullptr, Kind::uint, 0, UINT32_MAX},
    {"fsync", nullptr, Kind::uint, 0, UINT32_MAX},
    {"percentile_list", nullptr, Kind::percentiles},
    {"verify_interval", nullptr, Kind::size},
}};

const OptionDef* find_option(std::string_view key) {
  for (const OptionDef& d : kOptions)
    if (key == d.name || (d.alias && key == d.alias)) return &d;
  return nullptr;
}

/** supported_names() - "name, filename, ..., loops": every option guplab runs, for messages. */
const std::string& supported_names() {
  static const std::string names = [] {
    std::string s;
    for (const OptionDef& d : kOptions) {
      s += (s.empty() ? "" : ", ") + std::string(d.name);
      if (d.alias) s += ", " + std::string(d.alias);
    }
    return s;
  }();
  return names;
}

struct RwName {
  const char* name;
  RwMode mode;
};
constexpr std::array<RwName, 7> kRwNames = {{{"read", RwMode::read},
                                             {"write", RwMode::write},
                                             {"randread", RwMode::randread},
                                             {"randwrite", RwMode::randwrite},
                                             {"rw", RwMode::rw},
                                             {"readwrite", RwMode::rw},
                                             {"randrw", RwMode::randrw}}};

/** The ioengine= values guplab runs: the synchronous ones (io_job.h's is_sync_engine()) one I/O
 *  at a time, the asynchronous ones up to iodepth. */
constexpr std::array<const char*, 7> kEngines = {"sync", "psync", "vsync", "pvsync", "pvsync2", "libaio", "io_uring"};
constexpr const char* kEngineList = "sync, psync, vsync, pvsync, pvsync2, libaio or io_uring";

/** The longest time option: its nanoseconds fit in a signed 64-bit count (about 292 years). */
constexpr uint64_t kMaxTimeUs = INT64_MAX / 1000;
constexpr uint64_t kDayUs = 86400ull * 1000000;

/** The largest job file load_job_file() reads (fio's own are a few KiB). */
constexpr size_t kMaxJobFileBytes = 1u << 20;

/** Bytes of a value, key or line an error quotes; the rest is cut. */
constexpr size_t kShownBytes = 64;

/**
 * shown() - @s as an error message quotes it: a byte outside printable ASCII as \xNN (a job
 * file may be binary), and past kShownBytes cut, saying how long it was.
 */
std::string shown(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kShownBytes; i++) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > kShownBytes) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/** split() - @s cut at every @sep. */
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

/** parse_bssplit() - "4k/50:8k/30:64k" (entries without a percentage share what is left
 *  equally, as fio does), or why not. One list for every direction: fio's ",read,write"
 *  form is refused. */
std::variant<std::vector<BsSplit>, std::string> parse_bssplit(std::string_view v) {
  if (v.find(',') != std::string_view::npos)
    return std::string("per-direction lists (',') are not supported: give one list for reads and writes");
  std::vector<BsSplit> out;
  unsigned given = 0, open = 0;
  for (std::string_view item : split(v, ':')) {
    item = trim(item);
    if (item.empty()) return std::string("empty entry");
    const size_t slash = item.find('/');
    const auto bs = parse_size(trim(item.substr(0, slash)));
    if (!bs || *bs == 0 || *bs % 512) return fmt::format("'{}': block size must be a positive multiple of 512", shown(item));
    BsSplit e{*bs, 0};
    if (slash != std::string_view::npos) {
      const auto pct = parse_uint(trim(item.substr(slash + 1)));
      if (!pct || *pct > 100) return fmt::format("'{}': percentage must be 0 to 100", shown(item));
      e.percent = static_cast<unsigned>(*pct);
      given += e.percent;
    } else {
      e.percent = UINT32_MAX;  // filled below
      open++;
    }
    out.push_back(e);
  }
  if (given > 100) return std::string("percentages add up to more than 100");
  if (open) {
    const unsigned each = (100 - given) / open;
    unsigned left = 100 - given - each * open;
    for (BsSplit& e : out)
      if (e.percent == UINT32_MAX) e.percent = each + (left ? (left--, 1) : 0);
  } else if (given != 100) {
    return fmt::format("percentages add up to {}, not 100", given);
  }
  std::erase_if(out, [](const BsSplit& e) { return e.percent == 0; });
  return out;
}

/** parse_percentiles() - "50:99.5:99.99": up to 20 values in (0, 100]. */
std::variant<std::vector<double>, std::string> parse_percentiles(std::string_view v) {
  std::vector<double> out;
  for (std::string_view item : split(v, ':')) {
    item = trim(item);
    const std::string str(item);
    char* end = nullptr;
    errno = 0;
    const double d = str.empty() ? 0.0 : std::strtod(str.c_str(), &end);
    if (str.empty() || errno || end != str.c_str() + str.size() || !(d > 0.0 && d <= 100.0))
      return fmt::format("'{}' is not a percentage in (0, 100]", shown(item));
    out.push_back(d);
  }
  if (out.size() > 20) return std::string("at most 20 percentiles");
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<VerifyType> parse_verify(std::string_view v) {
  if (v == "0" || v == "none") return VerifyType::none;
  if (v == "crc32c" || v == "crc32c-intel") return VerifyType::crc32c;
  if (v == "md5") return VerifyType::md5;
  if (v == "meta") return VerifyType::meta;
  return std::nullopt;
}

/** A comment starts at ';' or '#' at the start of the line or after whitespace. */
std::string_view strip_comment(std::string_view s) {
  for (size_t i = 0; i < s.size(); i++) {
    if ((s[i] == ';' || s[i] == '#') && (i == 0 || std::isspace(static_cast<unsigned char>(s[i - 1]))))
      return s.substr(0, i);
  }
  return s;
}

std::string where(const std::string& source, int line) {
  return line > 0 ? fmt::format("{}:{}", source, line) : std::string("command line");
}

/** check_value() - why @value is not good for @def, or nullopt if it is. */
std::optional<std::string> check_value(const OptionDef& def, std::string_view value) {
  const auto bad = [&](std::string_view why) {
    return fmt::format("bad value '{}' for option '{}': {}", shown(value), def.name, why);
  };
  if (value.empty() && def.kind != Kind::boolean) return fmt::format("option '{}' needs a value", def.name);
  switch (def.kind) {
    case Kind::string:
      return std::nullopt;
    case Kind::size: {
      const auto v = parse_size(value);
      if (!v) return bad("expected a size such as 4096, 4k, 1m or 1g (no sign, below 16 EiB)");
      if (std::string_view(def.name) == "bs") {
        if (*v == 0) return bad("must be greater than 0");
        if (*v % 512) return bad("must be a multiple of 512");
      }
      return std::nullopt;
    }
    case Kind::time: {
      bool too_large = false;
      const auto us = parse_time_us(value, &too_large);
      if (!us && !too_large) return bad("expected a time such as 10, 10s, 500ms or 1m");
      if (!us || *us > kMaxTimeUs) return bad(fmt::format("too large; at most {}d", kMaxTimeUs / kDayUs));
      return std::nullopt;
    }
    case Kind::boolean:
      if (!value.empty() && value != "0" && value != "1") return bad("expected 0 or 1");
      return std::nullopt;
    case Kind::uint: {
      const auto v = parse_uint(value);
      if (!v || *v < def.min || *v > def.max)
        return bad(fmt::format("{}; allowed: from {} to {}", v ? "out of range" : "expected a whole number", def.min, def.max));
      return std::nullopt;
    }
    case Kind::rw:
      for (const RwName& r : kRwNames)
        if (value == r.name) return std::nullopt;
      return bad("expected read, write, randread, randwrite, rw, readwrite or randrw");
    case Kind::verify:
      if (parse_verify(value)) return std::nullopt;
      if (is_fio_verify(value))
        return bad("fio has this checksum, but guplab runs only crc32c, crc32c-intel, md5, meta and none (0)");
      return bad("expected crc32c, crc32c-intel, md5, meta or none (0)");
    case Kind::bssplit: {
      auto r = parse_bssplit(value);
      if (auto* why = std::get_if<std::string>(&r)) return bad(*why);
      return std::nullopt;
    }
    case Kind::percentiles: {
      auto r = parse_percentiles(value);
      if (auto* why = std::get_if<std::string>(&r)) return bad(*why);
      return std::nullopt;
    }
    case Kind::engine:
      for (const char* e : kEngines)
        if (value == e) return std::nullopt;
      if (is_fio_engine(value)) return bad(fmt::format("fio has this engine, but guplab runs only {}", kEngineList));
      return bad(fmt::format("fio has no such engine; expected {}", kEngineList));
    case Kind::file_service:
      if (value == "roundrobin") return std::nullopt;
      if (value == "random" || value == "sequential" || value.rfind("zipf", 0) == 0 ||
          value.rfind("pareto", 0) == 0 || value.rfind("normal", 0) == 0 || value.rfind("gauss", 0) == 0 ||
          value.rfind("roundrobin:", 0) == 0)
        return bad("fio has this file service type, but guplab runs only roundrobin (fio's default)");
      return bad("expected roundrobin");
  }
  return std::nullopt;
}

/** apply() - set @opt on @job. REQUIRES: @opt passed check_value(). */
void apply(JobSpec& job, const Option& opt) {
  const std::string_view k = opt.key;
  const std::string& v = opt.value;
  const auto size = [&] { return parse_size(v).value(); };
  const auto uint = [&] { return static_cast<unsigned>(parse_uint(v).value()); };
  const bool on = v.empty() || v == "1";
  if (k == "name") job.name = v;
  else if (k == "filename") job.filename = v;
  else if (k == "size") job.size = size();
  else if (k == "offset") job.offset = size();
  else if (k == "bs") job.bs = size();
  else if (k == "rw") {
    for (const RwName& r : kRwNames)
      if (v == r.name) job.rw = r.mode;
  } else if (k == "rwmixread") job.rwmixread = uint();
  else if (k == "rwmixwrite") job.rwmixread = 100 - uint();
  else if (k == "iodepth") job.iodepth = uint();
  else if (k == "numjobs") job.numjobs = uint();
  else if (k == "direct") job.direct = on;
  else if (k == "ioengine") job.ioengine = v;
  else if (k == "runtime") job.runtime = std::chrono::microseconds(parse_time_us(v).value());
  else if (k == "time_based") job.time_based = on;
  else if (k == "group_reporting") job.group_reporting = on;
  else if (k == "thread") job.thread = on;
  else if (k == "norandommap") job.norandommap = on;
  else if (k == "randrepeat") job.randrepeat = on;
  else if (k == "loops") job.loops = uint();
  else if (k == "hipri") job.hipri = on;
  else if (k == "directory") job.directory = v;
  else if (k == "nrfiles") job.nrfiles = uint();
  else if (k == "filesize") job.filesize = size();
  else if (k == "bssplit") job.bssplit = std::get<0>(parse_bssplit(v));
  else if (k == "verify") job.verify = parse_verify(v).value();
  else if (k == "verify_fatal") job.verify_fatal = on;
  else if (k == "do_verify") job.do_verify = on;
  else if (k == "ramp_time") job.ramp_time = std::chrono::microseconds(parse_time_us(v).value());
  else if (k == "startdelay") job.startdelay = std::chrono::microseconds(parse_time_us(v).value());
  else if (k == "stonewall") job.stonewall = on;
  else if (k == "iodepth_batch_submit") job.iodepth_batch_submit = uint();
  else if (k == "iodepth_batch_complete_min") job.iodepth_batch_complete_min = uint();
  else if (k == "iodepth_batch_complete_max") job.iodepth_batch_complete_max = uint();
  else if (k == "rate_iops") job.rate_iops = parse_uint(v).value();
  else if (k == "fsync") job.fsync = uint();
  else if (k == "percentile_list") job.percentile_list = std::get<0>(parse_percentiles(v));
  else if (k == "verify_interval") job.verify_interval = size();
}

/** parse_option() - "key=value" or "key" into a checked, canonical Option. */
Result<Option> parse_option(std::string_view text, int line, const std::string& source) {
  const size_t eq = text.find('=');
  const std::string_view key = trim(text.substr(0, eq));
  const std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(text.substr(eq + 1));
  if (key.empty()) return Error{fmt::format("{}: missing option name in '{}'", where(source, line), shown(text))};
  const OptionDef* def = find_option(key);
  if (!def) return Error{fmt::format("{}: unknown option '{}': {}", where(source, line), shown(key), unknown_option_why(key, supported_names()))};
  if (eq != std::string_view::npos && value.empty())
    return Error{fmt::format("{}: option '{}' needs a value", where(source, line), key)};
  if (auto why = check_value(*def, value)) return Error{fmt::format("{}: {}", where(source, line), *why)};
  return Option{def->name, std::string(value), line};
}

}  // namespace

const char* to_string(RwMode m) {
  switch (m) {
    case RwMode::read: return "read";
    case RwMode::write: return "write";
    case RwMode::randread: return "randread";
    case RwMode::randwrite: return "randwrite";
    case RwMode::rw: return "rw";
    case RwMode::randrw: return "randrw";
  }
  return "?";
}

const char* to_string(VerifyType v) {
  switch (v) {
    case VerifyType::none: return "none";
    case VerifyType::crc32c: return "crc32c";
    case VerifyType::md5: return "md5";
    case VerifyType::meta: return "meta";
  }
  return "?";
}

uint64_t JobSpec::min_bs() const {
  if (bssplit.empty()) return bs;
  uint64_t m = UINT64_MAX;
  for (const BsSplit& e : bssplit) m = std::min(m, e.bs);
  return m;
}

uint64_t JobSpec::max_bs() const {
  if (bssplit.empty()) return bs;
  uint64_t m = 0;
  for (const BsSplit& e : bssplit) m = std::max(m, e.bs);
  return m;
}

std::vector<std::string> JobSpec::files() const {
  std::vector<std::string> out;
  const std::string dir = directory.empty() ? "" : (directory.back() == '/' ? directory : directory + "/");
  if (!filename.empty()) {
    for (std::string_view f : split(filename, ':')) out.push_back(dir + std::string(f));
  } else {
    for (unsigned i = 0; i < nrfiles; i++) out.push_back(fmt::format("{}{}.{}.{}", dir, name, clone, i));
  }
  return out;
}

uint64_t JobSpec::nr_files() const {
  // As files() counts them, without making the names (a job may have thousands).
  if (filename.empty()) return nrfiles;
  return static_cast<uint64_t>(std::count(filename.begin(), filename.end(), ':')) + 1;
}

uint64_t JobSpec::file_bytes() const {
  if (filesize) return filesize;
  return size / std::max<uint64_t>(nr_files(), 1);
}

bool is_random(RwMode m) { return m == RwMode::randread || m == RwMode::randwrite || m == RwMode::randrw; }
bool does_read(RwMode m) {
  return m == RwMode::read || m == RwMode::randread || m == RwMode::rw || m == RwMode::randrw;
}
bool does_write(RwMode m) {
  return m == RwMode::write || m == RwMode::randwrite || m == RwMode::rw || m == RwMode::randrw;
}

Result<JobFile> parse_job_text(std::string_view text, std::string source) {
  JobFile file;
  file.source = std::move(source);
  enum class In { nothing, global, job } in = In::nothing;
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line_no++;
    const std::string_view line = trim(strip_comment(raw));
    if (line.empty()) continue;
    const std::string at = where(file.source, line_no);

    if (line.front() == '[') {
      if (line.back() != ']') return Error{fmt::format("{}: malformed section header '{}'", at, shown(line))};
      const std::string_view name = trim(line.substr(1, line.size() - 2));
      if (name.empty()) return Error{fmt::format("{}: empty section name", at)};
      if (name.find_first_of("[]") != std::string_view::npos)
        return Error{fmt::format("{}: malformed section header '{}'", at, shown(line))};
      if (name == "global") {
        in = In::global;
      } else {
        in = In::job;
        file.jobs.push_back({std::string(name), line_no, {}, file.global_options.size()});
      }
      continue;
    }

    auto opt = parse_option(line, line_no, file.source);
    if (!opt) return Error{opt.error()};
    if (in == In::nothing)
      return Error{fmt::format("{}: option '{}' outside of any [section]", at, opt->key)};
    (in == In::global ? file.global_options : file.jobs.back().options).push_back(std::move(opt.value()));
  }
  if (file.jobs.empty()) return Error{fmt::format("{}: no jobs defined", file.source)};
  return file;
}

Result<JobFile> load_job_file(const std::string& path) {
  // Only a regular file, looked at before it is opened: a FIFO's open would wait for a
  // writer, and a device (/dev/zero) would never end.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error{fmt::format("{}: cannot open: {}", path, std::strerror(errno))};
  if (S_ISDIR(st.st_mode)) return Error{fmt::format("{}: cannot open: {}", path, std::strerror(EISDIR))};
  if (!S_ISREG(st.st_mode))
    return Error{fmt::format("{}: not a regular file (a device, FIFO or socket is not read as a job file)", path)};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Error{fmt::format("{}: cannot open: {}", path, std::strerror(errno))};
  std::string text;
  std::optional<Error> failed;
  if (::fstat(fd, &st) != 0) {
    failed = Error{fmt::format("{}: cannot stat: {}", path, std::strerror(errno))};
  } else if (!S_ISREG(st.st_mode)) {  // replaced meanwhile
    failed = Error{fmt::format("{}: not a regular file (a device, FIFO or socket is not read as a job file)", path)};
  } else {
    // At most one byte past the limit: a file that grows while it is read is caught too.
    char buf[64 * 1024];
    while (text.size() <= kMaxJobFileBytes) {
      const ssize_t n = ::read(fd, buf, std::min(sizeof buf, kMaxJobFileBytes + 1 - text.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failed = Error{fmt::format("{}: read error: {}", path, std::strerror(errno))};
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (failed) return *failed;
  if (text.size() > kMaxJobFileBytes)
    return Error{fmt::format("{}: larger than a job file may be ({} bytes, 1 MiB)", path, kMaxJobFileBytes)};
  auto file = parse_job_text(text, path);
  if (file) file->read_from.push_back(FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
  return file;
}

Result<JobFile> with_overrides(JobFile file, std::span<const std::string> args) {
  for (const std::string& arg : args) {
    const std::string_view a = arg;
    if (a.size() < 3 || a.substr(0, 2) != "--")
      return Error{fmt::format("command line: '{}' is not of the form --option=value", shown(a))};
    auto opt = parse_option(a.substr(2), 0, file.source);
    if (!opt) return Error{opt.error()};
    file.overrides.push_back(std::move(opt.value()));
  }
  return file;
}

Result<std::vector<JobSpec>> resolve_jobs(const JobFile& file) {
  std::vector<JobSpec> out;
  for (const JobFile::Section& sec : file.jobs) {
    JobSpec job;
    job.name = sec.name;
    job.line = sec.line;
    for (size_t i = 0; i < sec.globals_visible; i++) apply(job, file.global_options[i]);
    for (const Option& o : sec.options) {
      apply(job, o);
      job.options.push_back(o);
    }
    for (const Option& o : file.overrides) {
      apply(job, o);
      std::erase_if(job.options, [&](const Option& x) { return x.key == o.key; });
      job.options.push_back(o);
    }
    const std::string at = fmt::format("{}:{}: job '{}'", file.source, sec.line, shown(job.name));
    if (!job.filename.empty()) job.nrfiles = static_cast<unsigned>(split(job.filename, ':').size());
    // fio: with filesize and no size, the job's size is filesize per file.
    if (job.size == 0 && job.filesize && __builtin_mul_overflow(job.filesize, job.nrfiles, &job.size))
      return Error{fmt::format("{}: filesize={} x nrfiles={} is too large (16 EiB or more)", at, job.filesize,
                               job.nrfiles)};
    if (job.size == 0 && !(job.time_based && job.runtime.count() > 0))
      return Error{fmt::format("{}: size must be set and greater than 0 (or time_based=1 with a runtime)", at)};
    if (!job.filename.empty()) {
      for (std::string_view f : split(job.filename, ':'))
        if (f.empty()) return Error{fmt::format("{}: filename '{}' has an empty name", at, shown(job.filename))};
      job.nrfiles = static_cast<unsigned>(split(job.filename, ':').size());
    }
    if (job.size && job.nrfiles == 1 && job.filesize == 0 && job.size < job.max_bs())
      return Error{fmt::format("{}: size ({}) is smaller than bs ({})", at, job.size, job.max_bs())};
    if (job.size && job.file_bytes() < job.max_bs())
      return Error{fmt::format("{}: each of the job's {} file(s) gets {} bytes, less than the largest block size ({})",
                               at, job.nrfiles, job.file_bytes(), job.max_bs())};
    if (!job.bssplit.empty() && job.verify != VerifyType::none)
      for (const BsSplit& e : job.bssplit)
        if (e.bs % job.min_bs())
          return Error{fmt::format("{}: with verify, every bssplit size must be a multiple of the smallest ({})", at,
                                   job.min_bs())};
    if (job.verify_interval && job.verify_interval != job.min_bs())
      return Error{fmt::format("{}: verify_interval other than the smallest block size ({}) is not supported", at,
                               job.min_bs())};
    if (job.name.empty()) return Error{fmt::format("{}: name must not be empty", at)};
    for (unsigned c = 0; c < job.numjobs; c++) {
      job.clone = c;
      out.push_back(job);
    }
  }
  return out;
}

}  // namespace guplab::fio
