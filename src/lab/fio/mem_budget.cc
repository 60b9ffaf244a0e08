// mem_budget.cc - the host memory a fio run would take, and its refusal past the limit.
#include "lab/fio/mem_budget.h"

#include <fmt/format.h>
#include <unistd.h>

#include "lab/fio/io_job.h"
#include "lab/fio/units.h"

namespace guplab::fio {

namespace {

std::string bytes(uint64_t n) { return n == UINT64_MAX ? std::string("more than 16 EiB") : num2str(n, 4, 1, true, Unit::byte); }

/** The spec's value of @key ("size" in "ram0,size=1g,depth=4"), or "". */
std::string spec_value(const std::string& spec, const std::string& key) {
  size_t pos = spec.find(',');
  while (pos != std::string::npos) {
    const size_t next = spec.find(',', pos + 1);
    const std::string item = spec.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (item.rfind(key + "=", 0) == 0) return item.substr(key.size() + 1);
    pos = next;
  }
  return {};
}

}  // namespace

uint64_t host_ram_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? sat_mul(static_cast<uint64_t>(pages), static_cast<uint64_t>(page)) : 0;
}

uint64_t default_mem_limit() { return host_ram_bytes() / 2; }

uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t ramdisk_bytes(const std::string& spec) {
  if (spec.rfind("ram", 0) != 0) return 0;
  const auto size = parse_size(spec_value(spec, "size"));
  if (!size) return 0;  // no or a bad size=: blkdev_get_by_path() refuses it later
  uint64_t total = *size;
  if (spec_value(spec, "generations") == "on") total = sat_add(total, sat_mul(*size / 512, 8));
  return total;
}

uint64_t verify_log_bytes(const JobSpec& job) {
  if (job.verify == VerifyType::none || !job.do_verify || !does_write(job.rw)) return 0;
  constexpr uint64_t kEntryBytes = 32;  // a PlannedIo
  return sat_mul(sat_mul(job.size / job.min_bs(), job.loops), kEntryBytes);
}

Result<bool> check_mem_budget(const std::vector<JobSpec>& jobs, const std::vector<TargetPlan>& plans,
                              uint64_t machine_ram, uint64_t limit, bool limit_given, const std::string& device,
                              const std::string& source) {
  // The job that asks for the most buffer memory, to name in a refusal of the machine's RAM.
  const JobSpec* big = nullptr;
  uint64_t big_bytes = 0;
  for (const JobSpec& j : jobs) {
    const uint64_t b = sat_mul(is_sync_engine(j.ioengine) ? 1 : j.iodepth, j.max_bs());
    if (!big || b > big_bytes) big = &j, big_bytes = b;
  }
  if (machine_ram > kMaxMachineRam) {
    return Error{fmt::format("{}:{}: job '{}': iodepth={} x bs={} ({} per process, {} job processes) needs {} of model "
                             "RAM, more than the model's {} arena: lower iodepth, bs or numjobs",
                             source, big ? big->line : 0, big ? big->name : "", big ? big->iodepth : 0, big ? big->max_bs() : 0,
                             bytes(big_bytes), jobs.size(), bytes(machine_ram), bytes(kMaxMachineRam))};
  }
  uint64_t total = machine_ram;
  for (const TargetPlan& t : plans) total = sat_add(total, ramdisk_bytes(t.spec));
  const JobSpec* vlog = nullptr;
  uint64_t vlog_total = 0;
  for (const JobSpec& j : jobs) {
    vlog_total = sat_add(vlog_total, verify_log_bytes(j));
    total = sat_add(total, verify_log_bytes(j));
    if (!vlog || verify_log_bytes(j) > verify_log_bytes(*vlog)) vlog = &j;
  }
  if (total <= limit) return true;
  const std::string raise = limit_given ? fmt::format("the --mem-limit given; the host has {}", bytes(host_ram_bytes()))
                                        : fmt::format("half the host's {}; --mem-limit=SIZE raises it", bytes(host_ram_bytes()));
  if (vlog && vlog_total && (total == UINT64_MAX || total - vlog_total <= limit))  // the logs tip it over
    return Error{fmt::format("{}:{}: job '{}': verify={} keeps a log of the writes to read back, {} for size={} in "
                             "blocks of {}, more than guplab fio may take with the rest ({} in all, limit {}: {})",
                             source, vlog->line, vlog->name, to_string(vlog->verify), bytes(verify_log_bytes(*vlog)),
                             vlog->size, vlog->min_bs(), bytes(total), bytes(limit), raise)};
  const TargetPlan* largest = nullptr;
  for (const TargetPlan& t : plans)
    if (!largest || ramdisk_bytes(t.spec) > ramdisk_bytes(largest->spec)) largest = &t;
  if (largest && !largest->jobs.empty() && ramdisk_bytes(largest->spec) > 0) {
    const JobSpec& j = jobs[largest->jobs.front()];
    const std::string who = device.empty() ? fmt::format("{}:{}: job '{}': offset + size = {}", source, j.line, j.name,
                                                         bytes(largest->need_bytes))
                                           : fmt::format("--device {}", device);
    return Error{fmt::format("{} needs a ramdisk of {} (with {} of model RAM: {} in all), more than the {} of host "
                             "memory guplab fio may take ({})",
                             who, bytes(ramdisk_bytes(largest->spec)), bytes(machine_ram), bytes(total), bytes(limit), raise)};
  }
  return Error{fmt::format("{}: the ramdisks and model RAM of this run need {} of host memory, more than the {} guplab "
                           "fio may take ({})",
                           source, bytes(total), bytes(limit), raise)};
}

}  // namespace guplab::fio
