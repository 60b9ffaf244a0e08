// fio_names.cc - the option names fio has, and what to say about one guplab does not run.
#include "lab/fio/fio_names.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

namespace guplab::fio {
namespace {

// Options of fio 3.33's HOWTO ("Job file parameters"), with their documented aliases.
constexpr std::string_view kFioOptions[] = {
    "allow_file_create", "allow_mounted_write", "allrandrepeat", "atomic", "ba", "blockalign",
    "blocksize", "blocksize_range", "blocksize_unaligned", "bs", "bs_is_seq_rand", "bs_unaligned",
    "bsrange", "bssplit", "buffer_compress_chunk", "buffer_compress_percentage", "buffer_pattern",
    "buffered", "cgroup", "cgroup_nodelete", "cgroup_weight", "clat_percentiles", "clocksource",
    "cmdprio", "cmdprio_class", "cmdprio_percentage", "continue_on_error", "cpumask", "cpus_allowed",
    "cpus_allowed_policy", "create_fsync", "create_on_open", "create_only", "create_serialize",
    "dedupe_mode", "dedupe_percentage", "dedupe_working_set_percentage", "description", "direct",
    "directory", "disable_bw_measurement", "disable_clat", "disable_lat", "disable_slat", "do_verify",
    "end_fsync", "error_dump", "exec_postrun", "exec_prerun", "exitall", "exitall_on_error",
    "experimental_verify", "fadvise_hint", "fallocate", "fdatasync", "file_append", "file_service_type",
    "filename", "filename_format", "filesize", "fill_device", "fill_fs", "fixedbufs", "flow", "flow_id",
    "flow_sleep", "flow_watermark", "fsync", "fsync_on_close", "gid", "group_reporting", "gtod_cpu",
    "gtod_reduce", "hipri", "hugepage-size", "ignore_error", "invalidate", "io_size", "io_limit",
    "io_submit_mode", "iodepth", "iodepth_batch", "iodepth_batch_complete", "iodepth_batch_complete_max",
    "iodepth_batch_complete_min", "iodepth_batch_submit", "iodepth_low", "ioengine", "iolog",
    "iomem", "iomem_align", "ioscheduler", "job_max_open_zones", "kb_base", "lat_percentiles",
    "latency_percentile", "latency_run", "latency_target", "latency_window", "lockfile", "lockmem",
    "log_avg_msec", "log_compression", "log_compression_cpus", "log_entries", "log_hist_coarseness",
    "log_hist_msec", "log_max_value", "log_offset", "log_store_compressed", "log_unix_epoch", "loops",
    "max_latency", "max_open_zones", "mem", "mem_align", "merge_blktrace_file", "name", "new_group",
    "nice", "nonvectored", "norandommap", "nowait", "nrfiles", "number_ios", "numa_cpu_nodes",
    "numa_mem_policy", "numjobs", "offset", "offset_align", "offset_increment", "openfiles", "overwrite",
    "per_job_logs", "percentage_random", "percentile_list", "pre_read", "prio", "prioclass",
    "rate", "rate_cycle", "rate_ignore_thinktime", "rate_iops", "rate_iops_min", "rate_min",
    "rate_process", "ramp_time", "random_distribution", "random_generator", "randrepeat", "randseed",
    "read_beyond_wp", "read_iolog", "readwrite", "refill_buffers", "registerfiles", "replay_align",
    "replay_no_stall", "replay_redirect", "replay_scale", "replay_time_scale", "runtime", "rw",
    "rw_sequencer", "rwmixread", "rwmixwrite", "scramble_buffers", "serialize_overlap",
    "significant_figures", "size", "slat_percentiles", "softrandommap", "sqthread_poll",
    "sqthread_poll_cpu", "ss", "ss_dur", "ss_ramp", "startdelay", "stats", "steadystate",
    "steadystate_duration", "steadystate_ramp_time", "stonewall", "sync", "sync_file_range",
    "thinktime", "thinktime_blocks", "thinktime_blocks_type", "thinktime_iotime", "thinktime_spin",
    "thread", "time_based", "timeout", "trim_backlog", "trim_backlog_batch", "trim_percentage",
    "trim_verify_zero", "uid", "unified_rw_reporting", "unique_filename", "unit_base", "unlink",
    "unlink_each_loop", "userspace_reap", "verify", "verify_async", "verify_async_cpus",
    "verify_backlog", "verify_backlog_batch", "verify_dump", "verify_fatal", "verify_interval",
    "verify_offset", "verify_only", "verify_pattern", "verify_state_load", "verify_state_save",
    "wait_for", "wait_for_previous", "write_barrier", "write_bw_log", "write_hist_log",
    "write_iolog", "write_iops_log", "write_lat_log", "zero_buffers", "zonecapacity", "zonemode",
    "zonerange", "zonesize", "zoneskip",
};

// verify= values of fio 3.33's HOWTO.
constexpr std::string_view kFioVerify[] = {
    "0", "none", "md5", "crc64", "crc32c", "crc32c-intel", "crc32", "crc16", "crc7", "xxhash", "sha512",
    "sha256", "sha1", "sha3-224", "sha3-256", "sha3-384", "sha3-512", "meta", "pattern", "null",
};

// ioengine= names of fio 3.33's HOWTO ("I/O engine"), whether or not a build has them.
constexpr std::string_view kFioEngines[] = {
    "sync", "psync", "vsync", "pvsync", "pvsync2", "io_uring", "io_uring_cmd", "libaio", "posixaio",
    "solarisaio", "windowsaio", "mmap", "splice", "sg", "libzbc", "null", "net", "netsplice", "cpuio",
    "rdma", "falloc", "ftruncate", "e4defrag", "rados", "rbd", "http", "gfapi", "gfapi_async", "libhdfs",
    "mtd", "dev-dax", "external", "filecreate", "filestat", "filedelete", "dircreate", "dirstat",
    "dirdelete", "libpmem", "ime_psync", "ime_psyncv", "ime_aio", "libiscsi", "nbd", "libcufile", "dfs",
    "nfs", "exec", "xnvme", "libblkio",
};

/** Edit distance of @a and @b, stopping early past @limit (returns limit + 1 then). */
size_t edit_distance(std::string_view a, std::string_view b, size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

bool is_fio_verify(std::string_view v) {
  return std::find(std::begin(kFioVerify), std::end(kFioVerify), v) != std::end(kFioVerify);
}

bool is_fio_engine(std::string_view e) {
  if (e.rfind("external:", 0) == 0) return true;  // fio's ioengine=external:/path/to/engine.so
  return std::find(std::begin(kFioEngines), std::end(kFioEngines), e) != std::end(kFioEngines);
}

bool is_fio_option(std::string_view key) {
  return std::find(std::begin(kFioOptions), std::end(kFioOptions), key) != std::end(kFioOptions);
}

std::string unknown_option_why(std::string_view key, std::string_view supported) {
  if (is_fio_option(key)) return fmt::format("fio has this option, but guplab does not support it (guplab runs: {})", supported);
  std::string best;
  size_t best_d = 3;
  std::string_view rest = supported;
  while (!rest.empty()) {
    const size_t comma = rest.find(", ");
    const std::string_view name = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
    const size_t d = edit_distance(key, name, 2);
    if (d < best_d) {
      best_d = d;
      best = name;
    }
  }
  if (!best.empty()) return fmt::format("fio has no such option; did you mean '{}'?", best);
  return "fio has no such option";
}

}  // namespace guplab::fio
